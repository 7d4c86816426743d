import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { wordPieceFastPath } from './wordpiece.ts';

/**
 * Text → token ids exactly as sentence-transformers gets them from the Rust
 * `tokenizers` library: the text stripped (and lowercased if its
 * sentence_bert_config says so), special tokens added, truncated to `maxTokens`
 * with the closing special tokens kept. Settings stored in tokenizer.json's own
 * `truncation`/`padding` are ignored, as sentence-transformers overrides them.
 */
export interface TextTokenizer {
  /**
   * The ids to embed (truncated) and how many tokens the whole text has. A long text is
   * tokenised only as far as truncation needs (see `encodePrefix`); then `length` is a lower
   * bound and `lengthIsLowerBound` is set.
   */
  encode(text: string): EncodedText;
  /** As `encode`, but the whole text is tokenised, so `length` is exact (for /tokenize). */
  encodeWhole(text: string): EncodedText;
  /** The token strings of ids. */
  tokenStrings(ids: ArrayLike<number>): string[];
  readonly padId: number;
}

export interface EncodedText {
  ids: Int32Array;
  length: number;
  lengthIsLowerBound: boolean;
}

const PROBE = 'hello world';

/** Python's str.isspace() characters (all in the BMP), for str.strip(). */
const PYTHON_SPACES = new Uint8Array(0x3001);
for (const code of [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]) PYTHON_SPACES[code] = 1;
for (let code = 0x2000; code <= 0x200a; code++) PYTHON_SPACES[code] = 1;
const isPythonSpace = (code: number) => code < PYTHON_SPACES.length && PYTHON_SPACES[code] === 1;

/** Python's str.strip(), in one linear scan from each end (a regex anchored at the end is quadratic on long inner runs). */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPythonSpace(text.charCodeAt(start))) start++;
  while (end > start && isPythonSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Characters first tried per token of the limit when a text is longer than that (English runs ~4–5 per token). */
const PREFIX_CHARS_PER_TOKEN = 8;
/** Texts up to this long are tokenised whole (a few ms at most), so their token count is exact. */
const WHOLE_TEXT_CHARS = 4096;
/** Each retry tokenises this many times more text. */
const PREFIX_GROWTH = 4;
/** Tokens a prefix must have beyond what is kept, so none near the cut is used. */
const PREFIX_MARGIN_TOKENS = 16;
const SPACE = 0x20;

/**
 * How many special tokens the post-processor puts before and after a single
 * sequence ([CLS] … [SEP] → 1 and 1; <s> … </s> → 1 and 1; … <eos> → 0 and 1).
 */
function specialTokenFrame(tokenizer: PreTrainedTokenizer): { before: number[]; after: number[] } {
  const plain = tokenizer.encode(PROBE, { add_special_tokens: false });
  const framed = tokenizer.encode(PROBE, { add_special_tokens: true });
  for (let before = 0; before + plain.length <= framed.length; before++) {
    if (plain.every((id, i) => framed[before + i] === id)) {
      return { before: framed.slice(0, before), after: framed.slice(before + plain.length) };
    }
  }
  throw new Error('the tokenizer post-processor does not keep the text tokens together; cannot truncate like sentence-transformers');
}

/** Loads `<artifactsDir>/<repo>/tokenizer.json` and friends with @huggingface/transformers; never downloads. */
export async function loadTokenizer(
  artifactsDir: string,
  repo: string,
  options: { maxTokens: number; lowercase: boolean },
): Promise<TextTokenizer> {
  const { maxTokens, lowercase } = options;
  env.localModelPath = artifactsDir.endsWith('/') ? artifactsDir : `${artifactsDir}/`;
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  const tokenizer = await AutoTokenizer.from_pretrained(repo, { local_files_only: true });
  const frame = specialTokenFrame(tokenizer);
  const before = frame.before.length;
  const after = frame.after.length;
  if (after >= maxTokens) throw new Error(`max tokens ${maxTokens} leaves no room for text`);
  const tokenById: string[] = [];
  for (const [token, id] of tokenizer.get_vocab()) tokenById[id] = token;
  const tokenizerJson = JSON.parse(await readFile(join(artifactsDir, repo, 'tokenizer.json'), 'utf8'));
  const fastEncode = wordPieceFastPath(tokenizerJson, frame.before, frame.after);
  const tokenize = (text: string) => {
    const normalized = lowercase ? text.toLowerCase() : text;
    return fastEncode?.(normalized) ?? tokenizer.encode(normalized, { add_special_tokens: true });
  };

  /** `ids` of the whole text, or of a prefix (then the text's count is at least theirs). */
  const truncate = (ids: number[], lengthIsLowerBound: boolean): EncodedText => {
    const length = ids.length;
    if (ids.length <= maxTokens) return { ids: Int32Array.from(ids), length, lengthIsLowerBound };
    const truncated = new Int32Array(maxTokens);
    truncated.set(ids.slice(0, maxTokens - after));
    truncated.set(ids.slice(ids.length - after), maxTokens - after);
    return { ids: truncated, length, lengthIsLowerBound };
  };

  /**
   * Truncation keeps only the first tokens, so a long text is tokenised from a prefix cut just
   * before an ASCII space, a word boundary for every pre-tokenizer (WordPiece, byte-level BPE,
   * Metaspace). When the prefix yields more than the kept tokens plus a margin, its first tokens
   * are the whole text's; otherwise a longer prefix is tried, up to the whole text. A 19 MB text
   * costs a few kB of tokenising instead of seconds.
   */
  const encodePrefix = (text: string): EncodedText => {
    // The kept tokens (maxTokens - after), plus the margin, plus the special tokens the prefix is framed with.
    const enough = maxTokens + before + PREFIX_MARGIN_TOKENS;
    let tried = 0;
    for (let budget = Math.max(WHOLE_TEXT_CHARS, maxTokens * PREFIX_CHARS_PER_TOKEN); budget < text.length; budget *= PREFIX_GROWTH) {
      // Cut before a run of spaces; a run reaching back past the last budget gives no new prefix (and each character is walked once).
      let cut = text.lastIndexOf(' ', budget);
      while (cut > tried && text.charCodeAt(cut - 1) === SPACE) cut--;
      const previous = tried;
      tried = budget;
      if (cut <= previous) continue;
      const ids = tokenize(text.slice(0, cut));
      if (ids.length > enough) return truncate(ids, true);
    }
    return truncate(tokenize(text), false);
  };

  return {
    padId: tokenizer.pad_token_id ?? 0,
    encode: (text) => encodePrefix(pythonStrip(text)),
    encodeWhole: (text) => truncate(tokenize(pythonStrip(text)), false),
    tokenStrings: (ids) => Array.from(ids, (id) => tokenById[id] ?? ''),
  };
}
