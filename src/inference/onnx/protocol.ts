import type { HeadSpec } from '../heads/head-spec.ts';

/** What the main thread hands an inference worker at start: the graph, and the heads after it (heads/create-head.ts). */
export interface WorkerSetup {
  onnxPath: string;
  intraOpThreads: number;
  /** ONNX Runtime's CPU arena (see session-options.ts): off for models whose inputs may run longer than a batch's run. */
  memoryArena: boolean;
  padId: number;
  /** The model's heads; a batch row names those it wants by their index here. */
  heads: HeadSpec[];
  /** The fixed cost of one model run in token-times (see sub-batches.ts); measured at start when absent. */
  overheadTokens?: number;
}

/** Asks the worker to release its session and exit. */
export interface CloseRequest {
  close: true;
}

/** Per row of a batch, the options of the heads it wants, one typed array per option (row i's at [i]). */
export interface RowOptions {
  /** pooled: the leading dimensions kept (then normalised, if the model normalises); 0 keeps all. */
  dimensions: Int32Array;
  /** pooled: 1 for a base64 vector, 0 for an array of numbers (see vector-text.ts). */
  base64: Uint8Array;
}

/**
 * A batch of token sequences, concatenated; `lengths[i]` tokens belong to text i, and text i gets a blob from each
 * head it wants. The run holding text 0 goes first, so the text that anchored the batch is answered soonest.
 */
export interface BatchTexts {
  ids: Int32Array;
  /** Token types, laid out as `ids` (a cross-encoder's pairs); all 0 when absent. */
  typeIds?: Int32Array;
  lengths: Int32Array;
  /** Per text, leading tokens (a prompt) the pooling leaves out; none when absent. */
  skips?: Int32Array;
  /** Per text, the heads it wants: bit h for the setup's heads[h]. */
  heads: Uint8Array;
  options: RowOptions;
}

export interface BatchRequest extends BatchTexts {
  id: number;
}

/** One head's blobs for some rows of a batch: row rows[r]'s blob ends at ends[r] in `bytes` (its kind says what it holds). */
export interface HeadRows {
  /** The head's index in the setup's heads. */
  head: number;
  rows: Int32Array;
  bytes: Uint8Array;
  ends: Int32Array;
}

/**
 * What one model run computed for some of a batch's rows, sent as soon as it finishes: each head's output written
 * here, on the inference threads, keeps that work off the HTTP thread.
 */
export interface RunRows {
  /** Per head that some row of the run wants. */
  outputs: HeadRows[];
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
  | ({ kind: 'rows'; id: number; last: boolean } & RunRows)
  | { kind: 'failed'; id: number; message: string };

/** The buffers of a message's head outputs, to transfer. */
export const transfers = (outputs: HeadRows[]): ArrayBuffer[] => outputs.flatMap(({ rows, bytes, ends }) => [rows.buffer, bytes.buffer, ends.buffer] as ArrayBuffer[]);
