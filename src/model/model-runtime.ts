import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CancelSignal } from '../cancellation.ts';
import { choosePrompt, type PromptChoice } from '../prompts.ts';
import type { TokenIdMeaning } from '../config.ts';
import { decodeOpenAiTokens, loadOpenAiEncoding } from '../inference/tokenizing/openai-encoding.ts';
import { Batcher, type BatchLimits, type BatchStats, type HeadOptions } from '../batching/batcher.ts';
import type { RunMemory } from '../batching/run-memory.ts';
import { InputTooLongError, TooManyTokensError } from '../embedding-errors.ts';
import type { ModelDescription } from '../inference/files/model-files.ts';
import { OnnxBackend } from '../inference/onnx/onnx-backend.ts';
import { runPeakBytes } from '../batching/run-peak.ts';
import { MAX_RUN_TOKENS } from '../inference/onnx/sub-batches.ts';
import { loadTokenizer, type EncodedPair, type EncodedText, type JoinedTexts, type TextTokenizer, type TokenSpan, type Truncation } from '../inference/tokenizing/tokenizer.ts';
import { CALIBRATION_TEXTS } from '../inference/output/calibration-texts.ts';
import { findHead } from '../inference/heads/head-spec.ts';
import type { Int8Ranges } from '../inference/output/quantize.ts';
import { TokenizerThread } from '../inference/tokenizing/tokenizer-thread.ts';
import { loadRerankPrompt, type RerankPrompt } from '../inference/tokenizing/llm-rerank-prompt.ts';
import { checkWarmUp } from './head-output.ts';

/** Texts, or sequences of token ids (OpenAI's cl100k_base ids, or the model's own, per the model's TOKEN_IDS). */
export type EmbeddingInputs = { texts: string[] } | { tokenIds: number[][] };

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

export const inputCount = (inputs: EmbeddingInputs) => ('texts' in inputs ? inputs.texts.length : inputs.tokenIds.length);

export interface RuntimeOptions {
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
}

/**
 * A loaded model's machinery, shared by every sibling that serves it (Embedder, Reranker, …) and every id of
 * models.txt that names it: tokenizer and tokenizer thread, the batching queue, the ONNX workers and their heads.
 * It tokenises and checks lengths, admits requests to the queue, and runs sequences through the heads they want.
 */
export class ModelRuntime {
  private constructor(
    readonly description: ModelDescription,
    private readonly tokenizer: TextTokenizer,
    private readonly tokenizerThread: TokenizerThread,
    private readonly backend: OnnxBackend,
    private readonly batcher: Batcher,
    /** An LLM reranker's prompt (description.rerankPrompt). */
    private readonly rerankPrompt: RerankPrompt | undefined,
  ) {}

