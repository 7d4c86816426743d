import type { ModelDescription } from './inference/files/model-files.ts';
import { findHead, logitsHeadOf, pooledHeadOf } from './inference/heads/head-spec.ts';

/** A model described by its kind, for the logs: an embedding model by its vectors, a reranker by the pairs it scores. */
export function summarizeModel(description: ModelDescription): { fields: Record<string, unknown>; text: string } {
  if (description.kind === 'reranker') {
    const { activation } = logitsHeadOf(description.heads);
    return {
      fields: { kind: 'reranker', maxPairTokens: description.maxTokens, activation },
      text: `reranker (cross-encoder), ${description.maxTokens} max tokens per query–document pair, ${activation} scores`,
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
