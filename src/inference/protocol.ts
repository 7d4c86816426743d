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

/**
 * A batch of token sequences, concatenated; `lengths[i]` tokens belong to text i.
 * The run holding text 0 goes first, so the text that anchored the batch is answered soonest.
 */
export interface BatchRequest {
  id: number;
  ids: Int32Array;
  lengths: Int32Array;
  /** Per text, leading tokens (a prompt) the pooling leaves out; none when absent. */
  skips?: Int32Array;
}

/** Pooled vectors of some of a batch's texts, sent after each model run. */
export interface PooledRows {
  /** The batch rows (texts) these vectors belong to, in order. */
  rows: Int32Array;
  /** Their vectors, one after another. */
  embeddings: Float32Array;
  /** Width of one text's vector. */
  dimensions: number;
  /** Tokens the run computed, padding included: its inputs × its longest. */
  paddedTokens: number;
  /** Seconds the run spent in session.run. */
  runSeconds: number;
}

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'fatal'; message: string }
  /** `last`: the batch's final run. */
  | ({ kind: 'rows'; id: number; last: boolean } & PooledRows)
  | { kind: 'failed'; id: number; message: string };
