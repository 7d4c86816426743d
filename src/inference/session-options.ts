import type { InferenceSession } from 'onnxruntime-node';

/** ONNX Runtime settings shared by the inference workers and the benchmark's in-process ceiling. */
export function sessionOptions(intraOpThreads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}
