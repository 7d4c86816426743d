/** What a model's runs hold beyond its weights, from its config.json. */
export interface RunShape {
  attentionHeads: number;
  /** The token vectors' width, and the feed-forward layer's. */
  hidden: number;
  intermediate: number;
}

/**
 * Peak bytes of one run of `batch` inputs padded to `longest` tokens (float32): per input, each
 * head's scores and their softmax (longest² each), plus a few activation vectors per token. On a
 * MiniLM-L6-shaped graph this gives 6.2 GB for one 8000-token input (6.4 GB measured).
 */
export function runPeakBytes(shape: RunShape, batch: number, longest: number): number {
  const attention = 2 * shape.attentionHeads * longest * longest;
  const activations = longest * (4 * shape.hidden + 2 * shape.intermediate);
  return batch * (attention + activations) * 4;
}
