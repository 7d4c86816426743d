/**
 * sentence-transformers' Pooling module. Several modes may be on at once; their
 * vectors are concatenated in sentence-transformers' order.
 */
export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

const CONFIG_KEYS: Record<PoolingMode, string> = {
  cls: 'pooling_mode_cls_token',
  max: 'pooling_mode_max_tokens',
  mean: 'pooling_mode_mean_tokens',
  mean_sqrt_len: 'pooling_mode_mean_sqrt_len_tokens',
  weightedmean: 'pooling_mode_weightedmean_tokens',
  lasttoken: 'pooling_mode_lasttoken',
};

/** Reads `1_Pooling/config.json`; a model without one is mean-pooled, as sentence-transformers does. */
export function poolingModesFromConfig(config: Record<string, unknown> | undefined): PoolingMode[] {
  if (!config) return ['mean'];
  const modes = POOLING_MODES.filter((mode) => config[CONFIG_KEYS[mode]] === true);
  if (modes.length === 0) throw new Error('the pooling config enables no pooling mode');
  return modes;
}

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
  const tokens = (from: number, to: number) => hidden.subarray(row * seqLen * width + from * width, row * seqLen * width + to * width);
  const first = Math.min(skip, length - 1);
  const counted = length - first;
  modes.forEach((mode, m) => {
    const target = out.subarray(m * width, (m + 1) * width);
    switch (mode) {
      case 'cls':
        target.set(tokens(0, 1));
        return;
      case 'lasttoken':
        target.set(tokens(length - 1, length));
        return;
      case 'max': {
        const all = tokens(first, length);
        target.fill(-Infinity);
        for (let i = 0; i < all.length; i++) target[i % width] = Math.max(target[i % width]!, all[i]!);
        return;
      }
      default: {
        const sums = new Float64Array(width);
        const all = tokens(first, length);
        const weighted = mode === 'weightedmean';
        // weightedmean weighs token t by its position t + 1, masked tokens by 0.
        for (let t = first, i = 0; t < length; t++) {
          const weight = weighted ? t + 1 : 1;
          for (let d = 0; d < width; d++, i++) sums[d]! += weight * all[i]!;
        }
        const divisor = mode === 'mean' ? counted : mode === 'mean_sqrt_len' ? Math.sqrt(counted) : (length * (length + 1) - first * (first + 1)) / 2;
        for (let d = 0; d < width; d++) target[d] = sums[d]! / divisor;
      }
    }
  });
}

/** Divides by the L2 norm in place (torch.nn.functional.normalize, eps 1e-12). */
export function normalizeInPlace(vector: Float32Array): Float32Array {
  let sumSquares = 0;
  for (const x of vector) sumSquares += x * x;
  const norm = Math.max(Math.sqrt(sumSquares), 1e-12);
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}
