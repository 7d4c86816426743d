import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CancelSignal } from './cancellation.ts';
import { choosePrompt, type PromptChoice } from './prompts.ts';
import type { TokenIdMeaning } from './config.ts';
import { decodeOpenAiTokens, loadOpenAiEncoding } from './inference/tokenizing/openai-encoding.ts';
import { Batcher, type BatchLimits, type BatchStats, type VectorOutput } from './batching/batcher.ts';
import type { RunMemory } from './batching/run-memory.ts';
import { InputTooLongError, TooManyTokensError } from './embedding-errors.ts';
import type { ModelDescription } from './inference/files/model-files.ts';
import { OnnxBackend } from './inference/onnx/onnx-backend.ts';
import { runPeakBytes } from './batching/run-peak.ts';
import { MAX_RUN_TOKENS } from './inference/onnx/sub-batches.ts';
import { loadTokenizer, type EncodedPair, type EncodedText, type TextTokenizer } from './inference/tokenizing/tokenizer.ts';
import { TokenizerThread } from './inference/tokenizing/tokenizer-thread.ts';

/** Texts, or sequences of token ids (OpenAI's cl100k_base ids, or the model's own, per the model's TOKEN_IDS). */
export type EmbeddingInputs = { texts: string[] } | { tokenIds: number[][] };

export interface EmbeddingResult {
  /** Each input's vector as JSON text (bytes): an array of numbers, or a base64 string (VectorOutput.encoding). */
  embeddings: Uint8Array[];
  /** Tokens embedded per input, after truncation, special tokens included. */
  tokenCounts: number[];
}

/**
 * A request with more characters than this is tokenised on the model's tokenizer thread: on the
 * HTTP thread it would cost up to ~30 ms (CJK text, the slowest measured, takes 2 µs a character)
 * and hold up every other request meanwhile. Below it, no text can need more tokenising than that.
 */
const INLINE_CHARS = 16_384;
/** Characters per message to the tokenizer thread. */
const THREAD_MESSAGE_CHARS = 1 << 20;

/** What one id of models.txt says about using a model: what token ids mean, and its default prompt. */
export interface IdDefaults {
  tokenIds: TokenIdMeaning;
  /** models.txt prompt= of this id. */
  promptName: string | undefined;
}

const inputCount = (inputs: EmbeddingInputs) => ('texts' in inputs ? inputs.texts.length : inputs.tokenIds.length);

/** A loaded model: tokenizer, batching queue and inference workers behind one `embed` call. */
export class LoadedModel {
  private constructor(
    readonly description: ModelDescription,
    private readonly tokenizer: TextTokenizer,
    private readonly tokenizerThread: TokenizerThread,
    private readonly backend: OnnxBackend,
    private readonly batcher: Batcher,
    private readonly defaults: IdDefaults,
  ) {}

  static async load(
    description: ModelDescription,
    options: {
      artifactsDir: string;
      repo: string;
      workers: number;
      intraOpThreads: number;
      batching: BatchLimits;
      /** Some id reads token ids as OpenAI's: load its encoding now rather than at the first request. */
      loadOpenAiEncoding: boolean;
      onBatch?: (stats: BatchStats) => void;
      onRun?: (worker: number, seconds: number) => void;
      /** The process's memory for runs, shared by its models (none: runs are not held back). */
      runMemory?: RunMemory;
      /** Keep ONNX Runtime's memory arena even if the model takes inputs longer than a run's token cap. */
      keepArena?: boolean;
    },
  ): Promise<LoadedModel> {
    // The warm-up's batch and runs are not served work: metrics count from after it.
    let counting = false;
    const onBatch = (stats: BatchStats) => counting && options.onBatch?.(stats);
    const onRun = (worker: number, seconds: number) => counting && options.onRun?.(worker, seconds);
    const tokenizerSetup = { dir: description.dir, maxTokens: description.maxTokens, lowercase: description.lowercase, asGiven: description.kind === 'classifier' };
    const tokenizer = await loadTokenizer(description.dir, tokenizerSetup);
    // A text longer than a run's token cap runs alone, as long as it is; the arena would keep that run's memory for
    // good, so it stays only where the plan has room for every worker keeping its longest run's (faster long runs:
    // a 2048-token one took 1.1 s with the arena, 1.4-3.0 s without, the first of each length the slowest).
    const memoryArena = description.maxTokens <= MAX_RUN_TOKENS || options.keepArena === true;
    const starting = OnnxBackend.start(
      {
        kind: description.kind === 'embedding' ? 'embedding' : 'reranker',
        labels: description.kind === 'classifier' ? description.labels.length : 1,
        onnxPath: description.onnxFile,
        intraOpThreads: options.intraOpThreads,
        memoryArena,
        poolingModes: description.poolingModes,
        dense: description.dense,
        unrunnable: description.unrunnable,
        padId: tokenizer.padId,
        normalize: description.normalized,
      },
      options.workers,
      { onRun },
    );
    // ~0.25 s of this thread, spent while the workers start.
    if (options.loadOpenAiEncoding) loadOpenAiEncoding();
    const backend = await starting;
    const memory = options.runMemory && { budget: options.runMemory, peakBytes: (batch: number, longest: number) => runPeakBytes(description.runShape, batch, longest, memoryArena) };
    const batcher = new Batcher(backend, options.batching, onBatch, memory);
    const tokenizerThread = new TokenizerThread(tokenizerSetup);
    const model = new LoadedModel(description, tokenizer, tokenizerThread, backend, batcher, { tokenIds: 'model', promptName: undefined });
    try {
      await model.warmUp();
    } catch (error) {
      await model.close();
      throw error;
    }
    counting = true;
    // Every worker's busy-time series exists from the start, at 0: an idle worker shows as idle, not as missing.
    for (let worker = 0; worker < options.workers; worker++) options.onRun?.(worker, 0);
    return model;
  }

