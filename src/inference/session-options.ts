import type { InferenceSession } from 'onnxruntime-node';

/**
 * ONNX Runtime settings shared by the inference workers and the benchmark's in-process ceiling.
 * `memoryArena: false` gives each run's memory back when it ends. ONNX Runtime's CPU arena keeps
 * the largest run's memory for good: one 8000-token input to a MiniLM-L6-shaped fp32 graph peaks
 * at 6.4 GB and the arena kept 6.8 GB after it, per worker; without the arena the worker was back
 * at 0.55 GB. Runs of up to 512 tokens were as fast either way (1×12, 32×16, 8×64 tokens: within
 * ±5%, alternating), repeated 2048-token runs faster without it (1.33 s against 1.87 s), and a
 * first 8000-token run slower (63 s against 31 s, single thread).
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
