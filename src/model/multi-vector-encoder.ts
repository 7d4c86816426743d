/**
 * A model's token-vectors head as one id of models.txt serves it: a vector per token of each input. For a ColBERT
 * model (PyLate), as its encode(is_query) gives them: the side's prefix, a query padded with expansion tokens to
 * query_length (all its vectors returned), a document cut to document_length without its skiplist tokens, each
 * vector projected and normalised; it also scores (query, document) pairs by MaxSim. For other embedding models, the
 * graph's token states as TEI's /embed_all returns them (every token, special ones included, as computed).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CancelSignal } from '../cancellation.ts';
import { InputTooLongError, MultiVectorTooLargeError, TooManyTokensError } from '../embedding-errors.ts';
import type { ColbertModel } from '../inference/files/colbert-config.ts';
import type { TokenVectorsHeadSpec } from '../inference/heads/head-spec.ts';
import { colbertInput, cutKeepingClose, sideLength, sideTextLimit, type ColbertSide } from '../inference/tokenizing/colbert-input.ts';
import type { EncodedText } from '../inference/tokenizing/tokenizer.ts';
import type { PromptChoice } from '../prompts.ts';
import { decodeTokenVectors } from './head-output.ts';
import { maxSim } from './maxsim.ts';
import { inputCount, type EmbeddingInputs, type IdDefaults, type ModelRuntime } from './model-runtime.ts';

/** Which side a ColBERT model encodes when a request does not say: PyLate's encode default (is_query=True). */
export const DEFAULT_SIDE: ColbertSide = 'query';
/** Multiply-adds of MaxSim per turn of the event loop: ~1-2 ms of the HTTP thread (a 32 × 300 × 128 pair is 1.2 M). */
const MAXSIM_WORK_PER_TURN = 1 << 20;

export interface MultiVectorOptions {
  /** A ColBERT model's side (DEFAULT_SIDE when absent); other models have none. */
  side?: ColbertSide;
  truncate?: boolean;
  /** A ColBERT model's cut of an over-long input: `right` (the default, PyLate's) keeps its start, `left` its end. */
  direction?: 'right' | 'left';
  /** Cut each text to its own first N tokens before anything else (Cohere's max_tokens_per_doc). */
  firstTokens?: number;
  maxRequestTokens?: number;
  /** The most values (vectors × width) the answer may hold: refused before any run when it could hold more. */
  maxValues?: number;
  prompt?: PromptChoice;
  signal?: CancelSignal;
}

export interface MultiVectorResult {
  /** Per input, its vectors: float32 rows of `width` back to back. */
  vectors: Float32Array[];
  width: number;
  /** Tokens run per input (after truncation, prefix and expansion, special tokens included). */
  tokenCounts: number[];
}

export class MultiVectorEncoder {
  constructor(
    private readonly runtime: ModelRuntime,
    /** The token-vectors head's index among the model's heads. */
    private readonly head: number,
    private readonly spec: TokenVectorsHeadSpec,
    private readonly defaults: IdDefaults,
    /** A ColBERT model's settings; none: the token states as they are. */
    readonly colbert: ColbertModel | undefined,
  ) {}

  get width(): number {
    return this.spec.width;
  }

  /**
   * The inputs' vectors. Over-long inputs are cut (to the side's length, for ColBERT), or with `truncate: false`
   * refused (InputTooLongError); more than `maxRequestTokens` in all is refused (TooManyTokensError), and so is an
   * answer that could hold more than `maxValues` values (MultiVectorTooLargeError), before any run.
   */
  async embed(inputs: EmbeddingInputs, options: MultiVectorOptions = {}): Promise<MultiVectorResult> {
    const { signal } = options;
    const release = this.runtime.admit(inputCount(inputs));
    let sequences: Int32Array[];
    let blobs: Promise<Uint8Array[][]>;
    try {
      const cut = 'texts' in inputs ? { texts: await this.runtime.firstTokens(inputs.texts, options.firstTokens, signal) } : inputs;
      const { encoded, promptTokens } = await this.encode(cut, options);
      if (this.colbert) {
        // The side's length, not the model's: ModelRuntime.checkLengths would check the longer side's.
        const limit = sideLength(this.colbert.settings, options.side ?? DEFAULT_SIDE);
        const index = options.truncate === false ? encoded.findIndex(({ length }) => length > limit) : -1;
        if (index >= 0) throw new InputTooLongError(index, encoded[index]!.length, limit, encoded[index]!.lengthIsLowerBound);
        sequences = encoded.map(({ ids }) => ids);
      } else {
        sequences = this.runtime.checkLengths(encoded, { truncate: options.truncate });
      }
      const total = sequences.reduce((sum, ids) => sum + ids.length, 0);
      if (options.maxRequestTokens !== undefined && total > options.maxRequestTokens) throw new TooManyTokensError(total, options.maxRequestTokens);
      // At most a vector per token: the bound is known before the run.
      if (options.maxValues !== undefined && total * this.width > options.maxValues) throw new MultiVectorTooLargeError(total * this.width, options.maxValues);
      const skips = promptTokens > 0 ? sequences.map(() => promptTokens) : undefined;
      const attended = this.colbert ? encoded.map((text) => text.attended ?? text.ids.length) : undefined;
      blobs = this.runtime.submit(sequences, { heads: [this.head], signal, skips, attended, headOptions: { dropSkiplist: this.colbert !== undefined && (options.side ?? DEFAULT_SIDE) === 'document' } });
    } finally {
      release();
    }
    const [rows] = await blobs;
    return { vectors: rows!.map(decodeTokenVectors), width: this.width, tokenCounts: sequences.map((ids) => ids.length) };
  }