  static async load(description: ModelDescription, options: RuntimeOptions): Promise<ModelRuntime> {
    // The warm-up's batch and runs are not served work: metrics count from after it.
    let counting = false;
    const onBatch = (stats: BatchStats) => counting && options.onBatch?.(stats);
    const onRun = (worker: number, seconds: number) => counting && options.onRun?.(worker, seconds);
    // A classifier's texts are tokenised as given, as transformers' pipeline and TEI read them (not stripped, as sentence-transformers does).
    const tokenizerSetup = { dir: description.dir, maxTokens: description.maxTokens, lowercase: description.lowercase, asGiven: description.kind === 'classifier' };
    const tokenizer = await loadTokenizer(description.dir, tokenizerSetup);
    const rerankPrompt = description.rerankPrompt && (await loadRerankPrompt(description.rerankPrompt, tokenizer, description.maxTokens));
    // A text longer than a run's token cap runs alone, as long as it is; the arena would keep that run's memory for
    // good, so it stays only where the plan has room for every worker keeping its longest run's (faster long runs:
    // a 2048-token one took 1.1 s with the arena, 1.4-3.0 s without, the first of each length the slowest).
    const memoryArena = description.maxTokens <= MAX_RUN_TOKENS || options.keepArena === true;
    // A pooled head's int8/uint8 ranges come from these texts' vectors, run in each worker at its start.
    const calibration = findHead(description.heads, 'pooled') && (await tokenizer.encode(CALIBRATION_TEXTS));
    const starting = OnnxBackend.start(
      {
        onnxPath: description.onnxFile,
        intraOpThreads: options.intraOpThreads,
        memoryArena,
        heads: description.heads,
        padId: tokenizer.padId,
        calibration: calibration && { ids: Int32Array.from(calibration.flatMap(({ ids }) => [...ids])), lengths: Int32Array.from(calibration, ({ ids }) => ids.length) },
      },
      options.workers,
      { onRun },
    );
    // ~0.25 s of this thread, spent while the workers start.
    if (options.loadOpenAiEncoding) loadOpenAiEncoding();
    const backend = await starting;
    // The worker runs a batch as sub-batches of at most MAX_RUN_TOKENS padded tokens, one after another (sub-batches.ts):
    // a batch's peak is its largest run's, not the whole batch's (4x less for a full batch of short texts).
    const runRows = (batch: number, longest: number) => Math.min(batch, Math.max(1, Math.floor(MAX_RUN_TOKENS / longest)));
    const memory = options.runMemory && {
      budget: options.runMemory,
      peakBytes: (batch: number, longest: number) => runPeakBytes(description.runShape, runRows(batch, longest), longest, memoryArena),
    };
    const batcher = new Batcher(backend, options.batching, onBatch, memory);
    const runtime = new ModelRuntime(description, tokenizer, new TokenizerThread(tokenizerSetup), backend, batcher, rerankPrompt);
    try {
      await runtime.warmUp();
    } catch (error) {
      await runtime.close();
      throw error;
    }
    counting = true;
    // Every worker's busy-time series exists from the start, at 0: an idle worker shows as idle, not as missing.
    for (let worker = 0; worker < options.workers; worker++) options.onRun?.(worker, 0);
    return runtime;
  }

  /** One run through the whole path, every head at once; each head's output is checked (head-output.ts). */
  private async warmUp() {
    const { encoded, promptTokens } = await this.encode({ texts: ['warm up'] }, {}, { tokenIds: 'model', promptName: undefined });
    const heads = this.description.heads.map((_, index) => index);
    const blobs = await this.batcher.submit(encoded.map(({ ids }) => ids), { heads, skips: promptTokens > 0 ? [promptTokens] : undefined });
    this.description.heads.forEach((head, index) => checkWarmUp(this.description, head, blobs[index]![0]!));
  }

  /** The pooled head's int8/uint8 ranges for its full vector (quantize.ts), from the calibration texts. */
  get int8Ranges(): Int8Ranges | undefined {
    return this.backend.int8Ranges;
  }

  get queuedSequences(): number {
    return this.batcher.queuedSequences;
  }

  /** Whether the queue would take a request of `count` inputs now (admission's answer, without taking places). */
  wouldAdmit(count: number): boolean {
    return this.batcher.wouldAdmit(count);
  }

  /**
   * Takes `count` places in the queue before any work, or refuses at once when it is full (OverloadedError);
   * returns the release, to call once the sequences are submitted (or the request failed).
   */
  admit(count: number): () => void {
    return this.batcher.admit(count);
  }

  /**
   * Runs the sequences through the heads `heads` (indexes among the description's heads), in one graph run per
   * batch whatever their number; per head, in that order, each sequence's blob (head-output.ts says what it holds).
   */
  submit(
    sequences: Int32Array[],
    options: {
      heads: readonly number[];
      signal?: CancelSignal;
      skips?: readonly number[];
      attended?: readonly number[];
      typeIds?: readonly Int32Array[];
      /** Per sequence, spans a pooled head pools each on its own (late chunking). */
      spans?: readonly Int32Array[];
      headOptions?: HeadOptions;
    },
  ): Promise<Uint8Array[][]> {
    return this.batcher.submit(sequences, options);
  }

