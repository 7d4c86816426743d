/**
 * The token-vectors head (late interaction: PyLate's ColBERT, bge-m3's colbert head): per row, the
 * token states it keeps, each through the Dense layers and L2-normalised. A row's blob is its
 * vectors as float32 rows back to back, `width` floats each.
 */
import { applyDense, type LoadedDense } from './dense.ts';
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
export function tokenVectorRows(states: Float32Array, row: number, seqLen: number, hidden: number, positions: number[], dense: LoadedDense[]): Float32Array {
  const width = dense.at(-1)?.layer.outFeatures ?? hidden;
  const rows = new Float32Array(positions.length * width);
  positions.forEach((position, index) => {
    const start = (row * seqLen + position) * hidden;
    const state = states.subarray(start, start + hidden);
    const vector = dense.length > 0 ? applyDense(dense, state) : Float32Array.from(state);
    rows.set(normalizeInPlace(vector), index * width);
  });
  return rows;
}
