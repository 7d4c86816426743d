import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer, type Encoding } from 'tokenizers';
import type { CancelSignal } from '../../cancellation.ts';
import { readJson, type Json } from '../files/config-json.ts';
import { wordPieceFastPath } from './wordpiece.ts';

/**
 * Text → token ids exactly as sentence-transformers gets them: from the Rust `tokenizers` library
 * (Hugging Face's Node binding of it), which is what sentence-transformers runs, so every
 * tokenizer.json — WordPiece, Unigram with its `Precompiled` normaliser, byte-level BPE,
 * SentencePiece-style BPE with byte fallback — and every post-processor gives the same ids by
 * construction. The text is stripped (and lowercased if sentence_bert_config says so; with `asGiven`, as
 * transformers' pipelines and TEI read a classifier's texts, neither), special
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
   * `lengthIsLowerBound` is set. `whole` counts every text whole (a long one in pieces), so every count is exact,
   * until the texts' total (special tokens included) passes `countUpTo`: then counting stops, the text it stopped in
   * has a lower bound, and those after it are not tokenised (no ids of their own, a lower bound of 0).
   */
  encode(texts: string[], options?: { whole?: boolean; countUpTo?: number; signal?: CancelSignal } & Truncation): Promise<EncodedText[]>;
  /**
   * (query, document) pairs as a cross-encoder reads them: the tokenizer's pair template
   * ([CLS] q [SEP] d [SEP] with token types 0/1; <s> q </s></s> d </s>), cut longest-first to
   * `maxTokens` as sentence-transformers' CrossEncoder does, or with `truncate: false` uncut (then
   * `length` may exceed the limit, for the caller to refuse). Texts are used as given (not stripped).
   * Query and documents are tokenised only as far as the cut needs, so the work is bounded by the
   * limit whatever their length; the query once.
   */
  encodePairs(query: string, documents: string[], options: { truncate: boolean; direction?: 'right' | 'left'; signal?: CancelSignal }): Promise<EncodedPair[]>;
  /**
   * Each text's own tokens (no special ones added; the text as given, not stripped), the `keep` at its `kept` end, and
   * how many it has (a lower bound for a long text, tokenised only as far as `keep` needs), for a caller that frames
   * them itself.
   */
  ownTokens(texts: string[], keep: number, kept: KeptEnd, signal?: CancelSignal): Promise<EncodedText[]>;
  /** The id of a token of the vocabulary, if it is one. */
  tokenId(token: string): number | undefined;
  /** Each text cut after its first `tokens` tokens (its own, no special ones), at the end of the last one kept. */
  firstTokens(texts: string[], tokens: number, signal?: CancelSignal): Promise<string[]>;
  /** The token strings of ids. */
  tokenStrings(ids: ArrayLike<number>): string[];
  /** Each text's every token (none cut), with the characters it stands for: prepared as `encode` prepares them, offsets into the text as given. */
  tokenSpans(texts: string[], addSpecialTokens: boolean): Promise<TokenSpan[][]>;
  /** Each id sequence's text, as the tokenizer's decoder writes it. */
  decode(sequences: number[][], skipSpecialTokens: boolean): Promise<string[]>;
  /**
   * The texts as one sequence (late chunking): the special tokens once around them all, the prompt's own tokens after
   * the leading ones, then each text's own tokens in order; with each text's span in it. Counting stops past the
   * model's limit (`length` is then a lower bound, for the caller to refuse).
   */
  encodeJoined(texts: string[], prompt: string, signal?: CancelSignal): Promise<JoinedTexts>;
  readonly padId: number;
  /** How many special tokens the post-processor puts after a text (truncation keeps them). */
  readonly closingTokens: number;
  /** How many special tokens `encode` frames each text with, before it and after it. */
  readonly frame: { before: number; after: number };
}

/** Texts joined into one sequence, and where each is in it. */
export interface JoinedTexts {
  ids: Int32Array;
  /** Per text, its tokens' [start, end) in `ids`: start at [2i], end at [2i + 1]. */
  spans: Int32Array;
  /** The sequence's tokens, special ones included; a lower bound when `lengthIsLowerBound`. */
  length: number;
  lengthIsLowerBound: boolean;
}

/** A token and where it is in its text (code points); a special token has no place there. */
export interface TokenSpan {
  id: number;
  /** The characters the token stands for; a special token's own string. */
  text: string;
  special: boolean;
  start: number | null;
  stop: number | null;
}

