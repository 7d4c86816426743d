import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer, type Encoding, type TruncationStrategy } from 'tokenizers';
import { readJson, type Json } from './config-json.ts';
import { wordPieceFastPath } from './wordpiece.ts';

/**
 * Text → token ids exactly as sentence-transformers gets them: from the Rust `tokenizers` library
 * (Hugging Face's Node binding of it), which is what sentence-transformers runs, so every
 * tokenizer.json — WordPiece, Unigram with its `Precompiled` normaliser, byte-level BPE,
 * SentencePiece-style BPE with byte fallback — and every post-processor gives the same ids by
 * construction. The text is stripped (and lowercased if sentence_bert_config says so), special
 * tokens are added, and it is truncated to `maxTokens` with the closing special tokens kept.
 * Settings stored in tokenizer.json's own `truncation`/`padding` are ignored, as
 * sentence-transformers overrides them. Plain BERT WordPiece tokenizers take a faster path for
 * printable-ASCII text, with the same ids (wordpiece.ts).
 *
 * The Rust library encodes on libuv's thread pool (its calls are asynchronous): the calling thread
 * only hands the text over and reads the ids back.
 */
export interface TextTokenizer {
  /**
   * Per text, the ids to embed (truncated) and how many tokens the whole text has. A long text is
   * tokenised only as far as truncation needs; then `length` is a lower bound and
   * `lengthIsLowerBound` is set. `whole` tokenises every text whole, so every count is exact.
   */
  encode(texts: string[], options?: { whole?: boolean }): Promise<EncodedText[]>;
  /**
   * (query, document) pairs as a cross-encoder reads them: the tokenizer's pair template
   * ([CLS] q [SEP] d [SEP] with token types 0/1; <s> q </s></s> d </s>), cut longest-first to
   * `maxTokens` as sentence-transformers' CrossEncoder does, or with `truncate: false` whole (then
   * `length` may exceed the limit, for the caller to refuse). Texts are used as given (not stripped).
   */
  encodePairs(pairs: [string, string][], options: { truncate: boolean; direction?: 'right' | 'left' }): Promise<EncodedPair[]>;
  /** Each text cut after its first `tokens` tokens (its own, no special ones), at the end of the last one kept. */
  firstTokens(texts: string[], tokens: number): Promise<string[]>;
  /** The token strings of ids. */
  tokenStrings(ids: ArrayLike<number>): string[];
  readonly padId: number;
}

export interface EncodedPair {
  ids: Int32Array;
  typeIds: Int32Array;
  length: number;
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

/** A special token as tokenizer_config.json writes it: a string, or an object with its content. */
const tokenContent = (token: unknown): string | undefined =>
  typeof token === 'string' ? token : typeof token === 'object' && token !== null && typeof (token as Json).content === 'string' ? ((token as Json).content as string) : undefined;

/**
 * The special tokens the post-processor puts around a single sequence ([CLS] … [SEP]; <s> … </s>;
 * <bos> … <eos>; … <|endoftext|>), which truncation keeps.
 */
async function specialTokenFrame(tokenizer: Tokenizer): Promise<{ before: number[]; after: number[] }> {
  const plain = (await tokenizer.encode(PROBE, null, { addSpecialTokens: false })).getIds();
  const framed = (await tokenizer.encode(PROBE)).getIds();
  for (let before = 0; before + plain.length <= framed.length; before++) {
    if (plain.every((id, i) => framed[before + i] === id)) {
      return { before: framed.slice(0, before), after: framed.slice(before + plain.length) };
    }
  }
  throw new Error('the tokenizer post-processor does not keep the text tokens together; cannot truncate like sentence-transformers');
}

/** Loads `<dir>/tokenizer.json` (and tokenizer_config.json for the padding token); never downloads. */
export async function loadTokenizer(dir: string, options: { maxTokens: number; lowercase: boolean }): Promise<TextTokenizer> {
  // The Rust library would otherwise spread each batch over every core, busy-waiting beside the inference workers.
  process.env.TOKENIZERS_PARALLELISM ??= 'false';
  const { maxTokens, lowercase } = options;
  const path = join(dir, 'tokenizer.json');
  const text = await readFile(path, 'utf8');
  let tokenizer: Tokenizer;
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
    tokenizer = Tokenizer.fromString(text);
  } catch (error) {
    throw new Error(`${path} is not a tokenizer the Rust tokenizers library reads: ${(error as Error).message}`);
  }
  tokenizer.disableTruncation();
  tokenizer.disablePadding();
  // Pairs are cut by the library itself (its longest-first rule is what CrossEncoder gets), on instances of their own.
  const pairTokenizers = new Map<'right' | 'left', Tokenizer>();
  const pairTokenizer = (direction: 'right' | 'left') => {
    let found = pairTokenizers.get(direction);
    if (!found) {
      found = Tokenizer.fromString(text);
      // The binding's enums are const enums its JavaScript does not export: their values, written out.
      found.setTruncation(maxTokens, { strategy: 'LongestFirst' as TruncationStrategy, direction });
      found.disablePadding();
      pairTokenizers.set(direction, found);
    }
    return found;
  };
  const frame = await specialTokenFrame(tokenizer);
  const before = frame.before.length;
  const after = frame.after.length;
  if (after >= maxTokens) throw new Error(`max tokens ${maxTokens} leaves no room for text`);
  const tokenizerConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const padToken = tokenContent(tokenizerConfig.pad_token);
  const padId = (padToken !== undefined ? tokenizer.tokenToId(padToken) : null) ?? ((json.padding as Json | null)?.pad_id as number | undefined) ?? 0;
  const fastEncode = wordPieceFastPath(json, frame.before, frame.after);