  /** This model as one id serves it: the same tokenizer, queue and workers, with the id's defaults. */
  forId(defaults: IdDefaults): LoadedModel {
    return new LoadedModel(this.description, this.tokenizer, this.tokenizerThread, this.backend, this.batcher, defaults);
  }

  /**
   * One run through the whole path; also checks the graph's output width against the configs, and
   * that what it computes is finite (weights that hold NaN, or a graph that makes it, would serve nulls).
   */
  private async warmUp() {
    const [embedding] = (await this.embed({ texts: ['warm up'] })).embeddings;
    // Non-finite values are written as null.
    const values = JSON.parse(Buffer.from(embedding!).toString('latin1')) as (number | null)[];
    if (values.length !== this.description.dimensions) {
      throw new Error(`the ONNX graph yields ${values.length} dimensions, the configs say ${this.description.dimensions}`);
    }
    const nonFinite = values.filter((value) => value === null).length;
    if (nonFinite > 0) {
      const what = this.description.kind === 'reranker' ? 'score is' : `embedding has ${nonFinite} of its ${values.length} values`;
      const dense = this.description.dense.length > 0 ? `, then ${this.description.dense.map((layer) => layer.weightsFile).join(', ')}` : '';
      throw new Error(`the warm-up's ${what} NaN or infinite, as computed by ${this.description.onnxFile}${dense}`);
    }
  }

  get queuedSequences(): number {
    return this.batcher.queuedSequences;
  }

  /**
   * Embeds the inputs. Over-long inputs are truncated, or with `truncate: false`
   * refused (InputTooLongError); more than `maxRequestTokens` in all is refused
   * (TooManyTokensError); a full queue refuses at once (OverloadedError).
   */
  async embed(
    inputs: EmbeddingInputs,
    options: VectorOutput & { signal?: CancelSignal; truncate?: boolean; maxRequestTokens?: number; prompt?: PromptChoice } = {},
  ): Promise<EmbeddingResult> {
    const release = this.batcher.admit(inputCount(inputs));
    let sequences: Int32Array[];
    let embeddings: Promise<Uint8Array[]>;
    try {
      const { encoded, promptTokens } = await this.encode(inputs, options);
      sequences = this.checkLengths(encoded, options);
      const skips = promptTokens > 0 ? sequences.map(() => promptTokens) : undefined;
      embeddings = this.batcher.submit(sequences, { signal: options.signal, skips, output: { dimensions: options.dimensions, encoding: options.encoding } });
    } finally {
      release(); // the queue counts the sequences from here on, or the request failed
    }
    return { embeddings: await embeddings, tokenCounts: sequences.map((ids) => ids.length) };
  }

