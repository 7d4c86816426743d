/**
 * What a model computes from its graph's outputs: its heads, from the repo's configs (model-files.ts). Each kind has
 * a head in the inference worker (create-head.ts) that writes one blob of bytes per row that wants it, and one
 * decoding on the main thread (src/model/head-output.ts).
 */
import type { DenseLayer } from '../files/modules.ts';
import type { PoolingMode } from './pooling.ts';

/** How a cross-encoder's logit becomes its score, as sentence-transformers' CrossEncoder picks it for one label. */
export type ScoreActivation = 'sigmoid' | 'identity' | 'tanh';

/**
 * One vector per text: sentence-transformers' Pooling, then its Dense modules, then Normalize; or, when the server
 * cannot run those (`unrunnable`), the graph's own `sentence_embedding`. Its blob: the vector's JSON text.
 */
export interface PooledHeadSpec {
  kind: 'pooled';
  poolingModes: PoolingMode[];
  /** Dense modules after the pooling, in order. */
  dense: DenseLayer[];
  /** Vectors are L2-normalised (after any truncation to fewer dimensions), as the model's Normalize module does. */
  normalize: boolean;
  /** Why the server cannot run the module pipeline itself; then the graph must output `sentence_embedding`. */
  unrunnable: string | undefined;
  /** The vector's width: the last Dense layer's output, else token width × pooling modes. */
  dimensions: number;
}

/** A sequence classifier's logits, `labels` per row (a cross-encoder reranker: one). Its blob: `labels` float32s. */
export interface LogitsHeadSpec {
  kind: 'logits';
  labels: number;
  /** What CrossEncoder applies to a one-label logit to make its score. */
  activation: ScoreActivation;
  /**
   * An LLM reranker's causal LM export (Qwen3-Reranker, bge-reranker-v2-gemma): its LM head is taken off the graph at
   * load (lm-head-graph.ts), and the row's one logit is, at its last token, the logit of the first of these tokens
   * ("yes") less that of the second ("no") when there is one (answer-head.ts). The main thread sees a one-label
   * logits head like any cross-encoder's.
   */
  answerTokenIds?: number[];
}

export type HeadSpec = PooledHeadSpec | LogitsHeadSpec;
export type HeadKind = HeadSpec['kind'];

/** The first head of a kind, with its index among the model's heads (the index the batch and the worker use). */
export function findHead<Kind extends HeadKind>(heads: readonly HeadSpec[], kind: Kind): { index: number; spec: Extract<HeadSpec, { kind: Kind }> } | undefined {
  const index = heads.findIndex((head) => head.kind === kind);
  return index < 0 ? undefined : { index, spec: heads[index] as Extract<HeadSpec, { kind: Kind }> };
}

/** An embedding model's pooled head (its description's kind promises one). */
export const pooledHeadOf = (heads: readonly HeadSpec[]): PooledHeadSpec => findHead(heads, 'pooled')!.spec;

/** A reranker's logits head (its description's kind promises one). */
export const logitsHeadOf = (heads: readonly HeadSpec[]): LogitsHeadSpec => findHead(heads, 'logits')!.spec;
