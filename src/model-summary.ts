import type { ModelDescription } from './inference/files/model-files.ts';
import { logitsHeadOf, pooledHeadOf } from './inference/heads/head-spec.ts';

/** A model described by its kind, for the logs: an embedding model by its vectors, a reranker by the pairs it scores. */
export function summarizeModel(description: ModelDescription): { fields: Record<string, unknown>; text: string } {
  if (description.kind === 'reranker') {
    const { activation, answerTokenIds } = logitsHeadOf(description.heads);
    const llm = description.rerankPrompt && `LLM reranker, ${description.rerankPrompt} prompt, ${answerTokenIds ? "its LM head's answer logits at the last token" : 'a seq-cls score head'}`;
    return {
      fields: { kind: 'reranker', maxPairTokens: description.maxTokens, activation, ...(description.rerankPrompt ? { prompt: description.rerankPrompt } : {}) },
      text: `${llm ?? 'reranker (cross-encoder)'}, ${description.maxTokens} max tokens per query–document pair, ${activation} scores`,
    };
  }
  const { poolingModes, dimensions, normalize } = pooledHeadOf(description.heads);
  const pooling = poolingModes.join('+');
  return {
    fields: { kind: 'embedding', dimensions, maxTokens: description.maxTokens, pooling, normalized: normalize },
    text:
      `embedding model, ${dimensions} dimensions, ${description.maxTokens} max tokens, ` +
      `${pooling} pooling, ${normalize ? '' : 'not '}normalized`,
  };
}
