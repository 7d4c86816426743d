import { findHead } from '../inference/heads/head-spec.ts';
import type { BgeM3Output } from '../inference/files/bge-m3.ts';
import { Classifier } from './classifier.ts';
import { Embedder } from './embedder.ts';
import { MultiOutputEmbedder } from './multi-output-embedder.ts';
import { MultiVectorEncoder } from './multi-vector-encoder.ts';
import type { IdDefaults, ModelRuntime } from './model-runtime.ts';
import { Reranker } from './reranker.ts';
import { SparseEncoder } from './sparse-encoder.ts';

/** A loaded model as one id of models.txt serves it: its runtime (shared), and a sibling per use its heads allow. */
export interface ServedModel {
  runtime: ModelRuntime;
  /** A model with a pooled head: vectors (the embeddings routes). */
  embedder?: Embedder;
  /** A model with a one-label logits head: a cross-encoder (the rerank routes). */
  reranker?: Reranker;
  /** A sparse (SPLADE) model: token-id → weight vectors (the embeddings routes, TEI's /embed_sparse). */
  sparseEncoder?: SparseEncoder;
  /** A classifier's logits head, a label each (the classify routes). */
  classifier?: Classifier;
  /** A model with a token-vectors head: vectors per token (a ColBERT model's; else the token states, TEI's /embed_all). */
  multiVector?: MultiVectorEncoder;
  /** A model with named outputs (bge-m3: dense, sparse, colbert): those a request asks for, from one run. */
  multiOutput?: MultiOutputEmbedder;
}

export function serveModel(runtime: ModelRuntime, defaults: IdDefaults): ServedModel {
  const { heads } = runtime.description;
  const pooled = findHead(heads, 'pooled');
  const logits = findHead(heads, 'logits');
  const sparse = findHead(heads, 'sparse');
  const tokenVectors = findHead(heads, 'token-vectors');
  const embedder = pooled && new Embedder(runtime, pooled.index, defaults);
  const { namedOutputs } = runtime.description;
  return {
    runtime,
    embedder,
    reranker: logits && runtime.description.kind === 'reranker' ? new Reranker(runtime, logits.index) : undefined,
    classifier: logits && runtime.description.kind === 'classifier' ? new Classifier(runtime, logits.index) : undefined,
    sparseEncoder: sparse?.spec.method === 'splade' && runtime.description.sparse ? new SparseEncoder(runtime, sparse.index, defaults) : undefined,
    multiVector: tokenVectors?.spec.method === 'states' ? new MultiVectorEncoder(runtime, tokenVectors.index, tokenVectors.spec, defaults, runtime.description.colbert) : undefined,
    multiOutput: embedder && namedOutputs && tokenVectors ? new MultiOutputEmbedder(embedder, namedOutputs as Record<BgeM3Output, number>, tokenVectors.spec.width) : undefined,
  };
}
