/**
 * Rerank pairs are tokenised only as far as truncation needs (src/inference/tokenizer.ts), yet give
 * the ids and token types of the Rust tokenizers library's whole-text pair encoding with
 * LongestFirst truncation (another build of it, @anush008/tokenizers): queries and documents far
 * over the limit, with and without spaces, both directions, odd and even room for the texts.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import rustTokenizers from '@anush008/tokenizers';
import { Cancellation } from '../src/cancellation.ts';
import { loadTokenizer } from '../src/inference/tokenizer.ts';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import type { TokenizerFamily } from './helpers/tokenizer-families.ts';

let artifactsDir: string;
before(async () => void (artifactsDir = await tempDir('pair-tokens')));
after(() => rm(artifactsDir, { recursive: true, force: true }));

const UNITS = ['the', 'quick', 'fox', 'jumps', ',', '中文', '😀', 'é', 'Grüße', '\ufdfa', 'x'.repeat(30), '\t', 'hello', 'world'];

function texts(seed: number) {
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  return (size: number, spaces = 0.7) => {
    let text = '';
    while (text.length < size) text += UNITS[Math.floor(random() * UNITS.length)]! + (random() < spaces ? ' ' : '');
    return text;
  };
}

async function assertSamePairs(family: TokenizerFamily, maxTokens: number, cases: [string, string[]][]) {
  const { dir } = await writeFixtureModel(artifactsDir, `pairs/${family}-${maxTokens}`, { family, maxSeqLength: maxTokens, modelMaxLength: maxTokens });
  const ours = await loadTokenizer(dir, { maxTokens, lowercase: false });
  for (const direction of ['right', 'left'] as const) {
    const reference = rustTokenizers.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    reference.disablePadding();
    reference.setTruncation(maxTokens, { strategy: rustTokenizers.TruncationStrategy.LongestFirst, direction });
    for (const [query, documents] of cases) {
      const pairs = await ours.encodePairs(query, documents, { truncate: true, direction });
      for (const [index, document] of documents.entries()) {
        const expected = await reference.encode(query, document);
        const label = `${family} ${maxTokens} ${direction}: query of ${query.length} chars, document of ${document.length}`;
        assert.deepEqual(Array.from(pairs[index]!.ids), expected.getIds(), label);
        assert.deepEqual(Array.from(pairs[index]!.typeIds), expected.getTypeIds(), label);
      }
    }
  }
}

const SIZES = [0, 5, 40, 200, 3000, 9000];

for (const [family, limits] of [['wordpiece', [32, 33]], ['unigram', [31, 32]], ['byte-bpe', [32]], ['sentencepiece-bpe', [32]]] as const) {
  test(`${family}: pairs of every size (to 9 kB each, over the limit or not) equal the library's whole-text encoding`, async () => {
    const make = texts(family.length);
    const cases: [string, string[]][] = SIZES.map((size, i) => [make(size), SIZES.map((other) => make((other + i * 7) % 9001))]);
    cases.push([make(12_000, 0), [make(12_000, 0), 'hello world', make(5000, 0.05)]], ['\ufdfa'.repeat(5000), ['\ufdfa'.repeat(20), '中文'.repeat(4000)]]);
    for (const maxTokens of limits) await assertSamePairs(family, maxTokens, cases);
  });
}

test('truncate false: a pair over the limit says how long it is, at least; a cancelled signal stops the tokenising', async () => {
  const { dir } = await writeFixtureModel(artifactsDir, 'pairs/counts', { maxSeqLength: 32 });
  const ours = await loadTokenizer(dir, { maxTokens: 32, lowercase: false });
  const [short, long] = await ours.encodePairs('hello world', ['the quick fox', 'the quick fox '.repeat(5000)], { truncate: false });
  assert.deepEqual([short!.length, short!.lengthIsLowerBound], [short!.ids.length, false]);
  assert.equal(long!.lengthIsLowerBound, true, 'the 70 kB document was not tokenised whole');
  assert.ok(long!.length > 32 && long!.length < 2000, `${long!.length}`);
  const cancel = new Cancellation();
  cancel.abort(new Error('client gone'));
  await assert.rejects(ours.encodePairs('q', ['d'], { truncate: true, signal: cancel }), /client gone/);
});
