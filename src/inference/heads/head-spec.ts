/**
 * What a model computes from its graph's outputs: its heads, from the repo's configs (model-files.ts). Each kind has
 * a head in the inference worker (create-head.ts) that writes one blob of bytes per row that wants it, and one
 * decoding on the main thread (src/model/head-output.ts).
 */
import type { DenseLayer } from '../files/modules.ts';
import type { PoolingMode } from './pooling.ts';
import type { SpladeOptions } from './splade.ts';

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
  /** A graph output that already is the vector, used instead of the pipeline (an all-in-one bge-m3 export's dense_vecs). */
  vectorOutput?: string;
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

/**
 * A sparse vector per text over the vocabulary (token id → weight): SPLADE, sentence-transformers' SpladePooling
 * over the graph's masked-language logits. Its blob: the non-zero ids (int32, ascending), then their weights
 * (float32): output/sparse-blob.ts.
 */
export interface SparseHeadSpec {
  kind: 'sparse';
  method: 'splade';
  /** The vocabulary's size: the logits' width, and the bound of every id. */
  vocab: number;
  splade: SpladeOptions;
}

/**
 * A vector per token (late interaction: PyLate's ColBERT; the token states TEI's /embed_all returns): the states at
 * the positions a row keeps, each through `dense` and, with `normalize`, L2-normalised. A row asked to drop the
 * skiplist (a ColBERT document) leaves out the positions whose token is in it. Its blob: float32 rows of `width`
 * back to back (rows = bytes / 4 / width).
 */
export interface TokenVectorsHeadSpec {
  kind: 'token-vectors';
  /** The graph's token states through the modules here (bge-m3's colbert head is another method of the same kind). */
  method: 'states';
  dense: DenseLayer[];
  normalize: boolean;
  /** Token ids, ascending. */
  skiplist: Int32Array;
  /** A vector's width: the last Dense layer's output, else the token width. */
  width: number;
}


/**
 * bge-m3's sparse head (FlagEmbedding's sparse_linear): per token relu(w · h + b), per token id the largest, the
 * cls/eos/pad/unk ids left out. Its blob: `n` int32 token ids (ascending), then their `n` float32 weights.
 */
export interface BgeM3SparseHeadSpec {
  kind: 'sparse';
  method: 'bge-m3';
  /** sparse_linear.pt (or its safetensors conversion), run on the graph's token states of width `hidden`… */
  weightsFile: string | undefined;
  /** …or the all-in-one graph's output of each token's weight [batch, tokens, 1]. */
  graphOutput: string | undefined;
  hidden: number;
  droppedTokenIds: number[];
}

/**
 * bge-m3's ColBERT head (FlagEmbedding's colbert_linear): W h + b for each token after CLS, normalised. Its blob: the
 * text's `length − 1` vectors as float32 rows of `width` back to back.
 */
export interface BgeM3ColbertHeadSpec {
  kind: 'token-vectors';
  method: 'bge-m3';
  width: number;
  /** colbert_linear.pt (or its safetensors conversion), run on the graph's token states of width `hidden`… */
  weightsFile: string | undefined;
  /** …or the all-in-one graph's output [batch, tokens − 1, width]. */
  graphOutput: string | undefined;
  hidden: number;
}

export type HeadSpec = PooledHeadSpec | LogitsHeadSpec | SparseHeadSpec | BgeM3SparseHeadSpec | TokenVectorsHeadSpec | BgeM3ColbertHeadSpec;
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
