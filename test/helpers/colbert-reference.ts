/**
 * PyLate's ColBERT.encode(is_query) in float64, independently of the server: ids from the Rust
 * tokenizers library (a binding of its own) cut to the side's length less the prefix, the prefix
 * token after the first one, a query padded with the mask token to query_length (attended to or
 * not), the forward pass, the kept positions (a query: all; a document: those not in the skiplist,
 * looked up whole in tokenizer.json, an unknown word standing for the unknown token), the Dense
 * projection and each vector normalised.
 */
import rustTokenizers from '@anush008/tokenizers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceForward } from './bert-reference.ts';
import { dense, rustTokenizer } from './reference.ts';
import type { ColbertFixture } from './colbert-fixture.ts';

export type Side = 'query' | 'document';

function vocabularyOf(dir: string): (token: string) => number | undefined {
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
  const ids = new Map(Object.entries(json.model.vocab));
  for (const { id, content } of json.added_tokens) ids.set(content, id);
  return (token) => ids.get(token);
}

/**
 * The ids PyLate feeds the model for `text`, and how many leading ones are attended to; `left` cuts an over-long text
 * keeping its end (the tokenizer's truncation_side left), not its start.
 */
export async function referenceColbertIds(model: ColbertFixture, text: string, side: Side, direction: 'right' | 'left' = 'right'): Promise<{ ids: number[]; attended: number }> {
  const { config } = model;
  const lookup = vocabularyOf(model.dir);
  const prefix = (side === 'query' ? config.query_prefix : config.document_prefix) as string;
  const length = (side === 'query' ? config.query_length : config.document_length) as number;
  const prefixId = prefix === '' ? undefined : lookup(prefix)!;
  const ids = await rustTokenizer(model.dir, prefixId === undefined ? length : length - 1, false, direction)(text);
  if (prefixId !== undefined) ids.splice(1, 0, prefixId);
  const attended = ids.length;
  if (side === 'query' && config.do_query_expansion !== false) {
    while (ids.length < length) ids.push(lookup('[MASK]')!);
    return { ids, attended: config.attend_to_expansion_tokens === true ? ids.length : attended };
  }
  return { ids, attended };
}

/** The vectors PyLate's encode gives `text` on `side` (cut at the end `direction` says). */
export async function referenceColbert(model: ColbertFixture, text: string, side: Side, direction: 'right' | 'left' = 'right'): Promise<number[][]> {
  const { ids, attended } = await referenceColbertIds(model, text, side, direction);
  const lookup = vocabularyOf(model.dir);
  const skiplist = new Set((model.config.skiplist_words as string[]).map((word) => lookup(word) ?? lookup('[UNK]')));
  const states = referenceForward(model.weights, ids, false, undefined, attended);
  return states
    .filter((_, position) => side === 'query' || !skiplist.has(ids[position]!))
    .map((state) => {
      const projected = model.dense.reduce((vector, layer) => dense(vector, layer), Array.from(state));
      const norm = Math.max(Math.sqrt(projected.reduce((sum, x) => sum + x * x, 0)), 1e-12);
      return projected.map((x) => x / norm);
    });
}

/** PyLate's colbert_scores for one pair, in float64. */
export function referenceMaxSim(query: number[][], document: number[][]): number {
  return query.reduce((total, q) => total + Math.max(...document.map((d) => d.reduce((dot, x, i) => dot + x * q[i]!, 0))), 0);
}

/** Cohere's max_tokens_per_doc: `text` as given, cut at the end of its `tokens`-th own token (no special ones). */
export async function referenceFirstTokens(model: ColbertFixture, text: string, tokens: number): Promise<string> {
  const tokenizer = rustTokenizers.Tokenizer.fromFile(join(model.dir, 'tokenizer.json'));
  tokenizer.disablePadding();
  tokenizer.disableTruncation();
  const offsets = (await tokenizer.encode(text, null, { addSpecialTokens: false })).getOffsets();
  return offsets.length <= tokens ? text : text.slice(0, offsets[tokens - 1]![1]);
}
