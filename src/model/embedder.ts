import type { CancelSignal } from '../cancellation.ts';
import type { HeadOptions } from '../batching/batcher.ts';
import { LateChunkingError } from '../embedding-errors.ts';
import type { PooledHeadSpec } from '../inference/heads/head-spec.ts';
import { formatBits, formatsOfBits, formatName, type VectorFormat } from '../inference/output/quantize.ts';
import { splitFormats, splitVectorTexts } from '../inference/output/vector-text.ts';
import { choosePrompt, type PromptChoice } from '../prompts.ts';
import type { EncodedText, TokenSpan, Truncation } from '../inference/tokenizing/tokenizer.ts';
import { inputCount, type EmbeddingInputs, type IdDefaults, type ModelRuntime } from './model-runtime.ts';

export interface EmbeddingResult {
  /**
   * Each input's vector as JSON text (bytes): an array of numbers, or a base64 string (HeadOptions.encoding); with
   * several `formats`, an object of them by name (quantize.ts' formatName).
   */
  embeddings: Uint8Array[];
  /** Tokens embedded per input, after truncation, special tokens included. */
  tokenCounts: number[];
}

export type EmbedOptions = Omit<HeadOptions, 'formats'> & {
  /** The formats of each vector, all from one run (default: one float vector, as `encoding` says). */
  formats?: readonly VectorFormat[];
  signal?: CancelSignal;
  truncate?: boolean;
  truncation?: Truncation;
  maxRequestTokens?: number;
  prompt?: PromptChoice;
};

/** A model's pooled head (one vector per text) as one id of models.txt serves it, with that id's defaults. */
export class Embedder {
  constructor(
    private readonly runtime: ModelRuntime,
    /** The pooled head's index among the model's heads. */
    private readonly head: number,
    private readonly defaults: IdDefaults,
  ) {}

  /**
   * Embeds the inputs. Over-long inputs are truncated (as `truncation` says), or with `truncate: false`
   * refused (InputTooLongError); more than `maxRequestTokens` in all is refused
   * (TooManyTokensError); a full queue refuses at once (OverloadedError).
   */
  async embed(inputs: EmbeddingInputs, options: EmbedOptions = {}): Promise<EmbeddingResult> {
    const formats = options.formats && options.formats.length > 1 ? options.formats : undefined;
    const { vectors, tokenCounts } = await this.embedFormats(inputs, formats ?? options.formats ?? [], options);
    if (!formats) return { embeddings: vectors[0]!, tokenCounts };
    const names = formats.map((format) => Buffer.from(`"${formatName(format)}":`));
    const embeddings = tokenCounts.map((_, input) => Buffer.concat(formats.flatMap((_, index) => [Buffer.from(index === 0 ? '{' : ','), names[index]!, vectors[index]![input]!]).concat(Buffer.from('}'))));
    return { embeddings, tokenCounts };
  }

  /**
   * Per format (in `formats`' order; none: one float vector as `encoding` says), each input's vector as JSON text,
   * all from one run of the model.
   */
  async embedFormats(inputs: EmbeddingInputs, formats: readonly VectorFormat[], options: EmbedOptions = {}): Promise<{ vectors: Uint8Array[][]; tokenCounts: number[] }> {
    // One plain float vector needs no formats: the path every OpenAI request takes.
    const plain = formats.length === 0 || (formats.length === 1 && formats[0]!.dtype === 'float');
    const encoding = formats.length === 1 ? (formats[0]!.base64 ? 'base64' : 'float') : options.encoding;
    const { blobs, tokenCounts } = await this.embedHeads(inputs, [this.head], { ...options, encoding, formats: plain ? undefined : formats });
    const rows = blobs[0]!;
    if (plain) return { vectors: [rows], tokenCounts };
    // A row's blob holds its formats in formatBits' order.
    const positions = formatsOfBits(formatBits(formats)).map((format) => formatBits([format]));
    const parts = rows.map(splitFormats);
    return { vectors: formats.map((format) => parts.map((part) => part[positions.indexOf(formatBits([format]))]!)), tokenCounts };
  }

  /**
   * Runs the inputs through `heads` (indexes among the model's heads) in one graph run per batch: per head, each
   * input's blob. `check` sees the sequences before they are queued, and may refuse them (a too large answer).
   */
  async embedHeads(inputs: EmbeddingInputs, heads: readonly number[], options: EmbedOptions & { check?: (sequences: Int32Array[]) => void }): Promise<{ blobs: Uint8Array[][]; tokenCounts: number[] }> {
    const release = this.runtime.admit(inputCount(inputs));
    let sequences: Int32Array[];
    let blobs: Promise<Uint8Array[][]>;
    try {
      const { encoded, promptTokens } = await this.encode(inputs, options);
      sequences = this.runtime.checkLengths(encoded, { ...options, maxTokens: options.truncation?.maxTokens });
      options.check?.(sequences);
      const skips = promptTokens > 0 ? sequences.map(() => promptTokens) : undefined;
      const { dimensions, encoding, normalize, formats, maxActiveDims } = options;
      blobs = this.runtime.submit(sequences, { heads, signal: options.signal, skips, headOptions: { dimensions, encoding, normalize, formats, maxActiveDims } });
    } finally {
      release(); // the queue counts the sequences from here on, or the request failed
    }
    return { blobs: await blobs, tokenCounts: sequences.map((ids) => ids.length) };
  }

