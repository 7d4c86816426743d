import type { PoolingMode } from './pooling.ts';

/** What the main thread hands an inference worker at start. */
export interface WorkerSetup {
  onnxPath: string;
  intraOpThreads: number;
  poolingModes: PoolingMode[];
  padId: number;
  /** The fixed cost of one model run in token-times (see sub-batches.ts); measured at start when absent. */
  overheadTokens?: number;
}

/** Asks the worker to release its session and exit. */
export interface CloseRequest {
  close: true;
}

/** A batch of token sequences, concatenated; `lengths[i]` tokens belong to text i. */
export interface BatchRequest {
  id: number;
  ids: Int32Array;
  lengths: Int32Array;
}

export interface PooledBatch {
  /** Pooled vectors of the batch's texts, one after another. */
  embeddings: Float32Array;
  /** Width of one text's vector. */
  dimensions: number;
  /** Tokens the model computed, padding included: each run's inputs × its longest. */
  paddedTokens: number;
}

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'fatal'; message: string }
  | ({ kind: 'result'; id: number } & PooledBatch)
  | { kind: 'failed'; id: number; message: string };
