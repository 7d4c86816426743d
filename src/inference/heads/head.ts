import type ort from 'onnxruntime-node';
import { float16ToFloat32 } from '../files/half-float.ts';
import type { RowOptions } from '../onnx/protocol.ts';
import type { BlobWriter } from '../output/blob-writer.ts';
import type { Int8Ranges } from '../output/quantize.ts';

/** A run's fetched outputs, by name. */
export type RunOutputs = Record<string, ort.Tensor>;

/** A head in the inference worker: turns a run's outputs into one blob per row that wants it. */
export interface Head {
  /** The graph outputs it reads (a run fetches the union of its rows' heads'). */
  readonly outputNames: readonly string[];
  /** Its blobs are written here, then taken after each run. */
  readonly writer: BlobWriter;
  /** Once per run before its rows are written: work on the whole run (a second graph), its tensors added to `outputs` (disposed with them). */
  prepare?(outputs: RunOutputs): Promise<void>;
  /**
   * Writes the blob of the run's row `r`: the batch's row `row`, `length` real tokens (from `ids[offset]`), the first
   * `skip` left out of any pooling, `options` the batch's per-row options.
   */
  write(outputs: RunOutputs, r: number, row: number, length: number, skip: number, options: RowOptions, ids: Int32Array, offset: number): void;
  /** pooled: takes a calibration run's rows (`lengths[r]` real tokens each) into its int8/uint8 ranges. */
  calibrate?(outputs: RunOutputs, lengths: number[]): void;
  /** pooled, once calibrated: the ranges of its full vector as the model normalises it. */
  int8Ranges?(): Int8Ranges | undefined;
}

/** A float output's values as float32 (fp16 graphs give float16). */
export function floats(output: ort.Tensor): Float32Array {
  if (output.type === 'float32') return output.data as Float32Array;
  if (output.type === 'float16') return float16ToFloat32(output.data as Uint16Array);
  throw new Error(`the graph's output is ${output.type}, not float32 or float16`);
}
