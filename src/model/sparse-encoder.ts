import type { CancelSignal } from '../cancellation.ts';
import type { PromptChoice } from '../prompts.ts';
import type { EncodedText, Truncation } from '../inference/tokenizing/tokenizer.ts';
import type { SparseSide } from '../inference/files/sparse-modules.ts';
import { staticSparse } from '../inference/heads/sparse-static.ts';
import { keepLargest } from '../inference/heads/splade.ts';
import { decodeSparse } from './head-output.ts';
import { inputCount, type EmbeddingInputs, type IdDefaults, type ModelRuntime } from './model-runtime.ts';

/** A sparse vector as clients get it: token ids ascending, each with its weight. */
export interface SparseEmbedding {
  indices: number[];
  values: number[];
}

export interface SparseOptions {
  /** Keep each vector's k largest weights (SparseEncoder's max_active_dims). */
  maxActiveDims?: number;
  signal?: CancelSignal;
  truncate?: boolean;
  /** Which end an over-long input loses (TEI's truncation_direction); its end when absent. */
  truncation?: Truncation;
  maxRequestTokens?: number;
  prompt?: PromptChoice;
}

export interface SparseResult {
  embeddings: SparseEmbedding[];
  /** Tokens per input, after truncation: those the graph ran (special tokens included), or those a static side weighed. */
  tokenCounts: number[];
}

/**
 * A sparse (SPLADE) model as one id of models.txt serves it: SparseEncoder.encode. A request's input_type picks the
 * side (a Router model's query or document route; the router's default otherwise) and the prompt for it. The graph's
 * side runs the model's sparse head; a static side (SparseStaticEmbedding) weighs the text's own tokens here, on the
 * calling thread, with no graph run: a token's weight is a lookup.
 */
export class SparseEncoder {
  constructor(
    private readonly runtime: ModelRuntime,
    /** The sparse head's index among the model's heads. */
    private readonly head: number,
    private readonly defaults: IdDefaults,
  ) {}

  /** The side a request gets: its input_type, else the model's default. */
  sideFor(prompt: PromptChoice | undefined): SparseSide {
    return prompt?.inputType ?? this.runtime.description.sparse!.defaultSide;
  }

  /**
   * Encodes the inputs. Length limits and refusals as Embedder.embed's.
   */
  async embed(inputs: EmbeddingInputs, options: SparseOptions = {}): Promise<SparseResult> {
    const sides = this.runtime.description.sparse!;
    if (sides[this.sideFor(options.prompt)] === 'static') return this.encodeStatic(inputs, options, sides.staticWeights!);
    const release = this.runtime.admit(inputCount(inputs));
    let sequences: Int32Array[];
    let blobs: Promise<Uint8Array[][]>;
    try {
      const { encoded } = await this.encode(inputs, options);
      sequences = this.runtime.checkLengths(encoded, options);
      blobs = this.runtime.submit(sequences, { heads: [this.head], signal: options.signal, headOptions: { maxActiveDims: options.maxActiveDims } });
    } finally {
      release(); // the queue counts the sequences from here on, or the request failed
    }
    const [vectors] = await blobs;
    return { embeddings: vectors!.map(decodeSparse), tokenCounts: sequences.map((ids) => ids.length) };
  }

  /** What would be run (ModelRuntime.encode, with this id's defaults). */
  encode(
    inputs: EmbeddingInputs,
    options: { signal?: CancelSignal; prompt?: PromptChoice; whole?: boolean; maxRequestTokens?: number; truncation?: Truncation } = {},
  ): Promise<{ encoded: EncodedText[]; promptTokens: number }> {
    return this.runtime.encode(inputs, options, this.defaults);
  }

  /** SparseStaticEmbedding: the texts' tokens without the special ones (token ids of the model's own vocabulary as given). */
  private async encodeStatic(inputs: EmbeddingInputs, options: SparseOptions, weights: Float32Array): Promise<SparseResult> {
    const { encoded } = await this.encode(inputs, options);
    const framed = !('tokenIds' in inputs && this.defaults.tokenIds === 'model');
    const { before, after } = framed ? this.runtime.frame : { before: 0, after: 0 };
    const contents = this.runtime.checkLengths(encoded, options).map((ids) => ids.subarray(before, ids.length - after));
    const embeddings = contents.map((ids) => {
      const { indices, values } = keepLargest(staticSparse(ids, weights), options.maxActiveDims ?? 0);
      return { indices: Array.from(indices), values: Array.from(values) };
    });
    return { embeddings, tokenCounts: contents.map((ids) => ids.length) };
  }
}
