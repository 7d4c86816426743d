import { findHead } from '../inference/heads/head-spec.ts';
import type { BgeM3Output } from '../inference/files/bge-m3.ts';
import { Embedder } from './embedder.ts';
import { MultiOutputEmbedder } from './multi-output-embedder.ts';
import type { IdDefaults, ModelRuntime } from './model-runtime.ts';
import { Reranker } from './reranker.ts';

/** A loaded model as one id of models.txt serves it: its runtime (shared), and a sibling per use its heads allow. */
export interface ServedModel {
  runtime: ModelRuntime;
  /** A model with a pooled head: vectors (the embeddings routes). */
  embedder?: Embedder;
  /** A model with a one-label logits head: a cross-encoder (the rerank routes). */
  reranker?: Reranker;
  /** A model with named outputs (bge-m3: dense, sparse, colbert): those a request asks for, from one run. */
  multiOutput?: MultiOutputEmbedder;
}

export function serveModel(runtime: ModelRuntime, defaults: IdDefaults): ServedModel {
  const { heads } = runtime.description;
  const pooled = findHead(heads, 'pooled');
  const logits = findHead(heads, 'logits');
  const colbert = findHead(heads, 'token-vectors');
  const embedder = pooled && new Embedder(runtime, pooled.index, defaults);
  const { namedOutputs } = runtime.description;
  return {
    runtime,
    embedder,
    multiOutput: embedder && namedOutputs && colbert ? new MultiOutputEmbedder(embedder, namedOutputs as Record<BgeM3Output, number>, colbert.spec.width) : undefined,
    reranker: logits?.spec.labels === 1 ? new Reranker(runtime, logits.index) : undefined,
  };
}
