import type { HeadSpec } from '../heads/head-spec.ts';
import type { Int8Ranges } from '../output/quantize.ts';

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
  /** Texts (calibration-texts.ts) whose pooled vectors set the int8/uint8 ranges, run at start in fixed runs: every worker gets the same ranges. */
  calibration?: { ids: Int32Array; lengths: Int32Array };
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
  /** sparse: the non-zeros kept, the largest (SparseEncoder's max_active_dims); 0 keeps all. */
  maxActiveDims?: Int32Array;
  /** pooled: the formats of the vector (quantize.ts' formatBits), all in its one blob; 0 (or absent): one float vector, as `base64` says. */
  formats?: Uint16Array;
  /** pooled: whether to L2-normalise (NORMALIZE_*; absent: as the model does). */
  normalize?: Uint8Array;
  /** pooled: how many spans of the row are pooled each on its own (late chunking), one vector each; 0 (or absent) pools the row whole. */
  spanCounts?: Int32Array;
  /** pooled: the spans' [start, end) token pairs, the rows' in row order (row i's from 2 × the spans of the rows before it). */
  spanBounds?: Int32Array;
  /** token-vectors: 1 leaves out the tokens of the head's skiplist (a ColBERT document); none when absent. */
  dropSkiplist?: Uint8Array;
}

/** RowOptions.normalize: as the model's Normalize module says, or as the request asks. */
export const NORMALIZE_AS_MODEL = 0;
export const NORMALIZE_ON = 1;
export const NORMALIZE_OFF = 2;

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
  /** Per text, leading tokens the attention sees (a ColBERT query's expansion tokens after them are computed, unseen); all when absent. */
  attended?: Int32Array;
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
  /** `int8Ranges`: the pooled head's, for the full vector as the model normalises it (shown in GET /models/{id}). */
  | { kind: 'ready'; int8Ranges?: Int8Ranges }
  | { kind: 'fatal'; message: string }
  /** The batch's last run is starting and is short: the worker can be sent its next batch now (it waits in its queue). */
  | { kind: 'finishing'; id: number }
  /** `last`: the batch's final run. */
  | ({ kind: 'rows'; id: number; last: boolean } & RunRows)
  | { kind: 'failed'; id: number; message: string };

/** The buffers of a message's head outputs, to transfer. */
export const transfers = (outputs: HeadRows[]): ArrayBuffer[] => outputs.flatMap(({ rows, bytes, ends }) => [rows.buffer, bytes.buffer, ends.buffer] as ArrayBuffer[]);
