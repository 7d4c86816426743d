/**
 * bge-m3's sparse and ColBERT heads, as FlagEmbedding's BGEM3FlagModel.encode computes them, on
 * one text of a run (`length` real tokens, row `row` of a [batch, seqLen, width] output):
 * - sparse: each token's weight relu(w · h + b); per token id the largest, only those above 0, the
 *   cls/eos/pad/unk ids left out (`_process_token_weights`);
 * - ColBERT: W h + b for the tokens after CLS (`colbert_linear(last_hidden_state[:, 1:])`, run by ONNX Runtime:
 *   linear-graph.ts), the text's own (`[:tokens_num - 1]`), each L2-normalised (F.normalize, eps 1e-12).
 * The dense output is the CLS token's state, normalised: Pooling `cls` and Normalize.
 * Sums are in float64, results float32, as the other heads here.
 */
import type { Linear } from '../files/bge-m3.ts';

/** A sparse vector: ascending token ids and their weights (only non-zeros). */
export interface SparseVector {
  indices: Int32Array;
  values: Float32Array;
}

const NORMALIZE_EPSILON = 1e-12;

/** Per token id the largest weight above 0 of the text's tokens, the dropped ids left out. */
export function sparseFromTokenWeights(ids: ArrayLike<number>, weightOf: (token: number) => number, length: number, dropped: ReadonlySet<number>): SparseVector {
  const best = new Map<number, number>();
  for (let token = 0; token < length; token++) {
    const id = ids[token]!;
    if (dropped.has(id)) continue;
    const weight = weightOf(token);
    if (weight > 0 && weight > (best.get(id) ?? 0)) best.set(id, weight);
  }
  const sorted = [...best.keys()].sort((a, b) => a - b);
  return { indices: Int32Array.from(sorted), values: Float32Array.from(sorted, (id) => best.get(id)!) };
}

/** The sparse head on token states: relu(w · h_t + b), rounded to float32 as torch computes it. */
export function sparseFromTokenStates(
  states: Float32Array, row: number, seqLen: number, width: number, ids: ArrayLike<number>, length: number, sparse: Linear, dropped: ReadonlySet<number>,
): SparseVector {
  const { weight, bias } = sparse;
  return sparseFromTokenWeights(
    ids,
    (token) => {
      const at = (row * seqLen + token) * width;
      let sum = bias[0]!;
      for (let i = 0; i < width; i++) sum += weight[i]! * states[at + i]!;
      return Math.fround(Math.max(0, sum));
    },
    length,
    dropped,
  );
}

/** Each of `rows` vectors of `width` floats, back to back, L2-normalised in place. */
export function normalizeRows(vectors: Float32Array, width: number): Float32Array {
  for (let at = 0; at < vectors.length; at += width) {
    let sum = 0;
    for (let i = at; i < at + width; i++) sum += vectors[i]! * vectors[i]!;
    const scale = 1 / Math.max(Math.sqrt(sum), NORMALIZE_EPSILON);
    for (let i = at; i < at + width; i++) vectors[i] = vectors[i]! * scale;
  }
  return vectors;
}

/**
 * ColBERT vectors from a [batch, perRow, width] output: row `row`'s `count` vectors from position `first`, normalised (a
 * copy). The colbert_linear projection of token states starts at CLS (first 1); an all-in-one graph's colbert_vecs
 * after it (first 0). A text of `length` tokens has `length − 1`.
 */
export function colbertRows(output: Float32Array, row: number, perRow: number, width: number, first: number, count: number): Float32Array {
  const start = (row * perRow + first) * width;
  return normalizeRows(output.slice(start, start + Math.max(0, count) * width), width);
}