  /**
   * A cross-encoder's raw scores (logits) for (query, document) pairs, in the documents' order, and
   * each pair's tokens. Pairs are cut longest-first to the model's limit, or with `truncate: false`
   * refused when over it (InputTooLongError, its index the document's); `maxDocumentTokens` first
   * cuts each document to its own first tokens. Tokenising is bounded by the limit per pair, so a
   * request's work is bounded by its documents (MAX_RERANK_DOCUMENTS) times the limit. They share
   * the model's queue and workers with every other request (admission, batching, cancellation as
   * for embeddings).
   */
  async score(
    query: string,
    documents: string[],
    options: { truncate: boolean; direction?: 'right' | 'left'; maxDocumentTokens?: number; signal?: CancelSignal },
  ): Promise<{ logits: number[]; tokenCounts: number[] }> {
    const { truncate, direction, signal } = options;
    const release = this.batcher.admit(documents.length);
    let encoded: EncodedPair[];
    let scored: Promise<Uint8Array[]>;
    try {
      const cut = options.maxDocumentTokens === undefined ? documents : await this.tokenizer.firstTokens(documents, options.maxDocumentTokens, signal);
      encoded = await this.tokenizer.encodePairs(query, cut, { truncate, direction, signal });
      signal?.throwIfAborted();
      this.checkLengths(encoded, { truncate });
      scored = this.batcher.submit(encoded.map(({ ids }) => ids), { signal, typeIds: encoded.map(({ typeIds }) => typeIds) });
    } finally {
      release();
    }
    // Each pair's result is its one logit, as JSON text ("[x]").
    const logits = (await scored).map((bytes) => (JSON.parse(Buffer.from(bytes).toString('latin1')) as number[])[0]!);
    return { logits, tokenCounts: encoded.map(({ ids }) => ids.length) };
  }

  /**
   * A classifier's logits per item (a text, or a text and its pair, framed by the tokenizer's pair
   * template), in the items' order, and each item's tokens. Texts are tokenised as given; items
   * over the model's limit are cut (pairs longest first, `direction` choosing their end) or with
   * `truncate: false` refused (InputTooLongError).
   */
  async classify(
    items: ([string] | [string, string])[],
    options: { truncate: boolean; direction?: 'right' | 'left'; signal?: CancelSignal },
  ): Promise<{ logits: number[][]; tokenCounts: number[] }> {
    const { truncate, direction, signal } = options;
    const release = this.batcher.admit(items.length);
    let encoded: EncodedPair[];
    let scored: Promise<Uint8Array[]>;
    try {
      const singles = items.flatMap((item, index) => (item.length === 1 ? [index] : []));
      encoded = new Array(items.length);
      const texts = await this.tokenizer.encode(singles.map((index) => items[index]![0]), { signal });
      singles.forEach((index, k) => (encoded[index] = { ...texts[k]!, typeIds: new Int32Array(texts[k]!.ids.length) }));
      for (const [index, item] of items.entries()) {
        if (item.length === 2) [encoded[index]] = await this.tokenizer.encodePairs(item[0], [item[1]], { truncate, direction, signal });
      }
      signal?.throwIfAborted();
      this.checkLengths(encoded, { truncate });
      scored = this.batcher.submit(encoded.map(({ ids }) => ids), { signal, typeIds: encoded.map(({ typeIds }) => typeIds) });
    } finally {
      release();
    }
    const logits = (await scored).map((bytes) => JSON.parse(Buffer.from(bytes).toString('latin1')) as number[]);
    return { logits, tokenCounts: encoded.map(({ ids }) => ids.length) };
  }

  /** Whether the queue would take a request of `count` inputs now (admission's answer, without taking places). */
  wouldAdmit(count: number): boolean {
    return this.batcher.wouldAdmit(count);
  }

