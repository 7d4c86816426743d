/**
 * The prompt an LLM reranker reads a (query, document) pair in, as Qwen3-Reranker's model card
 * builds it: the system text and the user turn's opening (`prefix`), then
 * `<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}`, then the assistant turn
 * with an empty think block (`suffix`), after which the model's next token is "yes" or "no".
 * Each part is tokenised on its own, as the card does (tokenizer(prefix), tokenizer(pairs),
 * tokenizer(suffix)), and the middle one is cut to the model's limit less the prefix's and the
 * suffix's tokens (truncation of the formatted text from its end, so a long document loses its
 * end, and a query longer than the room leaves none of the document).
 */
import type { CancelSignal } from '../../cancellation.ts';
import type { EncodedText, TextTokenizer } from './tokenizer.ts';

export interface RerankPromptTemplate {
  prefix: string;
  suffix: string;
  /** The instruction when a request gives none. */
  defaultInstruction: string;
  body(instruction: string, query: string, document: string): string;
}

export const QWEN3_RERANK_PROMPT: RerankPromptTemplate = {
  prefix:
    '<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. ' +
    'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n',
  suffix: '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  defaultInstruction: 'Given a web search query, retrieve relevant passages that answer the query',
  body: (instruction, query, document) => `<Instruct>: ${instruction}\n<Query>: ${query}\n<Document>: ${document}`,
};

/** A template's prompts over one tokenizer, for inputs of at most `maxTokens` tokens. */
export class RerankPrompt {
  private constructor(
    private readonly template: RerankPromptTemplate,
    private readonly tokenizer: TextTokenizer,
    private readonly prefix: Int32Array,
    private readonly suffix: Int32Array,
    /** Tokens left to the formatted pair. */
    private readonly room: number,
  ) {}

  static async load(template: RerankPromptTemplate, tokenizer: TextTokenizer, maxTokens: number): Promise<RerankPrompt> {
    const [prefix, suffix] = await tokenizer.ownTokens([template.prefix, template.suffix], maxTokens + 1, 'start');
    const room = maxTokens - prefix!.length - suffix!.length;
    if (room <= 0) throw new Error(`its reranking prompt takes ${prefix!.length + suffix!.length} tokens, and its limit is ${maxTokens}`);
    return new RerankPrompt(template, tokenizer, prefix!.ids, suffix!.ids, room);
  }

  /**
   * Each document's prompt with the query, cut to the limit (the formatted pair loses its end, or with `direction`
   * left its start, TEI's truncation_direction); `length` counts the whole prompt (a lower bound for a
   * long one), for a caller refusing what is over the limit instead.
   */
  async encode(query: string, documents: string[], options: { instruction?: string; direction?: 'right' | 'left'; signal?: CancelSignal } = {}): Promise<EncodedText[]> {
    const instruction = options.instruction ?? this.template.defaultInstruction;
    const texts = documents.map((document) => this.template.body(instruction, query, document));
    const bodies = await this.tokenizer.ownTokens(texts, this.room, options.direction === 'left' ? 'end' : 'start', options.signal);
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
