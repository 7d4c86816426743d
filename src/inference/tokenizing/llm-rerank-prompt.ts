/**
 * The prompts LLM rerankers read a (query, document) pair in, token for token as their reference
 * code builds them; the score is then read from the logits at the prompt's last token.
 *
 * - `qwen3`, Qwen3-Reranker's model card: the system text and the user turn's opening (prefix),
 *   `<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}`, the assistant turn with
 *   an empty think block (suffix). Each part is tokenised on its own, as the card does, and the
 *   middle one is cut to the model's limit less the prefix's and the suffix's tokens (from its end:
 *   a long document loses its end; a query longer than the room leaves none of the document).
 * - `bge-gemma`, FlagEmbedding's FlagLLMReranker (bge-reranker-v2-gemma): `<bos>`, `A: {query}` cut
 *   to ¾ of `max_length`, then "\n" and `B: {passage}` cut so the pair fits `max_length` plus the
 *   separator and prompt, then "\n" and the prompt (the instruction). `max_length` is the model's
 *   limit less twice the separator and prompt, so the whole stays within the limit.
 */
import type { CancelSignal } from '../../cancellation.ts';
import { InputTooLongError } from '../../embedding-errors.ts';
import type { EncodedText, KeptEnd, TextTokenizer } from './tokenizer.ts';

export type RerankPromptStyle = 'qwen3' | 'bge-gemma';

export interface PromptOptions {
  /** The task instruction in the prompt; absent: the reference code's default. */
  instruction?: string;
  /** Which end of an over-long pair truncation cuts (TEI's truncation_direction): its end (right, the default) or its start. */
  direction?: 'right' | 'left';
  signal?: CancelSignal;
}

export interface RerankPrompt {
  /**
   * Each document's prompt with the query, cut to the limit; `length` counts the whole prompt (a lower bound for a
   * long one), for a caller refusing what is over the limit instead.
   */
  encode(query: string, documents: string[], options?: PromptOptions): Promise<EncodedText[]>;
}

const QWEN3_PREFIX =
  '<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. ' +
  'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n';
const QWEN3_SUFFIX = '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n';
const QWEN3_INSTRUCTION = 'Given a web search query, retrieve relevant passages that answer the query';

const BGE_GEMMA_INSTRUCTION = "Given a query A and a passage B, determine whether the passage contains an answer to the query by providing a prediction of either 'Yes' or 'No'.";
const BGE_GEMMA_SEPARATOR = '\n';
const BGE_GEMMA_BOS = '<bos>';

const keptEnd = (direction: PromptOptions['direction']): KeptEnd => (direction === 'left' ? 'end' : 'start');
/** The `count` ids at the kept end. */
function keptIds(ids: ArrayLike<number>, count: number, end: KeptEnd): number[] {
  const all = Array.from(ids);
  return end === 'start' ? all.slice(0, count) : all.slice(Math.max(0, all.length - count));
}

class Qwen3Prompt implements RerankPrompt {
  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly prefix: Int32Array,
    private readonly suffix: Int32Array,
    /** Tokens left to the formatted pair. */
    private readonly room: number,
  ) {}

  async encode(query: string, documents: string[], options: PromptOptions = {}): Promise<EncodedText[]> {
    const instruction = options.instruction ?? QWEN3_INSTRUCTION;
    const texts = documents.map((document) => `<Instruct>: ${instruction}\n<Query>: ${query}\n<Document>: ${document}`);
    const bodies = await this.tokenizer.ownTokens(texts, this.room, keptEnd(options.direction), options.signal);
    const frame = this.prefix.length + this.suffix.length;
    return bodies.map(({ ids, length, lengthIsLowerBound }) => {
      const prompt = new Int32Array(frame + ids.length);
      prompt.set(this.prefix);
      prompt.set(ids, this.prefix.length);
      prompt.set(this.suffix, this.prefix.length + ids.length);
      return { ids: prompt, length: length + frame, lengthIsLowerBound };
    });
  }
}

class BgeGemmaPrompt implements RerankPrompt {
  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly maxTokens: number,
    private readonly bos: number[],
    private readonly separator: number[],
    private readonly defaultInstruction: number[],
  ) {}

  async encode(query: string, documents: string[], options: PromptOptions = {}): Promise<EncodedText[]> {
    const { signal } = options;
    const end = keptEnd(options.direction);
    const instruction = options.instruction === undefined ? this.defaultInstruction : Array.from((await this.tokenizer.ownTokens([options.instruction], this.maxTokens + 1, 'start', signal))[0]!.ids);
    const tail = [...this.separator, ...instruction];
    // FlagLLMReranker's max_length, and its encode_max_length (the pair before the tail).
    const maxLength = this.maxTokens - 2 * tail.length;
    if (maxLength < this.bos.length + 2) throw new InputTooLongError(0, this.bos.length + 2 * tail.length, this.maxTokens, true);
    const pairLimit = maxLength + tail.length;
    const [queryTokens] = await this.tokenizer.ownTokens([`A: ${query}`], Math.floor((maxLength * 3) / 4), end, signal);
    const passages = await this.tokenizer.ownTokens(documents.map((document) => `B: ${document}`), maxLength, end, signal);
    const first = [...this.bos, ...queryTokens!.ids];
    return passages.map((passage) => {
      const second = [...this.separator, ...passage.ids];
      const ids = [...first, ...keptIds(second, Math.max(0, Math.min(second.length, pairLimit - first.length)), end), ...tail];
      const whole = this.bos.length + queryTokens!.length + this.separator.length + passage.length + tail.length;
      return { ids: Int32Array.from(ids), length: whole, lengthIsLowerBound: queryTokens!.lengthIsLowerBound || passage.lengthIsLowerBound };
    });
  }
}

/** A style's prompts over a model's tokenizer, for pairs of at most `maxTokens` tokens (prompt included). */
export async function loadRerankPrompt(style: RerankPromptStyle, tokenizer: TextTokenizer, maxTokens: number): Promise<RerankPrompt> {
  if (style === 'qwen3') {
    const [prefix, suffix] = await tokenizer.ownTokens([QWEN3_PREFIX, QWEN3_SUFFIX], maxTokens + 1, 'start');
    const room = maxTokens - prefix!.length - suffix!.length;
    if (room <= 0) throw new Error(`its reranking prompt takes ${prefix!.length + suffix!.length} tokens, and its limit is ${maxTokens}`);
    return new Qwen3Prompt(tokenizer, prefix!.ids, suffix!.ids, room);
  }
  const [separator, instruction] = await tokenizer.ownTokens([BGE_GEMMA_SEPARATOR, BGE_GEMMA_INSTRUCTION], maxTokens + 1, 'start');
  const bos = tokenizer.tokenId(BGE_GEMMA_BOS);
  // FlagLLMReranker puts the BOS token first where the tokenizer has one that is not its padding.
  const bosIds = bos === undefined || bos === tokenizer.padId ? [] : [bos];
  if (maxTokens - 2 * (separator!.length + instruction!.length) < bosIds.length + 2) throw new Error(`its reranking prompt leaves no room for a pair within its limit of ${maxTokens} tokens`);
  return new BgeGemmaPrompt(tokenizer, maxTokens, bosIds, Array.from(separator!.ids), Array.from(instruction!.ids));
}
