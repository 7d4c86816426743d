import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { wordPieceFastPath, type FastEncode } from '../../src/inference/tokenizing/wordpiece.ts';
import { tempDir } from '../helpers/app.ts';
import { fixtureVocabulary, SPECIAL_TOKENS, writeFixtureModel } from '../helpers/fixture-model.ts';
import { rustTokenizer } from '../helpers/reference.ts';

const LIMIT = 100_000;
let artifactsDir: string;
const tokenizers: { name: string; fast: FastEncode; rust: (text: string) => Promise<number[]> }[] = [];

before(async () => {
  artifactsDir = await tempDir('wordpiece');
  for (const [repo, lowercases] of [['test/uncased', true], ['test/cased', false]] as const) {
    const { dir } = await writeFixtureModel(artifactsDir, repo, { tokenizerLowercases: lowercases });
    const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
    const [cls, sep] = [json.model.vocab['[CLS]'], json.model.vocab['[SEP]']];
    tokenizers.push({ name: repo, fast: wordPieceFastPath(json, [cls], [sep])!, rust: rustTokenizer(dir, LIMIT) });
  }
});
after(() => rm(artifactsDir, { recursive: true, force: true }));

/** Printable ASCII and ASCII whitespace, weighted towards what WordPiece finds hard: vocabulary words, suffixes, punctuation, long words. */
const asciiText = fc
  .array(
    fc.oneof(
      fc.constantFrom(...fixtureVocabulary(121).filter((token) => /^[\x21-\x7e]+$/.test(token) && !SPECIAL_TOKENS.includes(token))),
      fc.constantFrom(' ', '  ', '\t', '\n', '\r\n', 'Hello', 'WORLD', "don't", 'e-mail', '3.14', '##ing', 'x'.repeat(100), 'x'.repeat(101), '[CLS', 'SEP]'),
      fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 12 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(' '));

test('the fast path gives the Rust tokenizers library’s ids on printable-ASCII text, cased and uncased', async () => {
  for (const { name, fast, rust } of tokenizers) {
    await fc.assert(
      fc.asyncProperty(asciiText, async (text) => {
        const ids = fast(text);
        assert.ok(ids, `${name} took ${JSON.stringify(text)}`);
        assert.deepEqual(ids, await rust(text), `${name}: ${JSON.stringify(text)}`);
      }),
      { numRuns: 1500 },
    );
  }
});

test('text it cannot do exactly is left to the general tokenizer: non-ASCII, control characters, added tokens', () => {
  const [{ fast }] = tokenizers;
  for (const text of ['café', 'naïve text', '中文', 'a\u00a0b', 'a\x0bb', 'bell\x07', 'x\x7f', 'hello [SEP] world', '[MASK]', 'a\u0301']) {
    assert.equal(fast!(text), undefined, JSON.stringify(text));
  }
  assert.deepEqual(fast!(''), [2, 3]);
});

test('tokenizers that are not BERT WordPiece get no fast path', () => {
  const bert = { normalizer: { type: 'BertNormalizer' }, pre_tokenizer: { type: 'BertPreTokenizer' }, model: { type: 'WordPiece', vocab: { '[UNK]': 0 } } };
  assert.ok(wordPieceFastPath(bert, [], []));
  assert.equal(wordPieceFastPath({ ...bert, normalizer: { type: 'Sequence' } }, [], []), undefined);
  assert.equal(wordPieceFastPath({ ...bert, pre_tokenizer: { type: 'Metaspace' } }, [], []), undefined);
  assert.equal(wordPieceFastPath({ ...bert, model: { type: 'BPE', vocab: {} } }, [], []), undefined);
  assert.equal(wordPieceFastPath({ ...bert, model: { type: 'WordPiece', vocab: {} } }, [], []), undefined, 'no [UNK] in the vocabulary');
});
