import type { InferenceSession } from 'onnxruntime-node';

/**
 * ONNX Runtime settings shared by the inference workers and the benchmark's in-process ceiling.
 * `memoryArena: false` gives each run's memory back when it ends. ONNX Runtime's CPU arena keeps
 * the largest run's memory for good: one 8000-token input to a MiniLM-L6-shaped fp32 graph peaks
 * at 6.4 GB and the arena kept 6.8 GB after it, per worker; without the arena the worker was back
 * at 0.55 GB. Runs of up to 512 tokens were as fast either way (1×12, 32×16, 8×64 tokens: within
 * ±5%, alternating); long runs are slower without it, most the first at each length (fresh pages
 * for every large tensor): 2048 tokens 1.07–1.19 s with it against 1.43–3.0 s, 1536 tokens
 * 0.68–0.81 s against 0.78–1.81 s (MiniLM-L6-shaped, single thread, alternating), a first
 * 8000-token run 31 s against 63 s. The plan keeps it where memory allows (capacity.ts).
 */
export function sessionOptions(intraOpThreads: number, memoryArena = true): InferenceSession.SessionOptions {
  return {
    enableCpuMemArena: memoryArena,
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}
