import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';

/**
 * Text → token ids exactly as sentence-transformers gets them from the Rust
 * `tokenizers` library: the text stripped (and lowercased if its
 * sentence_bert_config says so), special tokens added, truncated to `maxTokens`
 * with the closing special tokens kept. Settings stored in tokenizer.json's own
 * `truncation`/`padding` are ignored, as sentence-transformers overrides them.
 */
export interface TextTokenizer {
  /** The ids to embed (truncated), and how many tokens the whole text has. */
  encode(text: string): { ids: Int32Array; length: number };
  readonly padId: number;
}

const PROBE = 'hello world';

/** Python's str.strip(): the characters str.isspace() accepts, at both ends. */
const OUTER_WHITESPACE =
  /^[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/**
 * How many special tokens the post-processor puts before and after a single
 * sequence ([CLS] … [SEP] → 1 and 1; <s> … </s> → 1 and 1; … <eos> → 0 and 1).
 */
function specialTokenFrame(tokenizer: PreTrainedTokenizer): { before: number; after: number } {
  const plain = tokenizer.encode(PROBE, { add_special_tokens: false });
  const framed = tokenizer.encode(PROBE, { add_special_tokens: true });
  for (let before = 0; before + plain.length <= framed.length; before++) {
    if (plain.every((id, i) => framed[before + i] === id)) {
      return { before, after: framed.length - plain.length - before };
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
  const { after } = specialTokenFrame(tokenizer);
  if (after >= maxTokens) throw new Error(`max tokens ${maxTokens} leaves no room for text`);
  return {
    padId: tokenizer.pad_token_id ?? 0,
    encode(text: string) {
      const stripped = text.replace(OUTER_WHITESPACE, '');
      const ids = tokenizer.encode(lowercase ? stripped.toLowerCase() : stripped, { add_special_tokens: true });
      if (ids.length <= maxTokens) return { ids: Int32Array.from(ids), length: ids.length };
      const truncated = new Int32Array(maxTokens);
      truncated.set(ids.slice(0, maxTokens - after));
      truncated.set(ids.slice(ids.length - after), maxTokens - after);
      return { ids: truncated, length: ids.length };
    },
  };
}
