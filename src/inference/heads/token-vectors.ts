/**
 * The token-vectors head (late interaction: PyLate's ColBERT, bge-m3's colbert head): per row, the
 * token states it keeps, each through the Dense layers and L2-normalised. A row's blob is its
 * vectors as float32 rows back to back, `width` floats each.
 */
import type ort from 'onnxruntime-node';
import { applyDense, loadDense, type LoadedDense } from './dense.ts';
import type { TokenVectorsHeadSpec } from './head-spec.ts';
import { floats, type Head } from './head.ts';
import { BlobWriter } from '../output/blob-writer.ts';
import { tokenOutputOf } from './pooled-head.ts';
import { normalizeInPlace } from './pooling.ts';

/**
 * Which of a row's positions give vectors: a document keeps its tokens less those in the skiplist
 * (`skiplist` ascending); a query keeps all of its tokens, expansion tokens included.
 */
export function keptPositions(ids: Int32Array, dropSkiplist: boolean, skiplist: Int32Array): number[] {
  const kept: number[] = [];
  for (let position = 0; position < ids.length; position++) {
    if (!dropSkiplist || !inSorted(skiplist, ids[position]!)) kept.push(position);
  }
  return kept;
}

function inSorted(sorted: Int32Array, value: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (sorted[middle] === value) return true;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/**
 * Row `row`'s vectors from token states `[batch, seqLen, hidden]`: the states at `positions`, each
 * through `dense` and normalised; `width` is the last layer's output (hidden without layers).
 */
export function tokenVectorRows(states: Float32Array, row: number, seqLen: number, hidden: number, positions: number[], dense: LoadedDense[], normalize = true): Float32Array {
  const width = dense.at(-1)?.layer.outFeatures ?? hidden;
  const rows = new Float32Array(positions.length * width);
  positions.forEach((position, index) => {
    const start = (row * seqLen + position) * hidden;
    const state = states.subarray(start, start + hidden);
    const vector = dense.length > 0 ? applyDense(dense, state) : Float32Array.from(state);
    rows.set(normalize ? normalizeInPlace(vector) : vector, index * width);
  });
  return rows;
}

export async function tokenVectorsHead(session: ort.InferenceSession, spec: TokenVectorsHeadSpec): Promise<Head> {
  const outputName = tokenOutputOf(session);
  if (!outputName) throw new Error(`the ONNX graph has no token output (last_hidden_state, token_embeddings) for vectors per token; its outputs: ${session.outputNames.join(', ')}`);
  const dense = await Promise.all(spec.dense.map(loadDense));
  const writer = new BlobWriter();
  // One decoded copy per run, however many rows read it.
  let decoded: { tensor: ort.Tensor; data: Float32Array } | undefined;
  return {
    outputNames: [outputName],
    writer,
    write(outputs, r, row, length, _skip, { dropSkiplist }, ids, offset) {
      const output = outputs[outputName]!;
      if (decoded?.tensor !== output) decoded = { tensor: output, data: floats(output) };
      const [, seqLen, hidden] = output.dims as [number, number, number];
      if (hidden !== (dense[0]?.layer.inFeatures ?? spec.width)) throw new Error(`the graph's ${outputName} is ${hidden} wide; the configs say ${dense[0]?.layer.inFeatures ?? spec.width}`);
      const positions = keptPositions(ids.subarray(offset, offset + length), dropSkiplist?.[row] === 1, spec.skiplist);
      writer.addFloat32(tokenVectorRows(decoded.data, r, seqLen, hidden, positions, dense, spec.normalize));
    },
  };
}
