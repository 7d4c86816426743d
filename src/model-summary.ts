import type { ModelDescription } from './inference/files/model-files.ts';
import { findHead, logitsHeadOf, pooledHeadOf } from './inference/heads/head-spec.ts';

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
  const sparse = findHead(description.heads, 'sparse')?.spec;
  if (sparse?.method === 'splade' && !findHead(description.heads, 'pooled')) {
    const { query, document, defaultSide } = description.sparse!;
    return {
      fields: { kind: 'sparse', vocabulary: sparse.vocab, maxTokens: description.maxTokens, ...sparse.splade, query, document, defaultSide },
      text:
        `sparse (SPLADE ${sparse.splade.pooling}, ${sparse.splade.activation}) model over ${sparse.vocab} tokens, ${description.maxTokens} max tokens, ` +
        `query side ${query}, document side ${document}, ${defaultSide} by default`,
    };
  }
  if (description.kind === 'classifier') {
    return {
      fields: { kind: 'classifier', labels: description.labels.length, maxTokens: description.maxTokens, activation: description.labelActivation },
      text: `classifier, ${description.labels.length} labels (${description.labels.slice(0, 5).join(', ')}${description.labels.length > 5 ? ', …' : ''}), ${description.maxTokens} max tokens per text or pair, ${description.labelActivation === 'none' ? 'raw' : description.labelActivation} scores`,
    };
  }
  if (description.colbert) {
    const { queryLength, documentLength } = description.colbert.settings;
    const { width } = findHead(description.heads, 'token-vectors')!.spec;
    return {
      fields: { kind: 'embedding', multiVector: 'MaxSim', dimensions: width, queryLength, documentLength },
      text: `multi-vector (ColBERT) model, a ${width}-dimension vector per token, queries of ${queryLength} tokens, documents of up to ${documentLength}`,
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
