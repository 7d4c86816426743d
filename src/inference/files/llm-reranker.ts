import { readJson, type Json } from './config-json.ts';

/**
 * How an LLM reranker's graph gives its score: the causal LM's own export, whose last MatMul is the
 * LM head (its "yes" and "no" logits at the last token: lm-head-graph.ts, yes-no-head.ts), or a
 * seq-cls conversion, whose one-label score head on the last token already gives yes − no.
 */
export type LlmRerankScoring = 'lm-head' | 'seq-cls';

const HIDDEN_OUTPUTS = ['last_hidden_state', 'token_embeddings', 'sentence_embedding'];

/**
 * Whether config.json and the graph's outputs describe a Qwen3-Reranker (model_type qwen3): a
 * `Qwen3ForCausalLM` export whose graph outputs `logits` and no hidden state (Qwen3-Embedding's
 * exports, the same architecture, output `last_hidden_state`), or a one-label
 * `Qwen3ForSequenceClassification`, which is how Qwen3-Reranker's seq-cls conversions are served
 * (vLLM's `is_original_qwen3_reranker`). Both read pairs in the card's prompt (llm-rerank-prompt.ts).
 */
export function llmRerankScoring(config: Json, graphOutputs: () => string[]): LlmRerankScoring | undefined {
  if (config.model_type !== 'qwen3') return undefined;
  const architectures = Array.isArray(config.architectures) ? (config.architectures as unknown[]) : [];
  if (architectures.includes('Qwen3ForSequenceClassification')) return 'seq-cls';
  if (!architectures.includes('Qwen3ForCausalLM')) return undefined;
  const outputs = graphOutputs();
  return outputs.includes('logits') && !outputs.some((name) => HIDDEN_OUTPUTS.includes(name)) ? 'lm-head' : undefined;
}

/** The tokens whose logits at the last position give Qwen3-Reranker's score: P(yes) = softmax([no, yes])[1]. */
const ANSWER_TOKENS = ['yes', 'no'] as const;

/** The ids of "yes" and "no" in a tokenizer.json, as transformers' convert_tokens_to_ids finds them (the vocabulary, then added tokens). */
export async function answerTokenIds(tokenizerFile: string): Promise<[number, number]> {
  const tokenizer = (await readJson(tokenizerFile)) ?? {};
  const vocab = ((tokenizer.model as Json | undefined)?.vocab ?? {}) as Record<string, unknown>;
  const added = Array.isArray(tokenizer.added_tokens) ? (tokenizer.added_tokens as Json[]) : [];
  const ids = ANSWER_TOKENS.map((token) => {
    const id = Object.hasOwn(vocab, token) ? vocab[token] : added.find(({ content }) => content === token)?.id;
    if (typeof id !== 'number') throw new Error(`its tokenizer has no token "${token}", whose logit an LLM reranker's score is made of`);
    return id;
  });
  return ids as [number, number];
}
