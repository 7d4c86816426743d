import type { CancelSignal } from '../cancellation.ts';
import type { HeadOptions } from '../batching/batcher.ts';
import type { PromptChoice } from '../prompts.ts';
import type { EncodedText } from '../inference/tokenizing/tokenizer.ts';
import { inputCount, type EmbeddingInputs, type IdDefaults, type ModelRuntime } from './model-runtime.ts';

export interface EmbeddingResult {
  /** Each input's vector as JSON text (bytes): an array of numbers, or a base64 string (HeadOptions.encoding). */
  embeddings: Uint8Array[];
  /** Tokens embedded per input, after truncation, special tokens included. */
  tokenCounts: number[];
}

/** A model's pooled head (one vector per text) as one id of models.txt serves it, with that id's defaults. */
export class Embedder {
  constructor(
    private readonly runtime: ModelRuntime,
    /** The pooled head's index among the model's heads. */
    private readonly head: number,
    private readonly defaults: IdDefaults,
  ) {}

  /**
   * Embeds the inputs. Over-long inputs are truncated, or with `truncate: false`
   * refused (InputTooLongError); more than `maxRequestTokens` in all is refused
   * (TooManyTokensError); a full queue refuses at once (OverloadedError).
   */
  async embed(
    inputs: EmbeddingInputs,
    options: HeadOptions & { signal?: CancelSignal; truncate?: boolean; maxRequestTokens?: number; prompt?: PromptChoice } = {},
  ): Promise<EmbeddingResult> {
    const release = this.runtime.admit(inputCount(inputs));
    let sequences: Int32Array[];
    let blobs: Promise<Uint8Array[][]>;
    try {
      const { encoded, promptTokens } = await this.encode(inputs, options);
      sequences = this.runtime.checkLengths(encoded, options);
      const skips = promptTokens > 0 ? sequences.map(() => promptTokens) : undefined;
      blobs = this.runtime.submit(sequences, { heads: [this.head], signal: options.signal, skips, options: { dimensions: options.dimensions, encoding: options.encoding } });
    } finally {
      release(); // the queue counts the sequences from here on, or the request failed
    }
    const [embeddings] = await blobs;
    return { embeddings: embeddings!, tokenCounts: sequences.map((ids) => ids.length) };
  }

  /** What would be embedded (ModelRuntime.encode, with this id's defaults). */
  encode(
    inputs: EmbeddingInputs,
    options: { signal?: CancelSignal; prompt?: PromptChoice; whole?: boolean; maxRequestTokens?: number } = {},
  ): Promise<{ encoded: EncodedText[]; promptTokens: number }> {
    return this.runtime.encode(inputs, options, this.defaults);
  }

  tokenStrings(ids: ArrayLike<number>): string[] {
    return this.runtime.tokenStrings(ids);
  }
}