  // Texts asked for in one event-loop turn (concurrent requests) go to the library in one call: each call is a hop to
  // libuv's thread pool and back, which cost more CPU than encoding a short text.
  let waiting: { texts: string[]; resolve: (ids: number[][]) => void; reject: (error: Error) => void }[] = [];
  const flush = () => {
    const batch = waiting;
    waiting = [];
    const texts = batch.flatMap((entry) => entry.texts);
    tokenizer.encodeBatch(texts).then(
      (encodings) => {
        let next = 0;
        for (const entry of batch) entry.resolve(encodings.slice(next, (next += entry.texts.length)).map((encoding) => encoding.getIds()));
      },
      (error: Error) => batch.forEach((entry) => entry.reject(error)),
    );
  };
  const rustIds = (texts: string[]): Promise<number[][]> =>
    new Promise((resolve, reject) => {
      if (waiting.length === 0) setImmediate(flush);
      waiting.push({ texts, resolve, reject });
    });
  const tokenize = async (text: string) => fastEncode?.(text) ?? (await rustIds([text]))[0]!;

  /** `ids` of the whole text, or of a prefix (then the text's count is at least theirs). */
  const truncate = (ids: number[], lengthIsLowerBound: boolean): EncodedText => {
    const length = ids.length;
    if (ids.length <= maxTokens) return { ids: Int32Array.from(ids), length, lengthIsLowerBound };
    const truncated = new Int32Array(maxTokens);
    truncated.set(ids.slice(0, maxTokens - after));
    truncated.set(ids.slice(ids.length - after), maxTokens - after);
    return { ids: truncated, length, lengthIsLowerBound };
  };

  const firstBudget = Math.max(WHOLE_TEXT_CHARS, maxTokens * PREFIX_CHARS_PER_TOKEN);

  /**
   * Truncation keeps only the first tokens, so a long text is tokenised from a prefix cut just
   * before an ASCII space, a word boundary for every pre-tokenizer (WordPiece, byte-level BPE,
   * Metaspace). When the prefix yields more than the kept tokens plus a margin, its first tokens
   * are the whole text's; otherwise a longer prefix is tried, up to the whole text. A 19 MB text
   * costs a few kB of tokenising instead of seconds.
   */
  const encodePrefix = async (text: string): Promise<EncodedText> => {
    // The kept tokens (maxTokens - after), plus the margin, plus the special tokens the prefix is framed with.
    const enough = maxTokens + before + PREFIX_MARGIN_TOKENS;
    let tried = 0;
    for (let budget = firstBudget; budget < text.length; budget *= PREFIX_GROWTH) {
      // Cut before a run of spaces; a run reaching back past the last budget gives no new prefix (and each character is walked once).
      let cut = text.lastIndexOf(' ', budget);
      while (cut > tried && text.charCodeAt(cut - 1) === SPACE) cut--;
      const previous = tried;
      tried = budget;
      if (cut <= previous) continue;
      const ids = await tokenize(text.slice(0, cut));
      if (ids.length > enough) return truncate(ids, true);
    }
    return truncate(await tokenize(text), false);
  };

  return {
    padId,
    async encode(texts, { whole = false } = {}) {
      const prepared = texts.map((text) => (lowercase ? pythonStrip(text).toLowerCase() : pythonStrip(text)));
      const encoded: EncodedText[] = new Array(texts.length);
      // Short texts the fast path does not take go to the Rust library in one call.
      const rest: number[] = [];
      const long: Promise<void>[] = [];
      prepared.forEach((text, index) => {
        if (!whole && text.length > firstBudget) {
          long.push(encodePrefix(text).then((result) => void (encoded[index] = result)));
          return;
        }
        const fast = fastEncode?.(text);
        if (fast) encoded[index] = truncate(fast, false);
        else rest.push(index);
      });
      if (rest.length > 0) (await rustIds(rest.map((index) => prepared[index]!))).forEach((ids, k) => (encoded[rest[k]!] = truncate(ids, false)));
      if (long.length > 0) await Promise.all(long);
      return encoded;
    },
    async encodePairs(pairs, { truncate, direction = 'right' }) {
      if (pairs.length === 0) return [];
      // The binding's encodeBatch takes single texts only: a call per pair (they run in parallel on the thread pool).
      const chosen = truncate ? pairTokenizer(direction) : tokenizer;
      const encodings: Encoding[] = await Promise.all(pairs.map(([query, document]) => chosen.encode(query, document)));
      return encodings.map((encoding) => {
        const ids = Int32Array.from(encoding.getIds());
        return { ids, typeIds: Int32Array.from(encoding.getTypeIds()), length: ids.length };
      });
    },
    async firstTokens(texts, tokens) {
      if (texts.length === 0) return [];
      const encodings: Encoding[] = await tokenizer.encodeBatch(texts, { addSpecialTokens: false });
      return encodings.map((encoding, index) => {
        const offsets = encoding.getOffsets();
        if (offsets.length <= tokens) return texts[index]!;
        // Offsets count code points.
        return Array.from(texts[index]!).slice(0, tokens > 0 ? offsets[tokens - 1]![1] : 0).join('');
      });
    },
    tokenStrings: (ids) => Array.from(ids, (id) => tokenizer.idToToken(id) ?? ''),
  };
}
