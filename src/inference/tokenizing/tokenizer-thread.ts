import { RequestThread } from '../../threads/request-thread.ts';
import type { CancelSignal } from '../../cancellation.ts';
import { siblingModule } from '../../threads/module-url.ts';
import type { EncodedText, Truncation } from './tokenizer.ts';

export interface TokenizerSetup {
  /** The model's directory, holding tokenizer.json. */
  dir: string;
  maxTokens: number;
  lowercase: boolean;
  /** Texts are tokenised as given, not stripped (a classifier's, as transformers' pipeline reads them). */
  asGiven?: boolean;
}

export interface TokenizerRequest extends Truncation {
  texts: string[];
  /** Tokenise each text whole, for an exact count (else only as far as truncation needs). */
  whole: boolean;
  /** With `whole`, stop counting once the total passes this (tokenizer.ts). */
  countUpTo?: number;
}

/**
 * A thread that tokenises what would stall the HTTP thread: requests with many characters, whose
 * hand-over to the tokenizer (the texts' UTF-8) and whose ids cost milliseconds (see tokenizer.ts
 * and src/model/model-runtime.ts).
 */
export class TokenizerThread {
  private readonly thread: RequestThread<TokenizerRequest, EncodedText[]>;

  constructor(setup: TokenizerSetup) {
    this.thread = new RequestThread(siblingModule(import.meta.url, 'tokenizer-worker'), setup);
  }

  /** A cancelled signal stops the thread's tokenising between its calls into the library. */
  encode(texts: string[], options: { whole?: boolean; countUpTo?: number; signal?: CancelSignal } & Truncation = {}): Promise<EncodedText[]> {
    const { whole = false, countUpTo, signal, direction, maxTokens } = options;
    return this.thread.call({ texts, whole, countUpTo, direction, maxTokens }, [], signal);
  }

  close() {
    return this.thread.close();
  }
}
