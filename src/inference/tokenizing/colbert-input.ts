/**
 * PyLate's ColBERT.tokenize for one text, on token ids the model's tokenizer gave (special tokens
 * included, cut to the side's limit less the prefix): the side's prefix token goes after the first
 * token ([CLS]); a query is padded to `query_length` with the expansion token ([MASK]), which the
 * attention sees only with `attend_to_expansion_tokens`.
 */
import type { ColbertSettings } from '../files/colbert-config.ts';

/** Which side of late interaction a text is encoded as. */
export type ColbertSide = 'query' | 'document';

/** A ColBERT model's special ids, resolved against its tokenizer. */
export interface ColbertTokenIds {
  queryPrefix: number | undefined;
  documentPrefix: number | undefined;
  /** What queries are padded with: the mask token, else the end-of-sequence token, else the padding token (PyLate's order). */
  expansion: number;
  /** Ids whose vectors documents drop (skiplist_words looked up whole, as convert_tokens_to_ids does), ascending. */
  skiplist: Int32Array;
}

export interface ColbertInput {
  ids: Int32Array;
  /** Leading tokens the attention sees; the rest are expansion tokens (computed, returned, not attended to). */
  attended: number;
}

const prefixOf = (tokens: ColbertTokenIds, side: ColbertSide) => (side === 'query' ? tokens.queryPrefix : tokens.documentPrefix);

/** A side's length: its tokens at most, prefix and special tokens included (a query's, expansion included, exactly). */
export const sideLength = (settings: ColbertSettings, side: ColbertSide): number => (side === 'query' ? settings.queryLength : settings.documentLength);

/** The tokens a side's text is cut to, special tokens included, before its prefix goes in. */
export function sideTextLimit(settings: ColbertSettings, side: ColbertSide): number {
  const prefixed = side === 'query' ? settings.queryPrefix : settings.documentPrefix;
  return prefixed === undefined ? sideLength(settings, side) : sideLength(settings, side) - 1;
}

/**
 * Ids framed by their special tokens and cut to some limit, cut further to `limit` as truncation
 * would have cut them: the first tokens, then the `closing` special ones.
 */
export function cutKeepingClose(ids: Int32Array, limit: number, closing: number): Int32Array {
  if (ids.length <= limit) return ids;
  const cut = new Int32Array(limit);
  cut.set(ids.subarray(0, limit - closing));
  cut.set(ids.subarray(ids.length - closing), limit - closing);
  return cut;
}

/** A text's ColBERT input from its tokenizer ids (cut to sideTextLimit). */
export function colbertInput(ids: Int32Array, side: ColbertSide, settings: ColbertSettings, tokens: ColbertTokenIds): ColbertInput {
  const prefix = prefixOf(tokens, side);
  const prefixed = prefix === undefined ? ids : Int32Array.of(...ids.subarray(0, 1), prefix, ...ids.subarray(1));
  if (side === 'document' || !settings.queryExpansion || prefixed.length >= settings.queryLength) return { ids: prefixed, attended: prefixed.length };
  const padded = new Int32Array(settings.queryLength).fill(tokens.expansion);
  padded.set(prefixed);
  return { ids: padded, attended: settings.attendToExpansionTokens ? padded.length : prefixed.length };
}

/**
 * The settings' tokens as ids of the tokenizer (`tokenId` looks a token up whole). Skiplist words
 * map as PyLate's convert_tokens_to_ids maps them: one the vocabulary lacks stands for the unknown
 * token (so documents drop theirs too), or for nothing in a tokenizer without one. A prefix must be
 * a token of the vocabulary: PyLate would add it and grow the embeddings, which an exported graph cannot.
 */
export function colbertTokenIds(settings: ColbertSettings, tokenId: (token: string) => number | undefined): ColbertTokenIds {
  const prefixId = (prefix: string | undefined, name: string) => {
    if (prefix === undefined) return undefined;
    const id = tokenId(prefix);
    if (id === undefined) throw new Error(`its ${name} ${JSON.stringify(prefix)} is not a token of tokenizer.json; a ColBERT prefix must be one (PyLate saves it as an added token)`);
    return id;
  };
  const expansion = settings.expansionToken === undefined ? undefined : tokenId(settings.expansionToken);
  if (expansion === undefined && settings.queryExpansion) throw new Error('tokenizer_config.json names no mask, end-of-sequence or padding token of the vocabulary to expand queries with');
  const unknown = settings.unknownToken === undefined ? undefined : tokenId(settings.unknownToken);
  const skiplist = new Set<number>();
  for (const word of settings.skiplistWords) {
    const id = tokenId(word) ?? unknown;
    if (id !== undefined) skiplist.add(id);
  }
  return {
    queryPrefix: prefixId(settings.queryPrefix, 'query_prefix'),
    documentPrefix: prefixId(settings.documentPrefix, 'document_prefix'),
    expansion: expansion ?? 0,
    skiplist: Int32Array.from([...skiplist].sort((a, b) => a - b)),
  };
}
