import type { CancelSignal } from '../cancellation.ts';
import type { EncodedText } from '../inference/tokenizing/tokenizer.ts';
import { decodeLogits } from './head-output.ts';
import type { ModelRuntime } from './model-runtime.ts';

/** A cross-encoder or an LLM reranker: a model's one-label logits head, scoring (query, document) pairs. */
export class Reranker {
  constructor(
    private readonly runtime: ModelRuntime,
    /** The logits head's index among the model's heads. */
    private readonly head: number,
  ) {}

  /**
   * Raw scores (logits) for (query, document) pairs, in the documents' order, and each pair's tokens. Pairs are cut
   * longest-first to the model's limit (an LLM reranker's prompt, with `instruction` in it, as its card cuts it), or with `truncate: false` refused when over it (InputTooLongError, its index
   * the document's); `maxDocumentTokens` first cuts each document to its own first tokens. A request's work is
   * bounded by its documents (MAX_RERANK_DOCUMENTS) times the limit. They share the model's queue and workers with
   * every other request (admission, batching, cancellation as for embeddings).
   */
  async score(
    query: string,
    documents: string[],
    options: { truncate: boolean; direction?: 'right' | 'left'; maxDocumentTokens?: number; instruction?: string; signal?: CancelSignal },
  ): Promise<{ logits: number[]; tokenCounts: number[] }> {
    const { truncate, signal } = options;
    const release = this.runtime.admit(documents.length);
    let encoded: EncodedText[];
    let scored: Promise<Uint8Array[]>;
    try {
      // An LLM reranker reads each pair in its prompt (no token types); a cross-encoder in its tokenizer's pair template.
      encoded = this.runtime.description.rerankPrompt ? await this.runtime.encodePrompts(query, documents, options) : await this.runtime.encodePairs(query, documents, options);
      scored = this.runtime.submitPairs(encoded, this.head, { truncate, signal });
    } finally {
      release();
    }
    return { logits: (await scored).map((blob) => decodeLogits(blob)[0]!), tokenCounts: encoded.map(({ ids }) => ids.length) };
  }
}
