import type ort from 'onnxruntime-node';
import { float16ToFloat32 } from '../files/half-float.ts';
import type { RowOptions } from '../onnx/protocol.ts';
import type { BlobWriter } from '../output/blob-writer.ts';

/** A run's fetched outputs, by name. */
export type RunOutputs = Record<string, ort.Tensor>;

/** A head in the inference worker: turns a run's outputs into one blob per row that wants it. */
export interface Head {
  /** The graph outputs it reads (a run fetches the union of its rows' heads'). */
  readonly outputNames: readonly string[];
  /** Its blobs are written here, then taken after each run. */
  readonly writer: BlobWriter;
  /**
   * Writes the blob of the run's row `r`: the batch's row `row`, `length` real tokens, the first `skip` left out of
   * any pooling, `options` the batch's per-row options.
   */
  write(outputs: RunOutputs, r: number, row: number, length: number, skip: number, options: RowOptions): void;
}

/** A float output's values as float32 (fp16 graphs give float16). */
export function floats(output: ort.Tensor): Float32Array {
  if (output.type === 'float32') return output.data as Float32Array;
  if (output.type === 'float16') return float16ToFloat32(output.data as Uint16Array);
  throw new Error(`the graph's output is ${output.type}, not float32 or float16`);
}
