/**
 * sentence-transformers' SparseStaticEmbedding (the query side of an inference-free sparse model):
 * each distinct token of the text, tokenised without special tokens, weighs what its entry of the
 * module's weight vector says; entries of weight 0 are left out. No graph runs.
 */
import { nonZeros, type SparseVector } from './splade.ts';

export function staticSparse(ids: ArrayLike<number>, weights: Float32Array): SparseVector {
  const present = new Map<number, number>();
  for (let t = 0; t < ids.length; t++) present.set(ids[t]!, weights[ids[t]!] ?? 0);
  const sorted = [...present.keys()].sort((a, b) => a - b);
  const vector = nonZeros(sorted.map((id) => present.get(id)!));
  return { indices: Int32Array.from(vector.indices, (at) => sorted[at]!), values: vector.values };
}
