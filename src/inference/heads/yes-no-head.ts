/**
 * An LLM reranker's score from its last hidden state, as Qwen3-Reranker's reference code and vLLM
 * compute it: at the pair's last token, the LM head's "yes" and "no" logits; P(yes) is their
 * two-way softmax, softmax([no, yes])[1] = sigmoid(yes − no). The head gives yes − no as the
 * pair's one logit, so the score is its sigmoid, as for a seq-cls conversion (whose score row is
 * the "yes" row less the "no" row) and every one-label cross-encoder. Only the last position is
 * multiplied, by two rows: the graph no longer computes the vocabulary-wide logits (lm-head-graph.ts).
 */
export function yesNoLogit(hidden: Float32Array, offset: number, yes: Float32Array, no: Float32Array): number {
  let yesLogit = 0;
  let noLogit = 0;
  for (let i = 0; i < yes.length; i++) {
    const value = hidden[offset + i]!;
    yesLogit += value * yes[i]!;
    noLogit += value * no[i]!;
  }
  return yesLogit - noLogit;
}
