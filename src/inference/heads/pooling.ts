/**
 * sentence-transformers' Pooling module. Several modes may be on at once; their
 * vectors are concatenated in sentence-transformers' order.
 */
export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

/**
 * Pools one text's token vectors. `hidden` holds a padded batch row-major
 * [batch, seqLen, width]; the text is row `row` with `length` real tokens. The first
 * `skip` tokens are left out as sentence-transformers masks a prompt with include_prompt
 * false (attention_mask[:, :prompt_length] = 0): every mode but cls, which reads token 0 whatever the mask.
 */
export function poolText(
  hidden: Float32Array,
  row: number,
  seqLen: number,
  width: number,
  length: number,
  modes: readonly PoolingMode[],
  out: Float32Array,
  skip = 0,
): void {
  const base = row * seqLen * width;
  const first = Math.min(skip, length - 1);
  const counted = length - first;
  modes.forEach((mode, m) => {
    const target = out.subarray(m * width, (m + 1) * width);
    switch (mode) {
      case 'cls':
        target.set(hidden.subarray(base, base + width));
        return;
      case 'lasttoken':
        target.set(hidden.subarray(base + (length - 1) * width, base + length * width));
        return;
      case 'max': {
        target.fill(-Infinity);
        for (let t = first, i = base + first * width; t < length; t++) {
          for (let d = 0; d < width; d++, i++) target[d] = Math.max(target[d]!, hidden[i]!);
        }
        return;
      }
      default: {
        const sums = columnSums(hidden, base + first * width, length - first, width, mode === 'weightedmean' ? first + 1 : 0);
        const divisor = mode === 'mean' ? counted : mode === 'mean_sqrt_len' ? Math.sqrt(counted) : (length * (length + 1) - first * (first + 1)) / 2;
        for (let d = 0; d < width; d++) target[d] = sums[d]! / divisor;
      }
    }
  });
}

/**
 * Per dimension, the float64 sum over `tokens` token vectors from `start`, each weighted by
 * its position (`firstWeight`, then one more per token; 0: unweighted). Every column is summed
 * in token order, the order the vectors' last bits depend on. Four columns at a time down the
 * tokens, in locals: ~4× faster in V8 than adding each token's row into an array.
 */
function columnSums(hidden: Float32Array, start: number, tokens: number, width: number, firstWeight: number): Float64Array {
  const sums = new Float64Array(width);
  const end = start + tokens * width;
  let d = 0;
  for (; d + 4 <= width; d += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = start + d, weight = firstWeight || 1; i < end; i += width, weight += firstWeight ? 1 : 0) {
      s0 += weight * hidden[i]!;
      s1 += weight * hidden[i + 1]!;
      s2 += weight * hidden[i + 2]!;
      s3 += weight * hidden[i + 3]!;
    }
    sums[d] = s0;
    sums[d + 1] = s1;
    sums[d + 2] = s2;
    sums[d + 3] = s3;
  }
  for (; d < width; d++) {
    for (let i = start + d, weight = firstWeight || 1; i < end; i += width, weight += firstWeight ? 1 : 0) sums[d]! += weight * hidden[i]!;
  }
  return sums;
}

/** Divides by the L2 norm in place (torch.nn.functional.normalize, eps 1e-12). */
export function normalizeInPlace(vector: Float32Array): Float32Array {
  let sumSquares = 0;
  for (const x of vector) sumSquares += x * x;
  const norm = Math.max(Math.sqrt(sumSquares), 1e-12);
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}
