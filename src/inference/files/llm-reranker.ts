import { readJson, type Json } from './config-json.ts';
import type { ScoreActivation } from '../heads/head-spec.ts';
import type { RerankPromptStyle } from '../tokenizing/llm-rerank-prompt.ts';

/**
 * An LLM reranker as its configs and graph show it: the prompt it reads pairs in, and how its graph
 * gives the score: its causal LM export, whose last MatMul is the LM head (the answer tokens'
 * logits at the last token: lm-head-graph.ts, answer-head.ts), or a seq-cls conversion, whose
 * one-label score head on the last token gives the same logit.
 */
export interface LlmReranker {
  prompt: RerankPromptStyle;
  scoring: 'lm-head' | 'seq-cls';
  /** The tokens whose logits make the score: yes − no, or the "yes" logit alone. */
  answerTokens: string[];
  /** What makes the logit a score, as the reference code does. */
  activation: ScoreActivation;
}

const HIDDEN_OUTPUTS = ['last_hidden_state', 'token_embeddings', 'sentence_embedding'];

/**
 * The families served, by config.json's model_type and causal LM architecture. Qwen3-Reranker's score is
 * P(yes) = softmax([no, yes])[1] = sigmoid(yes − no), as its card and vLLM compute it; bge-reranker-v2-gemma's
 * is the raw "Yes" logit, as FlagLLMReranker.compute_score returns it by default (normalize=False).
 */
const FAMILIES: Record<string, { causalLm: string; seqCls?: string } & Omit<LlmReranker, 'scoring'>> = {
  qwen3: { causalLm: 'Qwen3ForCausalLM', seqCls: 'Qwen3ForSequenceClassification', prompt: 'qwen3', answerTokens: ['yes', 'no'], activation: 'sigmoid' },
  gemma: { causalLm: 'GemmaForCausalLM', prompt: 'bge-gemma', answerTokens: ['Yes'], activation: 'identity' },
};

/**
 * Whether config.json and the graph's outputs describe an LLM reranker: a causal LM of a served family
 * (`Qwen3ForCausalLM`, `GemmaForCausalLM`) whose graph outputs `logits` and no hidden state (Qwen3-Embedding's
 * exports, the same architecture, output `last_hidden_state`), or a one-label `Qwen3ForSequenceClassification`,
 * which is how Qwen3-Reranker's seq-cls conversions are served (vLLM's `is_original_qwen3_reranker`).
 */
export function llmRerankerOf(config: Json, graphOutputs: () => string[]): LlmReranker | undefined {
  const family = typeof config.model_type === 'string' && Object.hasOwn(FAMILIES, config.model_type) ? FAMILIES[config.model_type]! : undefined;
  if (!family) return undefined;
  const { causalLm, seqCls, ...reranker } = family;
  const architectures = Array.isArray(config.architectures) ? (config.architectures as unknown[]) : [];
  if (seqCls && architectures.includes(seqCls)) return { ...reranker, scoring: 'seq-cls' };
  if (!architectures.includes(causalLm)) return undefined;
  const outputs = graphOutputs();
  return outputs.includes('logits') && !outputs.some((name) => HIDDEN_OUTPUTS.includes(name)) ? { ...reranker, scoring: 'lm-head' } : undefined;
}

/** The ids of `tokens` in a tokenizer.json, as transformers' convert_tokens_to_ids finds them (the vocabulary, then added tokens). */
export async function tokenIdsOf(tokenizerFile: string, tokens: string[]): Promise<number[]> {
  const tokenizer = (await readJson(tokenizerFile)) ?? {};
  const vocab = ((tokenizer.model as Json | undefined)?.vocab ?? {}) as Record<string, unknown>;
  const added = Array.isArray(tokenizer.added_tokens) ? (tokenizer.added_tokens as Json[]) : [];
  return tokens.map((token) => {
    const id = Object.hasOwn(vocab, token) ? vocab[token] : added.find(({ content }) => content === token)?.id;
    if (typeof id !== 'number') throw new Error(`its tokenizer has no token "${token}", whose logit an LLM reranker's score is made of`);
    return id;
  });
}
