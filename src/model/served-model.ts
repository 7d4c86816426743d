import { findHead } from '../inference/heads/head-spec.ts';
import { Embedder } from './embedder.ts';
import { MultiVectorEncoder } from './multi-vector-encoder.ts';
import type { IdDefaults, ModelRuntime } from './model-runtime.ts';
import { Reranker } from './reranker.ts';

/** A loaded model as one id of models.txt serves it: its runtime (shared), and a sibling per use its heads allow. */
export interface ServedModel {
  runtime: ModelRuntime;
  /** A model with a pooled head: vectors (the embeddings routes). */
  embedder?: Embedder;
  /** A model with a one-label logits head: a cross-encoder (the rerank routes). */
  reranker?: Reranker;
  /** A model with a token-vectors head: vectors per token (a ColBERT model's; else the token states, TEI's /embed_all). */
  multiVector?: MultiVectorEncoder;
}

export function serveModel(runtime: ModelRuntime, defaults: IdDefaults): ServedModel {
  const { heads } = runtime.description;
  const pooled = findHead(heads, 'pooled');
  const logits = findHead(heads, 'logits');
  const tokenVectors = findHead(heads, 'token-vectors');
  return {
    runtime,
    embedder: pooled && new Embedder(runtime, pooled.index, defaults),
    reranker: logits?.spec.labels === 1 ? new Reranker(runtime, logits.index) : undefined,
    multiVector: tokenVectors?.spec.method === 'states' ? new MultiVectorEncoder(runtime, tokenVectors.index, tokenVectors.spec, defaults, runtime.description.colbert) : undefined,
  };
}
