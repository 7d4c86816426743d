import { findHead } from '../inference/heads/head-spec.ts';
import { Embedder } from './embedder.ts';
import type { IdDefaults, ModelRuntime } from './model-runtime.ts';
import { Reranker } from './reranker.ts';

/** A loaded model as one id of models.txt serves it: its runtime (shared), and a sibling per use its heads allow. */
export interface ServedModel {
  runtime: ModelRuntime;
  /** A model with a pooled head: vectors (the embeddings routes). */
  embedder?: Embedder;
  /** A model with a one-label logits head: a cross-encoder (the rerank routes). */
  reranker?: Reranker;
}

export function serveModel(runtime: ModelRuntime, defaults: IdDefaults): ServedModel {
  const { heads } = runtime.description;
  const pooled = findHead(heads, 'pooled');
  const logits = findHead(heads, 'logits');
  return {
    runtime,
    embedder: pooled && new Embedder(runtime, pooled.index, defaults),
    reranker: logits?.spec.labels === 1 ? new Reranker(runtime, logits.index) : undefined,
  };
}