  /**
   * What would be run: per input its ids and its text's whole count (ModelRuntime.encode). A ColBERT model's ids are
   * its input for the side: the prefix after the first token, cut to the side's length, a query padded with
   * expansion tokens (`attended`: the tokens before them); its count includes the prefix.
   */
  async encode(
    inputs: EmbeddingInputs,
    options: { side?: ColbertSide; direction?: 'right' | 'left'; signal?: CancelSignal; prompt?: PromptChoice; whole?: boolean; maxRequestTokens?: number } = {},
  ): Promise<{ encoded: (EncodedText & { attended?: number })[]; promptTokens: number }> {
    const colbert = this.colbert;
    if (!colbert) return this.runtime.encode(inputs, options, this.defaults);
    const side = options.side ?? DEFAULT_SIDE;
    const limit = sideTextLimit(colbert.settings, side);
    const prefixed = sideLength(colbert.settings, side) - limit;
    // Texts are cut to the side's limit by the tokenizer, at the end `direction` says (cutKeepingClose: token ids as given).
    const { encoded, promptTokens } = await this.runtime.encode(inputs, { ...options, truncation: { direction: options.direction, maxTokens: limit } }, this.defaults);
    return {
      encoded: encoded.map(({ ids, length, lengthIsLowerBound }) => {
        const input = colbertInput(cutKeepingClose(ids, limit, this.runtime.closingTokens), side, colbert.settings, colbert.tokens);
        return { ids: input.ids, attended: input.attended, length: length + prefixed, lengthIsLowerBound };
      }),
      promptTokens,
    };
  }

  tokenStrings(ids: ArrayLike<number>): string[] {
    return this.runtime.tokenStrings(ids);
  }

  /**
   * A ColBERT model's scores for (query, document) pairs, in the documents' order: PyLate's colbert_scores, the sum
   * over the query's vectors of the best dot product with the document's (not divided by the query's length), with
   * the tokens run per document (the query's counted once, with the first). The query is always cut to query_length
   * at its end, as PyLate cuts it. Documents are first cut to their own first `maxDocumentTokens` tokens (as a
   * cross-encoder's are), then to document_length at the end `direction` says, or with `truncate: false` refused when over it.
   */
  async score(
    query: string,
    documents: string[],
    options: { truncate: boolean; direction?: 'right' | 'left'; maxDocumentTokens?: number; signal?: CancelSignal },
  ): Promise<{ logits: number[]; tokenCounts: number[] }> {
    const { truncate, direction, signal } = options;
    const [queryVectors, documentVectors] = await Promise.all([
      this.embed({ texts: [query] }, { side: 'query', signal }),
      this.embed({ texts: documents }, { side: 'document', truncate, direction, firstTokens: options.maxDocumentTokens, signal }),
    ]);
    const queryRows = queryVectors.vectors[0]!;
    const logits: number[] = [];
    let work = 0;
    for (const document of documentVectors.vectors) {
      if (work > MAXSIM_WORK_PER_TURN) {
        await yieldToEventLoop();
        signal?.throwIfAborted();
        work = 0;
      }
      logits.push(maxSim(queryRows, document, this.width));
      work += (queryRows.length * document.length) / this.width;
    }
    const tokenCounts = documentVectors.tokenCounts.map((count, index) => (index === 0 ? count + queryVectors.tokenCounts[0]! : count));
    return { logits, tokenCounts };
  }
}
