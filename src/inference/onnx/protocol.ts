import type { HeadSetup } from '../heads/embedding-head.ts';

/** What the main thread hands an inference worker at start: the graph, and the modules after it (embedding-head.ts). */
export interface WorkerSetup extends HeadSetup {
  onnxPath: string;
  intraOpThreads: number;
  /** ONNX Runtime's CPU arena (see session-options.ts): off for models whose inputs may run longer than a batch's run. */
  memoryArena: boolean;
  padId: number;
  /** Vectors are L2-normalised (after any truncation to fewer dimensions), as the model's Normalize module does. */
  normalize: boolean;
  /** The fixed cost of one model run in token-times (see sub-batches.ts); measured at start when absent. */
  overheadTokens?: number;
}

/** Asks the worker to release its session and exit. */
export interface CloseRequest {
  close: true;
}

/**
 * A batch of token sequences, concatenated; `lengths[i]` tokens belong to text i, and each
 * text's vector comes back as its request asked. The run holding text 0 goes first, so the
 * text that anchored the batch is answered soonest.
 */
export interface BatchTexts {
  ids: Int32Array;
  /** Token types, laid out as `ids` (a cross-encoder's pairs); all 0 when absent. */
  typeIds?: Int32Array;
  lengths: Int32Array;
  /** Per text, leading tokens (a prompt) the pooling leaves out; none when absent. */
  skips?: Int32Array;
  /** Per text, the leading dimensions kept (then normalised, if the model normalises); 0 keeps all. */
  dimensions: Int32Array;
  /** Per text, 1 for a base64 vector, 0 for an array of numbers (see vector-text.ts). */
  base64: Uint8Array;
}

export interface BatchRequest extends BatchTexts {
  id: number;
}

/**
 * Vectors of some of a batch's texts, sent after each model run as JSON text: serialising
 * them here, on the inference threads, keeps that work off the HTTP thread.
 */
export interface PooledRows {
  /** The batch rows (texts) these vectors belong to, in order. */
  rows: Int32Array;
  /** Their vectors as JSON text (ASCII), back to back; row r's ends at `ends[r]`. */
  json: Uint8Array;
  ends: Int32Array;
  /** Tokens the run computed, padding included: its inputs × its longest. */
  paddedTokens: number;
  /** Seconds the run spent in session.run. */
  runSeconds: number;
}

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'fatal'; message: string }
  /** The batch's last run is starting and is short: the worker can be sent its next batch now (it waits in its queue). */
  | { kind: 'finishing'; id: number }
  /** `last`: the batch's final run. */
  | ({ kind: 'rows'; id: number; last: boolean } & PooledRows)
  | { kind: 'failed'; id: number; message: string };
