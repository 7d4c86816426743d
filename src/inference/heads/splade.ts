/**
 * sentence-transformers' SpladePooling over a masked-language model's logits, and SparseEncoder's
 * `max_active_dims`: per vocabulary entry, the max (or sum) over a text's tokens of
 * log1p(relu(logit)) (`log1p_relu`: log1p once more), padding left out; then only the non-zero
 * entries, the k largest when asked. Only a text's non-zeros leave the worker.
 */
export const SPLADE_POOLING = ['max', 'sum'] as const;
export type SpladePoolingStrategy = (typeof SPLADE_POOLING)[number];
export const SPLADE_ACTIVATIONS = ['relu', 'log1p_relu'] as const;
export type SpladeActivation = (typeof SPLADE_ACTIVATIONS)[number];

export interface SpladeOptions {
  pooling: SpladePoolingStrategy;
  activation: SpladeActivation;
}

/** A sparse vector: token ids ascending, each with its non-zero weight. */
export interface SparseVector {
  indices: Int32Array;
  values: Float32Array;
}

const weightOf = (logit: number, activation: SpladeActivation) => {
  if (!(logit > 0)) return 0;
  const once = Math.log1p(logit);
  return activation === 'log1p_relu' ? Math.log1p(once) : once;
};

/**
 * Row `row`'s sparse vector from a run's logits, row-major [batch, seqLen, vocab], the text's
 * `length` real tokens first. Max pooling takes each entry's largest logit and transforms it once
 * (spladeFromMaxLogits); sum pooling transforms each positive logit and adds in float64.
 */
export function spladeRow(logits: Float32Array, row: number, seqLen: number, vocab: number, length: number, options: SpladeOptions): SparseVector {
  const base = row * seqLen * vocab;
  if (options.pooling === 'max') {
    const largest = new Float32Array(vocab);
    for (let t = 0, i = base; t < length; t++) {
      for (let v = 0; v < vocab; v++, i++) if (logits[i]! > largest[v]!) largest[v] = logits[i]!;
    }
    return spladeFromMaxLogits(largest, 0, vocab, options.activation);
  }
  const pooled = new Float64Array(vocab);
  for (let t = 0, i = base; t < length; t++) {
    for (let v = 0; v < vocab; v++, i++) if (logits[i]! > 0) pooled[v]! += weightOf(logits[i]!, options.activation);
  }
  return nonZeros(pooled);
}

/**
 * Max pooling's sparse vector from each vocabulary entry's largest logit over the text's tokens (row `row` of
 * [batch, vocab]: the graph's own pooling, splade-max-graph.ts, or spladeRow's): the transform is monotone, so the
 * transformed maximum is the maximum of the transformed logits.
 */
export function spladeFromMaxLogits(largest: Float32Array, row: number, vocab: number, activation: SpladeActivation): SparseVector {
  const entries = largest.subarray(row * vocab, (row + 1) * vocab);
  let count = 0;
  for (let v = 0; v < vocab; v++) if (entries[v]! > 0) count++;
  const indices = new Int32Array(count);
  const values = new Float32Array(count);
  for (let v = 0, k = 0; v < vocab; v++) {
    if (!(entries[v]! > 0)) continue;
    indices[k] = v;
    values[k++] = weightOf(entries[v]!, activation);
  }
  return { indices, values };
}

/** The non-zero entries of a dense weight vector, ids ascending. */
export function nonZeros(weights: ArrayLike<number>): SparseVector {
  let count = 0;
  for (let v = 0; v < weights.length; v++) if (weights[v] !== 0) count++;
  const indices = new Int32Array(count);
  const values = new Float32Array(count);
  for (let v = 0, k = 0; v < weights.length; v++) {
    if (weights[v] === 0) continue;
    indices[k] = v;
    values[k++] = weights[v]!;
  }
  return { indices, values };
}

/**
 * SparseEncoder's `max_active_dims`: the k entries largest in magnitude, ids still ascending
 * (select_max_active_dims; among equal weights at the cut, the lower ids stay). 0 keeps all.
 */
export function keepLargest(vector: SparseVector, k: number): SparseVector {
  if (k <= 0 || vector.indices.length <= k) return vector;
  const order = Array.from(vector.indices.keys()).sort((a, b) => Math.abs(vector.values[b]!) - Math.abs(vector.values[a]!) || a - b);
  const kept = order.slice(0, k).sort((a, b) => a - b);
  return { indices: Int32Array.from(kept, (at) => vector.indices[at]!), values: Float32Array.from(kept, (at) => vector.values[at]!) };
}