  /** What would be embedded (ModelRuntime.encode, with this id's defaults). */
  encode(
    inputs: EmbeddingInputs,
    options: { signal?: CancelSignal; prompt?: PromptChoice; whole?: boolean; maxRequestTokens?: number; truncation?: Truncation } = {},
  ): Promise<{ encoded: EncodedText[]; promptTokens: number }> {
    return this.runtime.encode(inputs, options, this.defaults);
  }

  tokenStrings(ids: ArrayLike<number>): string[] {
    return this.runtime.tokenStrings(ids);
  }

  /** This embedder reading token ids as the model's own (TEI's meaning), whatever its id's TOKEN_IDS says. */
  withModelTokenIds(): Embedder {
    return new Embedder(this.runtime, this.head, { ...this.defaults, tokenIds: 'model' });
  }

  /**
   * Late chunking (Jina's): the texts embedded as one sequence (special tokens once, the prompt once at its start),
   * each text's span of its token vectors pooled on its own. Refused (LateChunkingError) where it cannot apply: the
   * sequence over the model's limit, a pooling that reads one token (cls, lasttoken) or a graph's own sentence
   * vector, a text with no tokens. Tokens per text: its own, the first and last also the shared special ones.
   */
  async embedLateChunked(texts: string[], options: HeadOptions & { signal?: CancelSignal; prompt?: PromptChoice } = {}): Promise<EmbeddingResult> {
    const { description } = this.runtime;
    const spec = description.heads[this.head] as PooledHeadSpec;
    const oneToken = spec.poolingModes.filter((mode) => mode === 'cls' || mode === 'lasttoken');
    if (oneToken.length > 0) throw new LateChunkingError(`the model pools by ${oneToken.join(' and ')} (one token of the sequence), not over each input's tokens`);
    if (spec.unrunnable) throw new LateChunkingError(`the model's vectors come from its graph's sentence_embedding (${spec.unrunnable}), not from token vectors`);
    const release = this.runtime.admit(1);
    let joined: Awaited<ReturnType<ModelRuntime['encodeJoined']>>;
    let blobs: Promise<Uint8Array[][]>;
    try {
      const prompt = choosePrompt(description, options.prompt ?? {}, this.defaults.promptName) ?? '';
      joined = await this.runtime.encodeJoined(texts, prompt, options.signal);
      const limit = description.maxTokens;
      if (joined.length > limit) {
        throw new LateChunkingError(`the inputs together have ${joined.lengthIsLowerBound ? 'more than ' : ''}${joined.length} tokens, more than the model's limit of ${limit}`);
      }
      const empty = texts.findIndex((_, index) => joined.spans[2 * index] === joined.spans[2 * index + 1]);
      if (empty >= 0) throw new LateChunkingError(`input ${empty} has no tokens`);
      blobs = this.runtime.submit([joined.ids], { heads: [this.head], signal: options.signal, spans: [joined.spans], headOptions: { dimensions: options.dimensions, encoding: options.encoding, normalize: options.normalize } });
    } finally {
      release();
    }
    const [[blob]] = (await blobs) as [[Uint8Array]];
    const { spans, ids } = joined;
    const tokenCounts = texts.map((_, index) => spans[2 * index + 1]! - spans[2 * index]!);
    tokenCounts[0]! += spans[0]!;
    tokenCounts[texts.length - 1]! += ids.length - spans[2 * texts.length - 1]!;
    return { embeddings: splitVectorTexts(blob), tokenCounts };
  }

  /**
   * Each text's every token with the characters it stands for, prompt included (TEI's /tokenize). The texts are first
   * counted whole, so a request over `maxRequestTokens` is refused before its spans are made.
   */
  async tokenSpans(texts: string[], options: { prompt?: PromptChoice; addSpecialTokens: boolean; maxRequestTokens: number; signal?: CancelSignal }): Promise<TokenSpan[][]> {
    await this.encode({ texts }, { prompt: options.prompt, whole: true, maxRequestTokens: options.maxRequestTokens, signal: options.signal });
    const prompt = choosePrompt(this.runtime.description, options.prompt ?? {}, this.defaults.promptName) ?? '';
    return this.runtime.tokenSpans(prompt ? texts.map((text) => prompt + text) : texts, options.addSpecialTokens);
  }

  /** Each sequence of the model's token ids as text. */
  decode(sequences: number[][], skipSpecialTokens: boolean): Promise<string[]> {
    return this.runtime.decode(sequences, skipSpecialTokens);
  }
}