  /**
   * Encoded pairs (or texts with their token types) through one head, after the length checks: per pair, its blob.
   * The caller has admitted them and releases its places once this returns (the queue counts them from here on).
   */
  async submitPairs(encoded: (EncodedText & { typeIds?: Int32Array })[], head: number, options: { truncate: boolean; signal?: CancelSignal }): Promise<Uint8Array[]> {
    this.checkLengths(encoded, options);
    const blobs = this.submit(
      encoded.map(({ ids }) => ids),
      { heads: [head], signal: options.signal, typeIds: encoded.some(({ typeIds }) => typeIds) ? encoded.map(({ typeIds }) => typeIds!) : undefined },
    );
    return (await blobs)[0]!;
  }

  /**
   * What would be run: per input its ids (prompt included, truncated) and untruncated count,
   * and how many leading tokens the pooling leaves out (the prompt, with include_prompt false).
   * `whole` tokenises every text whole, so the counts are exact (else long texts only as far as needed),
   * and then refuses (TooManyTokensError) once the inputs' total passes `maxRequestTokens`, without counting the rest.
   * A prompt is part of every input: its tokens times the inputs count against `maxRequestTokens`
   * before any input is joined to it. `defaults` are the id's (models.txt) that the request came for.
   */
  async encode(
    inputs: EmbeddingInputs,
    options: { signal?: CancelSignal; prompt?: PromptChoice; whole?: boolean; maxRequestTokens?: number; truncation?: Truncation },
    defaults: IdDefaults,
  ): Promise<{ encoded: EncodedText[]; promptTokens: number }> {
    if ('tokenIds' in inputs && defaults.tokenIds === 'model') return { encoded: this.truncateIds(inputs.tokenIds), promptTokens: 0 };
    const prompt = choosePrompt(this.description, options.prompt ?? {}, defaults.promptName) ?? '';
    const promptTokens = prompt ? await this.promptTokenCount(prompt) : 0;
    const atLeast = promptTokens * inputCount(inputs);
    if (options.maxRequestTokens !== undefined && atLeast > options.maxRequestTokens) throw new TooManyTokensError(atLeast, options.maxRequestTokens, true);
    // OpenAI's meaning of token ids: its cl100k_base encoding, embedded exactly as the text they stand for.
    const texts = 'texts' in inputs ? inputs.texts : inputs.tokenIds.map(decodeOpenAiTokens);
    const countUpTo = options.whole ? options.maxRequestTokens : undefined;
    const encoded = await this.tokenize(prompt ? texts.map((text) => prompt + text) : texts, { signal: options.signal, whole: options.whole, countUpTo, ...options.truncation });
    if (countUpTo !== undefined) {
      const total = encoded.reduce((sum, { length }) => sum + length, 0);
      if (total > countUpTo) throw new TooManyTokensError(total, countUpTo, encoded.length < texts.length || encoded.some(({ lengthIsLowerBound }) => lengthIsLowerBound));
    }
    return { encoded, promptTokens: prompt && !this.description.includePrompt ? promptTokens : 0 };
  }

  /**
   * (query, document) pairs as a cross-encoder reads them, cut longest-first to the model's limit (or, with
   * `truncate: false`, left whole for checkLengths to refuse); `maxDocumentTokens` first cuts each document to its
   * own first tokens. Tokenising is bounded by the limit per pair.
   */
  async encodePairs(
    query: string,
    documents: string[],
    options: { truncate: boolean; direction?: 'right' | 'left'; maxDocumentTokens?: number; signal?: CancelSignal },
  ): Promise<EncodedPair[]> {
    const { truncate, direction, signal } = options;
    const cut = await this.firstTokens(documents, options.maxDocumentTokens, signal);
    const encoded = await this.tokenizer.encodePairs(query, cut, { truncate, direction, signal });
    signal?.throwIfAborted();
    return encoded;
  }