export interface EncodedPair {
  ids: Int32Array;
  typeIds: Int32Array;
  /** The pair's tokens before the cut; with `truncate: false` and a long text, a lower bound (`lengthIsLowerBound`). */
  length: number;
  lengthIsLowerBound: boolean;
}

/**
 * How a request truncates its texts: which end goes (`right`, the default, keeps the start; `left` keeps the end, the
 * special tokens framing either way), and a limit below the model's (`maxTokens`, special tokens included).
 */
export interface Truncation {
  direction?: 'right' | 'left';
  maxTokens?: number;
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
/**
 * Characters of text per call into the library: each call is one job on libuv's thread pool (4 threads, shared with
 * zlib and file work), and a request has one job there at a time, so no request holds a pool thread for more than
 * a job (a few ms; ~0.1 s for text that NFKC expands 18-fold), and a cancelled one stops within one.
 */
const JOB_CHARS = 16 * 1024;
const SPACE = 0x20;
/**
 * A word each piece of a text counted in pieces is tokenised after (its tokens then dropped), so the piece, which
 * starts with the spaces before a word, is tokenised as inside the text rather than as a text's start (Metaspace's
 * and Prepend's leading ▁).
 */
const CONTEXT_WORD = 'a';
/** Characters textTokens tokenises in one call at most (more when the model's own first piece is longer): tens of ms of CPU for most text, ~0.8 s for text that NFKC expands 18-fold. */
const PIECE_CAP_CHARS = 8 * JOB_CHARS;

/** Which end of a text truncation keeps: the start (cut on the right), or the end (cut on the left). */
export type KeptEnd = 'start' | 'end';

/** A text's own tokens (no special ones): all of them, or, when `lengthIsLowerBound`, those at the kept end of a piece of it. */
interface TextTokens {
  ids: number[];
  length: number;
  lengthIsLowerBound: boolean;
}

/**
 * A piece of `text` of about `budget` characters from its kept end, cut where the cut changes no token far from it:
 * just before a run of spaces (a word boundary for every pre-tokenizer: WordPiece, byte-level BPE, Metaspace; for the
 * start, with the other whitespace before them, which NFKC may turn into spaces that then merge with them), when
 * one lies beyond the last piece tried (`tried` characters); else inside a word (`midWord`), never inside a surrogate
 * pair. For the end, the piece starts with the space before a word.
 */
function textPiece(text: string, budget: number, tried: number, kept: KeptEnd): { piece: string; midWord: boolean } {
  if (kept === 'start') {
    let cut = text.lastIndexOf(' ', budget);
    while (cut > tried && isPythonSpace(text.charCodeAt(cut - 1))) cut--;
    if (cut > tried) return { piece: text.slice(0, cut), midWord: false };
    cut = budget;
    if (isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
    return { piece: text.slice(0, cut), midWord: true };
  }
  const from = text.length - budget;
  let cut = text.indexOf(' ', from);
  while (cut >= 0 && text.charCodeAt(cut + 1) === SPACE) cut++;
  if (cut >= 0 && cut < text.length - tried) return { piece: text.slice(cut), midWord: false };
  cut = from;
  if (isHighSurrogate(text.charCodeAt(cut - 1))) cut++;
  return { piece: text.slice(cut), midWord: true };
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** Characters of text beside a cut inside a word that a piece is tokenised with (more than WordPiece's longest word, 100). */
const NEIGHBOUR_CHARS = 256;

/** How many characters beside `at` (before or after it) make the neighbour of a cut there, whole surrogate pairs only. */
function neighbourChars(text: string, at: number, side: 'before' | 'after'): number {
  if (side === 'before') {
    const start = Math.max(0, at - NEIGHBOUR_CHARS);
    return at - (start > 0 && isHighSurrogate(text.charCodeAt(start - 1)) ? start + 1 : start);
  }
  const end = Math.min(text.length, at + NEIGHBOUR_CHARS);
  return (end < text.length && isHighSurrogate(text.charCodeAt(end - 1)) ? end - 1 : end) - at;
}

/** The `count` tokens at the kept end of `ids`. */
const keptTokens = (ids: number[], count: number, kept: KeptEnd) => (kept === 'start' ? ids.slice(0, count) : ids.slice(Math.max(0, ids.length - count)));

const sameTokens = (a: number[], b: number[]) => a.length === b.length && a.every((id, i) => id === b[i]);

/** A text left uncounted once a request's count passed its cap. */
const NOT_COUNTED: TextTokens = { ids: [], length: 0, lengthIsLowerBound: true };

/**
 * How many tokens each member of a pair keeps under the Rust library's LongestFirst truncation to `limit` (the model's
 * limit less the pair's special tokens): the shorter keeps all it has up to half, the longer the rest; both over
 * half keep half each, the longer (the document when equal) the odd one.
 */
function longestFirst(query: number, document: number, limit: number, queryIsLonger: boolean): [number, number] {
  if (query + document <= limit) return [query, document];
  const shorter = Math.min(query, document);
  if (shorter <= limit / 2) return queryIsLonger ? [limit - shorter, shorter] : [shorter, limit - shorter];
  const half = Math.floor(limit / 2);
  return queryIsLonger ? [half + (limit % 2), half] : [half, half + (limit % 2)];
}

/**
 * Whether the query has more tokens than the document. A count that is a lower bound is certain when it exceeds the
 * other (or the other's exact count exceeds it); between the rest (two texts of many kB, both over the limit) the
 * text with more characters.
 */
function isLonger(query: TextTokens, document: TextTokens, queryChars: number, documentChars: number): boolean {
  if (!query.lengthIsLowerBound && !document.lengthIsLowerBound) return query.length > document.length;
  if (query.lengthIsLowerBound && !document.lengthIsLowerBound && query.length > document.length) return true;
  if (document.lengthIsLowerBound && !query.lengthIsLowerBound && document.length >= query.length) return false;
  return queryChars > documentChars;
}

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

/** Where a pair's members go among the special tokens the post-processor adds, and their token types. */
interface PairTemplate {
  specialTokens: number;
  join(query: number[], document: number[]): { ids: Int32Array; typeIds: Int32Array };
}

/** The pair template, read off the post-processor's output for a probe pair. */
async function probePairTemplate(tokenizer: Tokenizer): Promise<PairTemplate> {
  const plain = (await tokenizer.encode(PROBE, null, { addSpecialTokens: false })).getIds();
  const encoding = await tokenizer.encode(PROBE, PROBE);
  const ids = encoding.getIds();
  const types = encoding.getTypeIds();
  const find = (from: number) => {
    for (let start = from; start + plain.length <= ids.length; start++) if (plain.every((id, i) => ids[start + i] === id)) return start;
    throw new Error("the tokenizer post-processor does not keep a pair's texts together; cannot truncate like sentence-transformers");
  };
  const first = find(0);
  const second = find(first + plain.length);
  const [start, middle, end] = [
    [0, first],
    [first + plain.length, second],
    [second + plain.length, ids.length],
  ].map(([from, to]) => ({ ids: ids.slice(from, to), types: types.slice(from, to) })) as [Special, Special, Special];
  const queryType = types[first]!;
  const documentType = types[second]!;
  return {
    specialTokens: ids.length - 2 * plain.length,
    join(query, document) {
      const length = start.ids.length + query.length + middle.ids.length + document.length + end.ids.length;
      const joined = new Int32Array(length);
      const typeIds = new Int32Array(length);
      let at = 0;
      const put = (part: number[], types: number[] | number) => {
        joined.set(part, at);
        if (typeof types === 'number') typeIds.fill(types, at, at + part.length);
        else typeIds.set(types, at);
        at += part.length;
      };
      put(start.ids, start.types);
      put(query, queryType);
      put(middle.ids, middle.types);
      put(document, documentType);
      put(end.ids, end.types);
      return { ids: joined, typeIds };
    },
  };
}

/** Special tokens of a template, with their token types. */
interface Special {
  ids: number[];
  types: number[];
}

/**
 * The texts in runs [from, to) of at most JOB_CHARS characters for one call each; a text over `alone` characters
 * (or over JOB_CHARS) is a run of its own.
 */
function* jobs(texts: string[], alone = Infinity): Generator<[number, number]> {
  for (let from = 0; from < texts.length; ) {
    let to = from + 1;
    if (texts[from]!.length <= alone) {
      for (let chars = texts[from]!.length; to < texts.length && texts[to]!.length <= alone && (chars += texts[to]!.length) <= JOB_CHARS; to++);
    }
    yield [from, to];
    from = to;
  }
}

/** Loads `<dir>/tokenizer.json` (and tokenizer_config.json for the padding token); never downloads. */
export async function loadTokenizer(dir: string, options: { maxTokens: number; lowercase: boolean; asGiven?: boolean }): Promise<TextTokenizer> {
  // The Rust library would otherwise spread each batch over every core, busy-waiting beside the inference workers.
  process.env.TOKENIZERS_PARALLELISM ??= 'false';
  const { maxTokens, lowercase, asGiven = false } = options;
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
  const fastPlain = fastEncode && ((text: string) => fastEncode(text)?.slice(before, -after || undefined));

  /** The texts' own tokens (no special ones), in one call into the library at most. */
  const plainIds = async (texts: string[]): Promise<number[][]> => {
    const ids: number[][] = new Array(texts.length);
    const rest: number[] = [];
    texts.forEach((text, index) => {
      const fast = fastPlain?.(text);
      if (fast) ids[index] = fast;
      else rest.push(index);
    });
    if (rest.length > 0) {
      const encodings = await tokenizer.encodeBatch(rest.map((index) => texts[index]!), { addSpecialTokens: false });
      encodings.forEach((encoding, k) => (ids[rest[k]!] = encoding.getIds()));
    }
    return ids;
  };

  const firstBudget = Math.max(WHOLE_TEXT_CHARS, maxTokens * PREFIX_CHARS_PER_TOKEN);

  /** The longest text, or piece of one, tokenised in one call by textTokens: longer texts are tokenised in pieces. */
  const longestJob = Math.max(firstBudget, PIECE_CAP_CHARS);

  /**
   * A text's tokens as far as truncation to `keep` of them needs: a long text is tokenised from a piece at its kept
   * end (textPiece). When the piece yields more than `keep` plus a margin, its kept tokens are the whole text's;
   * otherwise a piece `PREFIX_GROWTH` times longer is tried, up to `longestJob` characters; a longer text that pieces
   * so long do not fill (text that normalises to almost nothing: zero-width spaces, soft hyphens) is then tokenised
   * in pieces of JOB_CHARS from its kept end (piecewiseTokens) until they yield enough, one call at a time, the signal
   * checked between. A piece cut inside a word (a text
   * with no space) is taken only when a piece half as long gives the same kept tokens: WordPiece makes any word over
   * 100 characters one [UNK] whatever its length, and Unigram's and BPE's choices near a cut settle within a few
   * tokens of it. A 19 MB text costs a few kB of tokenising, whatever normalisation makes of its characters.
   */
  const textTokens = async (text: string, keep: number, kept: KeptEnd, signal?: CancelSignal): Promise<TextTokens & { piece: string }> => {
    const enough = keep + PREFIX_MARGIN_TOKENS;
    let tried = 0;
    for (let budget = firstBudget; budget < text.length && budget <= longestJob; budget *= PREFIX_GROWTH) {
      signal?.throwIfAborted();
      const { piece, midWord } = textPiece(text, budget, tried, kept);
      tried = budget;
      const [ids] = await plainIds([piece]);
      if (ids!.length <= enough) continue;
      if (midWord) {
        // Cut inside a word too (a space before half the budget, e.g. after a prompt, would make every check fail).
        const [shorter] = await plainIds([textPiece(text, budget >> 1, budget >> 1, kept).piece]);
        if (shorter!.length <= enough || !sameTokens(keptTokens(shorter!, keep, kept), keptTokens(ids!, keep, kept))) continue;
      }
      return { ids: ids!, length: ids!.length, lengthIsLowerBound: true, piece };
    }
    signal?.throwIfAborted();
    if (text.length > longestJob) return piecewiseTokens(text, { countUpTo: enough, keep: enough, kept, signal });
    const [ids] = await plainIds([text]);
    return { ids: ids!, length: ids!.length, lengthIsLowerBound: false, piece: text };
  };

  let contextWordTokens: Promise<number[]> | undefined;

  /**
   * A text longer than JOB_CHARS counted in pieces of at most JOB_CHARS characters from its kept end, one call each,
   * the signal checked between: only the `keep` ids at the kept end are kept, so memory is bounded whatever
   * normalisation makes of the characters. Pieces are cut before a run of spaces (a word boundary for every
   * pre-tokenizer, see textPiece) and each one that starts with spaces after other text is tokenised after
   * CONTEXT_WORD, so the count is the whole text's; a piece with no space is cut inside a word (never inside a
   * surrogate pair) and tokenised with the text beside that cut (acrossWordCut), which may still change the count by
   * a token or so there. Counting stops once it passes
   * `countUpTo` (then the length is a lower bound); `piece` is the part of the text counted.
   */
  const piecewiseTokens = async (
    text: string,
    { countUpTo, keep = textLimit, kept = 'start', signal }: { countUpTo: number; keep?: number; kept?: KeptEnd; signal?: CancelSignal },
  ): Promise<TextTokens & { piece: string }> => {
    contextWordTokens ??= plainIds([CONTEXT_WORD]).then(([ids]) => ids!);
    const context = await contextWordTokens;
    /** A piece's own tokens after a cut before a word: tokenised after the context word, whose tokens are dropped. */
    const afterWordCut = async (piece: string): Promise<number[]> => (await plainIds([CONTEXT_WORD + piece]))[0]!.slice(context.length);
    /**
     * A piece's own tokens across a cut inside a word, from the piece tokenised with the text beside the cut
     * (`neighbour`): the tokens after those it shares with the neighbour tokenised alone; and how many tokens counted
     * for the neighbour's side the joined text tokenises differently (`retracted`). WordPiece's one [UNK] for a long
     * word, and runs that normalisation collapses (zero-width spaces, soft hyphens), are then counted once.
     */
    const acrossWordCut = async (piece: string, neighbour: string): Promise<{ own: number[]; retracted: number }> => {
      const [joined, alone] = await plainIds(kept === 'start' ? [neighbour + piece, neighbour] : [piece + neighbour, neighbour]);
      let shared = 0;
      if (kept === 'start') while (shared < alone!.length && joined![shared] === alone![shared]) shared++;
      else while (shared < alone!.length && joined![joined!.length - 1 - shared] === alone![alone!.length - 1 - shared]) shared++;
      const own = kept === 'start' ? joined!.slice(shared) : joined!.slice(0, joined!.length - shared);
      return { own, retracted: alone!.length - shared };
    };
    let ids: number[] = [];
    let length = 0;
    // The counted part is text[from, to): it grows at `to` for the start, at `from` for the end.
    let from = kept === 'start' ? 0 : text.length;
    let to = from;
    let cutInWord = false;
    while (to - from < text.length) {
      signal?.throwIfAborted();
      if (length > countUpTo) return { ids, length, lengthIsLowerBound: true, piece: text.slice(from, to) };
      const rest = kept === 'start' ? text.slice(to) : text.slice(0, from);
      const { piece, midWord } = rest.length <= JOB_CHARS ? { piece: rest, midWord: false } : textPiece(rest, JOB_CHARS, 0, kept);
      // The cut before the piece, for the end (the one after it was the last piece's).
      const afterWord = kept === 'start' ? to > 0 && !cutInWord : piece.length < rest.length && !midWord;
      let own: number[];
      if (kept === 'start' && cutInWord) {
        const { own: across, retracted } = await acrossWordCut(piece, text.slice(to - neighbourChars(text, to, 'before'), to));
        own = across;
        length = Math.max(0, length - retracted);
        if (ids.length > length) ids.length = length;
      } else if (kept === 'end' && cutInWord) {
        const { own: across, retracted } = await acrossWordCut(piece, text.slice(from, from + neighbourChars(text, from, 'after')));
        own = across;
        length = Math.max(0, length - retracted);
        if (ids.length > length) ids = ids.slice(ids.length - length);
      } else own = afterWord ? await afterWordCut(piece) : (await plainIds([piece]))[0]!;
      if (kept === 'start') {
        if (ids.length < keep) ids.push(...own.slice(0, keep - ids.length));
        to += piece.length;
      } else {
        ids = own.concat(ids);
        if (ids.length > keep) ids = ids.slice(ids.length - keep);
        from -= piece.length;
      }
      length += own.length;
      cutInWord = midWord;
    }
    return { ids, length, lengthIsLowerBound: false, piece: text };
  };

  /**
   * Each text's tokens (textTokens), in calls of at most JOB_CHARS characters, one at a time, the signal checked
   * between them. `keep` undefined: every text whole (piecewiseTokens), until the count passes `countUpTo`.
   */
  const manyTextTokens = async (texts: string[], keep: number | undefined, kept: KeptEnd, signal?: CancelSignal, countUpTo = Infinity, room = textLimit): Promise<TextTokens[]> => {
    const tokens: TextTokens[] = new Array(texts.length);
    let counted = 0;
    for (const [from, to] of jobs(texts, keep === undefined ? Infinity : firstBudget)) {
      signal?.throwIfAborted();
      if (counted > countUpTo) return tokens.fill(NOT_COUNTED, from);
      const alone = to - from === 1 ? texts[from]! : undefined;
      if (alone !== undefined && alone.length > firstBudget && keep !== undefined) tokens[from] = await textTokens(alone, keep, kept, signal);
      else if (alone !== undefined && alone.length > JOB_CHARS && keep === undefined) tokens[from] = await piecewiseTokens(alone, { countUpTo: countUpTo - counted, keep: room, kept, signal });
      else (await plainIds(texts.slice(from, to))).forEach((ids, k) => (tokens[from + k] = { ids, length: ids.length, lengthIsLowerBound: false }));
      for (let index = from; index < to; index++) counted += tokens[index]!.length;
    }
    return tokens;
  };

  const textLimit = Math.max(0, maxTokens - before - after);
  /** A text's tokens framed by the special ones, its own cut to `room` at the kept end, as sentence-transformers embeds them. */
  const framed = ({ ids, length, lengthIsLowerBound }: TextTokens, room: number, kept: KeptEnd): EncodedText => {
    const own = ids.length > room ? keptTokens(ids, room, kept) : ids;
    return { ids: Int32Array.from([...frame.before, ...own, ...frame.after]), length: length + before + after, lengthIsLowerBound };
  };

  /** Ids with the special tokens, cut to `limit` at the kept end with the special ones kept. */
  const truncate = (ids: number[], limit: number, kept: KeptEnd): EncodedText => {
    if (ids.length <= limit) return { ids: Int32Array.from(ids), length: ids.length, lengthIsLowerBound: false };
    return framed({ ids: ids.slice(before, ids.length - after), length: ids.length - before - after, lengthIsLowerBound: false }, limit - before - after, kept);
  };

  let pairTemplate: Promise<PairTemplate> | undefined;

  return {
    padId,
    closingTokens: after,
    frame: { before, after },
    async encode(texts, { whole = false, countUpTo = Infinity, signal, direction = 'right', maxTokens: cap = maxTokens } = {}) {
      const kept: KeptEnd = direction === 'right' ? 'start' : 'end';
      const limit = Math.min(cap, maxTokens);
      const room = Math.max(0, limit - before - after);
      const frameEach = (tokens: TextTokens[]) => tokens.map((each) => framed(each, room, kept));
      const prepared = asGiven ? texts : texts.map((text) => (lowercase ? pythonStrip(text).toLowerCase() : pythonStrip(text)));
      let chars = 0;
      for (const text of prepared) chars += text.length;
      if (whole) return frameEach(await manyTextTokens(prepared, undefined, kept, signal, countUpTo - (before + after) * texts.length, room));
      if (chars > JOB_CHARS) return frameEach(await manyTextTokens(prepared, room, kept, signal));
      // A small request: short texts from requests of the same event-loop turn share one call.
      const encoded: EncodedText[] = new Array(texts.length);
      const rest: number[] = [];
      for (const [index, text] of prepared.entries()) {
        if (text.length > firstBudget) encoded[index] = framed(await textTokens(text, room, kept), room, kept);
        else {
          const fast = fastEncode?.(text);
          if (fast) encoded[index] = truncate(fast, limit, kept);
          else rest.push(index);
        }
      }
      if (rest.length > 0) (await rustIds(rest.map((index) => prepared[index]!))).forEach((ids, k) => (encoded[rest[k]!] = truncate(ids, limit, kept)));
      return encoded;
    },
    async encodePairs(query, documents, { truncate, direction = 'right', signal }) {
      if (documents.length === 0) return [];
      pairTemplate ??= probePairTemplate(tokenizer);
      const template = await pairTemplate;
      const limit = Math.max(0, maxTokens - template.specialTokens);
      const kept: KeptEnd = direction === 'right' ? 'start' : 'end';
      const documentTokens = await manyTextTokens(documents, limit, kept, signal);
      signal?.throwIfAborted();
      // With odd room, which member is longer decides which keeps the odd token: the query is counted past every
      // document counted whole (documents of a few kB are).
      const longestExact = limit % 2 === 1 ? Math.max(0, ...documentTokens.map((tokens) => (tokens.lengthIsLowerBound ? 0 : tokens.length))) : 0;
      const [queryTokens] = await manyTextTokens([query], Math.max(limit, longestExact + 1), kept);
      return documentTokens.map((document, index) => {
        const queryIsLonger = isLonger(queryTokens!, document, query.length, documents[index]!.length);
        const [queryKeeps, documentKeeps] = truncate ? longestFirst(queryTokens!.length, document.length, limit, queryIsLonger) : [queryTokens!.length, document.length];
        const pair = template.join(keptTokens(queryTokens!.ids, queryKeeps, kept), keptTokens(document.ids, documentKeeps, kept));
        const length = truncate ? pair.ids.length : queryTokens!.length + document.length + template.specialTokens;
        return { ...pair, length, lengthIsLowerBound: !truncate && (queryTokens!.lengthIsLowerBound || document.lengthIsLowerBound) };
      });
    },
    async ownTokens(texts, keep, kept, signal) {
      return (await manyTextTokens(texts, keep, kept, signal)).map(({ ids, length, lengthIsLowerBound }) => ({ ids: Int32Array.from(keptTokens(ids, keep, kept)), length, lengthIsLowerBound }));
    },
    tokenId: (token) => tokenizer.tokenToId(token) ?? undefined,
    async firstTokens(texts, tokens, signal) {
      // A long text is first cut to the piece that holds its first tokens (and a margin), as for truncation.
      const pieces: string[] = [];
      for (const text of texts) pieces.push(text.length > firstBudget ? (await textTokens(text, tokens, 'start', signal)).piece : text);
      const cut: string[] = [];
      for (const [from, to] of jobs(pieces)) {
        signal?.throwIfAborted();
        // A piece that had to be counted in pieces is not tokenised in one job here: it is kept, a margin longer than asked.
        if (pieces[from]!.length > longestJob) {
          cut.push(pieces[from]!);
          continue;
        }
        const encodings: Encoding[] = await tokenizer.encodeBatch(pieces.slice(from, to), { addSpecialTokens: false });
        encodings.forEach((encoding, k) => {
          const offsets = encoding.getOffsets();
          // Offsets count code points.
          cut.push(offsets.length <= tokens ? texts[from + k]! : Array.from(pieces[from + k]!).slice(0, tokens > 0 ? offsets[tokens - 1]![1] : 0).join(''));
        });
      }
      return cut;
    },
    tokenStrings: (ids) => Array.from(ids, (id) => tokenizer.idToToken(id) ?? ''),
    async tokenSpans(texts, addSpecialTokens) {
      const encodings = await tokenizer.encodeBatch(
        texts.map((text) => (lowercase ? pythonStrip(text).toLowerCase() : pythonStrip(text))),
        { addSpecialTokens },
      );
      return encodings.map((encoding, index) => {
        const text = texts[index]!;
        // The offsets count the code points of the stripped text; stripping only takes BMP spaces from the start.
        let lead = 0;
        while (lead < text.length && isPythonSpace(text.charCodeAt(lead))) lead++;
        const points = Array.from(text);
        const offsets = encoding.getOffsets();
        const special = encoding.getSpecialTokensMask();
        const strings = encoding.getTokens();
        return encoding.getIds().map((id, k) => {
          if (special[k] === 1) return { id, text: strings[k]!, special: true, start: null, stop: null };
          const [start, stop] = [offsets[k]![0]! + lead, offsets[k]![1]! + lead];
          return { id, text: points.slice(start, stop).join(''), special: false, start, stop };
        });
      });
    },
    decode: (sequences, skipSpecialTokens) => tokenizer.decodeBatch(sequences, skipSpecialTokens),
    async encodeJoined(texts, prompt, signal) {
      const prepared = [prompt, ...texts].map((text) => (lowercase ? pythonStrip(text).toLowerCase() : pythonStrip(text)));
      const [promptTokens, ...textTokens] = await manyTextTokens(prepared, undefined, 'start', signal, maxTokens - before - after);
      const ids = [...frame.before, ...promptTokens!.ids];
      const spans = new Int32Array(2 * texts.length);
      textTokens.forEach((tokens, index) => {
        spans[2 * index] = ids.length;
        ids.push(...tokens.ids);
        spans[2 * index + 1] = ids.length;
      });
      ids.push(...frame.after);
      const counted = [promptTokens!, ...textTokens];
      const length = counted.reduce((sum, tokens) => sum + tokens.length, before + after);
      return { ids: Int32Array.from(ids), spans, length, lengthIsLowerBound: counted.some((tokens) => tokens.lengthIsLowerBound) };
    },
  };
}