  /**
   * What would be embedded: per input its ids (prompt included, truncated) and untruncated count,
   * and how many leading tokens the pooling leaves out (the prompt, with include_prompt false).
   * `whole` tokenises every text whole, so the counts are exact (else long texts only as far as needed),
   * and then refuses (TooManyTokensError) once the inputs' total passes `maxRequestTokens`, without counting the rest.
   * A prompt is part of every input: its tokens times the inputs count against `maxRequestTokens`
   * before any input is joined to it.
   */
  async encode(
    inputs: EmbeddingInputs,
    options: { signal?: CancelSignal; prompt?: PromptChoice; whole?: boolean; maxRequestTokens?: number } = {},
  ): Promise<{ encoded: EncodedText[]; promptTokens: number }> {
    if ('tokenIds' in inputs && this.defaults.tokenIds === 'model') return { encoded: this.truncateIds(inputs.tokenIds), promptTokens: 0 };
    const prompt = choosePrompt(this.description, options.prompt ?? {}, this.defaults.promptName) ?? '';
    const promptTokens = prompt ? await this.promptTokenCount(prompt) : 0;
    const atLeast = promptTokens * inputCount(inputs);
    if (options.maxRequestTokens !== undefined && atLeast > options.maxRequestTokens) throw new TooManyTokensError(atLeast, options.maxRequestTokens, true);
    // OpenAI's meaning of token ids: its cl100k_base encoding, embedded exactly as the text they stand for.
    const texts = 'texts' in inputs ? inputs.texts : inputs.tokenIds.map(decodeOpenAiTokens);
    const countUpTo = options.whole ? options.maxRequestTokens : undefined;
    const encoded = await this.tokenize(prompt ? texts.map((text) => prompt + text) : texts, { signal: options.signal, whole: options.whole, countUpTo });
    if (countUpTo !== undefined) {
      const total = encoded.reduce((sum, { length }) => sum + length, 0);
      if (total > countUpTo) throw new TooManyTokensError(total, countUpTo, encoded.length < texts.length || encoded.some(({ lengthIsLowerBound }) => lengthIsLowerBound));
    }
    return { encoded, promptTokens: prompt && !this.description.includePrompt ? promptTokens : 0 };
  }

  /**
   * As sentence-transformers counts a prompt to leave out: its tokens with the special ones, less
   * the closing one (at most the model's limit less one, as the prompt is truncated like any text).
   */
  private async promptTokenCount(prompt: string): Promise<number> {
    const [encoded] = await this.tokenizer.encode([prompt]);
    return encoded!.ids.length - 1;
  }

  tokenStrings(ids: ArrayLike<number>): string[] {
    return this.tokenizer.tokenStrings(ids);
  }

  /** The ids to embed, after the length checks. */
  private checkLengths(encoded: EncodedText[], options: { truncate?: boolean; maxRequestTokens?: number }): Int32Array[] {
    const limit = this.description.maxTokens;
    if (options.truncate === false) {
      const index = encoded.findIndex(({ length }) => length > limit);
      if (index >= 0) throw new InputTooLongError(index, encoded[index]!.length, limit, encoded[index]!.lengthIsLowerBound);
    }
    const sequences = encoded.map(({ ids }) => ids);
    const total = sequences.reduce((sum, ids) => sum + ids.length, 0);
    if (options.maxRequestTokens !== undefined && total > options.maxRequestTokens) throw new TooManyTokensError(total, options.maxRequestTokens);
    return sequences;
  }

  /** The texts' tokens; with `whole` and `countUpTo`, the texts after the part where the total passes it are left out. */
  private async tokenize(texts: string[], options: { signal?: CancelSignal; whole?: boolean; countUpTo?: number }): Promise<EncodedText[]> {
    const { signal, whole, countUpTo = Infinity } = options;
    let chars = 0;
    for (const text of texts) chars += text.length;
    if (chars <= INLINE_CHARS) return this.tokenizer.encode(texts, { whole, signal, countUpTo });
    // Handed over in parts: copying ~18 MB of texts to the thread in one message held the HTTP thread ~40 ms. One part
    // at a time, so a request has one job on the thread pool at a time (tokenizer.ts) and a cancelled one stops.
    const encoded: EncodedText[] = [];
    let counted = 0;
    for (let start = 0, partChars = 0, index = 0; index <= texts.length; index++) {
      if (index === texts.length || (partChars > 0 && partChars + texts[index]!.length > THREAD_MESSAGE_CHARS)) {
        // A turn of its own for each message (the texts may have just been copied onto this thread, in the turn before).
        await yieldToEventLoop();
        signal?.throwIfAborted();
        for (const tokens of await this.tokenizerThread.encode(texts.slice(start, index), { whole, signal, countUpTo: countUpTo - counted })) {
          encoded.push(tokens);
          counted += tokens.length;
        }
        if (counted > countUpTo) break;
        start = index;
        partChars = 0;
      }
      partChars += texts[index]?.length ?? 0;
    }
    signal?.throwIfAborted();
    return encoded;
  }

  private truncateIds(tokenIds: number[][]): EncodedText[] {
    return tokenIds.map((ids) => ({ ids: Int32Array.from(ids.slice(0, this.description.maxTokens)), length: ids.length, lengthIsLowerBound: false }));
  }

  async close() {
    await Promise.all([this.backend.close(), this.tokenizerThread.close()]);
  }
}