  /**
   * An LLM reranker's (query, document) pairs in its prompt (llm-rerank-prompt.ts), `instruction` in it (absent: the
   * prompt's default), each cut to the model's limit (for `truncate: false`, left whole for checkLengths to refuse);
   * `maxDocumentTokens` first cuts each document to its own first tokens.
   */
  async encodePrompts(
    query: string,
    documents: string[],
    options: { instruction?: string; direction?: 'right' | 'left'; maxDocumentTokens?: number; signal?: CancelSignal },
  ): Promise<EncodedText[]> {
    const { signal } = options;
    const cut = await this.firstTokens(documents, options.maxDocumentTokens, signal);
    const encoded = await this.rerankPrompt!.encode(query, cut, options);
    signal?.throwIfAborted();
    return encoded;
  }

  /**
   * Cohere's `max_tokens_per_doc`: each document cut after its own first `tokens` tokens (no special ones), before any
   * other truncation; the documents as they are when `tokens` is absent.
   */
  async firstTokens(documents: string[], tokens: number | undefined, signal?: CancelSignal): Promise<string[]> {
    return tokens === undefined ? documents : this.tokenizer.firstTokens(documents, tokens, signal);
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

  /** How many special tokens the tokenizer puts after a text (a cut keeps them). */
  get closingTokens(): number {
    return this.tokenizer.closingTokens;
  }

  /** How many special tokens `encode` frames each text with, before it and after it. */
  get frame(): { before: number; after: number } {
    return this.tokenizer.frame;
  }

  /** Each text's every token with the characters it stands for (TEI's /tokenize). */
  tokenSpans(texts: string[], addSpecialTokens: boolean): Promise<TokenSpan[][]> {
    return this.tokenizer.tokenSpans(texts, addSpecialTokens);
  }

  /** Each sequence of the model's token ids as text. */
  decode(sequences: number[][], skipSpecialTokens: boolean): Promise<string[]> {
    return this.tokenizer.decode(sequences, skipSpecialTokens);
  }

  /** The texts as one sequence, with each one's span (late chunking). */
  encodeJoined(texts: string[], prompt: string, signal?: CancelSignal): Promise<JoinedTexts> {
    return this.tokenizer.encodeJoined(texts, prompt, signal);
  }

  /**
   * The ids to run, after the length checks: with `truncate: false` an input over the model's limit (or the request's
   * `maxTokens`, below it) is refused (InputTooLongError), and more than `maxRequestTokens` in all is (TooManyTokensError).
   */
  checkLengths(encoded: EncodedText[], options: { truncate?: boolean; maxRequestTokens?: number; maxTokens?: number }): Int32Array[] {
    const limit = Math.min(this.description.maxTokens, options.maxTokens ?? Infinity);
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
  private async tokenize(texts: string[], options: { signal?: CancelSignal; whole?: boolean; countUpTo?: number } & Truncation): Promise<EncodedText[]> {
    const { signal, whole, countUpTo = Infinity, direction, maxTokens } = options;
    let chars = 0;
    for (const text of texts) chars += text.length;
    if (chars <= INLINE_CHARS) return this.tokenizer.encode(texts, { whole, signal, countUpTo, direction, maxTokens });
    // Handed over in parts: copying ~18 MB of texts to the thread in one message held the HTTP thread ~40 ms. One part
    // at a time, so a request has one job on the thread pool at a time (tokenizer.ts) and a cancelled one stops.
    const encoded: EncodedText[] = [];
    let counted = 0;
    for (let start = 0, partChars = 0, index = 0; index <= texts.length; index++) {
      if (index === texts.length || (partChars > 0 && partChars + texts[index]!.length > THREAD_MESSAGE_CHARS)) {
        // A turn of its own for each message (the texts may have just been copied onto this thread, in the turn before).
        await yieldToEventLoop();
        signal?.throwIfAborted();
        for (const tokens of await this.tokenizerThread.encode(texts.slice(start, index), { whole, signal, countUpTo: countUpTo - counted, direction, maxTokens })) {
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
