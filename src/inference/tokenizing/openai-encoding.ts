import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';

/**
 * OpenAI's `cl100k_base` encoding, which the OpenAI API reads token-id input in, and which
 * LangChain's OpenAIEmbeddings sends by default (it tiktoken-encodes every text). js-tiktoken
 * ships the ranks, so this works offline. Loading takes ~300 ms: done once, at model load.
 */
let encoding: Tiktoken | undefined;
const cl100kEncoding = () => (encoding ??= new Tiktoken(cl100k));

/** Ordinary ranks are 0 to 100255; the special tokens sit above. */
const LAST_RANK = 100_255;
const SPECIAL_IDS = new Set(Object.values(cl100k.special_tokens));

export function loadOpenAiEncoding() {
  cl100kEncoding();
}

export function isOpenAiTokenId(id: number): boolean {
  return Number.isInteger(id) && ((id >= 0 && id <= LAST_RANK) || SPECIAL_IDS.has(id));
}

/** The text a sequence of cl100k_base ids stands for (bytes split mid-character become U+FFFD, as any decoder does). */
export function decodeOpenAiTokens(ids: number[]): string {
  return cl100kEncoding().decode(ids);
}
