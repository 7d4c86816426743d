import type { ModelDescription } from './inference/files/model-files.ts';

/** A model described by its kind, for the logs: an embedding model by its vectors, a reranker by the pairs it scores. */
export function summarizeModel(description: ModelDescription): { fields: Record<string, unknown>; text: string } {
  if (description.kind === 'reranker') {
    return {
      fields: { kind: 'reranker', maxPairTokens: description.maxTokens, activation: description.scoreActivation },
      text: `reranker (cross-encoder), ${description.maxTokens} max tokens per query–document pair, ${description.scoreActivation} scores`,
    };
  }
  if (description.kind === 'classifier') {
    return {
      fields: { kind: 'classifier', labels: description.labels.length, maxTokens: description.maxTokens, activation: description.labelActivation },
      text: `classifier, ${description.labels.length} labels (${description.labels.slice(0, 5).join(', ')}${description.labels.length > 5 ? ', …' : ''}), ${description.maxTokens} max tokens per text or pair, ${description.labelActivation === 'none' ? 'raw' : description.labelActivation} scores`,
    };
  }
  const pooling = description.poolingModes.join('+');
  return {
    fields: { kind: 'embedding', dimensions: description.dimensions, maxTokens: description.maxTokens, pooling, normalized: description.normalized },
    text:
      `embedding model, ${description.dimensions} dimensions, ${description.maxTokens} max tokens, ` +
      `${pooling} pooling, ${description.normalized ? '' : 'not '}normalized`,
  };
}
