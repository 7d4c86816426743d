/**
 * Rerank pairs are tokenised only as far as truncation needs (src/inference/tokenizing/tokenizer.ts), yet give
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
import { loadTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
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

/**
 * CrossEncoder's cut, as the library's LongestFirst states it (tokenizers/src/utils/truncation.rs): the shorter
 * member keeps all it has when that is at most half the room, the longer the rest; else each keeps half, the longer
 * (the document when equal) the odd one.
 */
function longestFirst(query: number, document: number, room: number): [number, number] {
  if (query + document <= room) return [query, document];
  const shorter = Math.min(query, document);
  const longer = shorter <= room / 2 ? room - shorter : Math.floor(room / 2) + (room % 2);
  const kept = shorter <= room / 2 ? shorter : Math.floor(room / 2);
  return query > document ? [longer, kept] : [kept, longer];
}

async function assertSamePairs(family: TokenizerFamily, maxTokens: number, cases: [string, string[]][]) {
  const { dir } = await writeFixtureModel(artifactsDir, `pairs/${family}-${maxTokens}`, { family, maxSeqLength: maxTokens, modelMaxLength: maxTokens });
  const ours = await loadTokenizer(dir, { maxTokens, lowercase: false });
  const whole = rustTokenizers.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
  whole.disablePadding();
  whole.disableTruncation();
  const probe = await whole.encode('a', 'b');
  const alone = async (text: string) => (await whole.encode(text, null, { addSpecialTokens: false })).getIds();
  const room = maxTokens - (probe.getIds().length - (await alone('a')).length - (await alone('b')).length);
  for (const direction of ['right', 'left'] as const) {
    const reference = rustTokenizers.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    reference.disablePadding();
    reference.setTruncation(maxTokens, { strategy: rustTokenizers.TruncationStrategy.LongestFirst, direction });
    for (const [query, documents] of cases) {
      const pairs = await ours.encodePairs(query, documents, { truncate: true, direction });
      for (const [index, document] of documents.entries()) {
        const label = `${family} ${maxTokens} ${direction}: query of ${query.length} chars, document of ${document.length}`;
        if (query.length <= 300 && document.length <= 300) {
          const expected = await reference.encode(query, document);
          assert.deepEqual(Array.from(pairs[index]!.ids), expected.getIds(), label);
          assert.deepEqual(Array.from(pairs[index]!.typeIds), expected.getTypeIds(), label);
          continue;
        }
        // A member of kB: the library's pair encoding also lists every overflowing combination of the two's windows (GBs
        // for two such), so the expected ids are its cut (checked against it on the short pairs above), applied to each
        // member's whole-text ids, inside the pair template.
        const [q, d] = [await alone(query), await alone(document)];
        const [keepQuery, keepDocument] = longestFirst(q.length, d.length, room);
        const cut = (ids: number[], keep: number) => (direction === 'right' ? ids.slice(0, keep) : ids.slice(ids.length - keep));
        const template = (await whole.encode('a', 'b')).getIds();
        const [a] = await alone('a');
        const [b] = await alone('b');
        const expected = template.flatMap((id, i) => (i === template.indexOf(a!) ? cut(q, keepQuery) : i === template.lastIndexOf(b!) ? cut(d, keepDocument) : [id]));
        assert.deepEqual(Array.from(pairs[index]!.ids), expected, label);
      }
    }
  }
}

for (const [family, limits] of [['wordpiece', [32, 33]], ['unigram', [31, 32]], ['byte-bpe', [32]], ['sentencepiece-bpe', [32]]] as const) {
  test(`${family}: queries and documents over the limit or not, to 12 kB, with and without spaces, equal the library's whole-text pair encoding`, async () => {
    const make = texts(family.length);
    const short = () => [make(0), make(5), make(40), make(120), make(250), 'hello world'];
    const cases: [string, string[]][] = [
      ...[0, 7, 45, 250].map((size): [string, string[]] => [make(size), [...short(), make(6000), make(12_000, 0), make(9000, 0.05)]]),
      ...[make(6000), make(12_000, 0), '\ufdfa'.repeat(5000), '中文'.repeat(4000)].map((query): [string, string[]] => [query, short()]),
    ];
    // Both members of many kB and over the limit: which is longer (it keeps the odd token, with odd room) is told by
    // their characters, not counted (that would take tokenising both whole); texts of like density here.
    cases.push([make(9000), [make(5000), make(12_000), make(200)]]);
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

test('queries and documents that pieces of 128 k characters leave almost empty (zero-width spaces, soft hyphens, one long word), cut on either side, equal the whole-text pair encoding', async () => {
  const vanishing = [`${'\u200b'.repeat(140_000)}x`, `x ${'\u00ad'.repeat(140_000)}`, `x ${'y'.repeat(140_000)} z`];
  // Two long members of different texts are told apart by their characters (see encodePairs), so each is paired with itself.
  const cases = [...vanishing.map((text): [string, string[]] => [text, ['hello world', text]]), ['hello world', vanishing] as [string, string[]]];
  for (const family of ['wordpiece', 'unigram', 'byte-bpe', 'sentencepiece-bpe'] as const) await assertSamePairs(family, 32, cases);
});
