import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import rustTokenizers from '@anush008/tokenizers';
import fc from 'fast-check';
import { join } from 'node:path';
import { loadTokenizer, pythonStrip, type TextTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { rustTokenizer } from './helpers/reference.ts';

const MAX_TOKENS = 16;
let artifactsDir: string;
let ours: TextTokenizer;
let rust: (text: string) => Promise<number[]>;

before(async () => {
  artifactsDir = await tempDir('tokenizer');
  const { dir } = await writeFixtureModel(artifactsDir, 'test/tokens', { maxSeqLength: MAX_TOKENS });
  ours = await loadTokenizer(dir, { maxTokens: MAX_TOKENS, lowercase: false });
  rust = rustTokenizer(dir, MAX_TOKENS);
});
after(() => rm(artifactsDir, { recursive: true, force: true }));

const one = async (tokenizer: TextTokenizer, text: string) => (await tokenizer.encode([text]))[0]!;

async function assertSameIds(text: string) {
  assert.deepEqual(Array.from((await one(ours, text)).ids), await rust(text), JSON.stringify(text));
}

test('token ids equal the Rust tokenizers library for hand-picked inputs', async () => {
  for (const text of [
    'hello world', 'The Quick BROWN fox', 'jumps, over: the (lazy) dog!', 'embedding embeddings embedded', 'Ünïcödé àccents',
    '中文 text', 'tabs\tand\nnewlines', '  leading and trailing  ', '[CLS] [SEP] [MASK] inside text', 'x'.repeat(150), '😀 emoji',
    'zero\u200bwidth', 'control\u0001char', 'a',
  ]) {
    await assertSameIds(text);
  }
});

test('inputs longer than the limit are cut to it with the final [SEP] kept, as sentence-transformers does', async () => {
  const text = 'the quick brown fox jumps over the lazy dog '.repeat(5);
  const { ids, length } = await one(ours, text);
  assert.equal(ids.length, MAX_TOKENS);
  assert.equal(length, 52, 'the untruncated count is kept for truncate: false');
  assert.equal(ids[0], 2);
  assert.equal(ids[MAX_TOKENS - 1], 3);
  await assertSameIds(text);
});

test("tokenizer.json's own truncation (6) and padding (40) do not change the result", async () => {
  assert.equal((await one(ours, 'the quick brown fox jumps over the lazy dog')).ids.length, 12); // jump ##s
  assert.equal((await one(ours, 'hello')).ids.length, 3);
});

test('token ids equal the Rust library on 1000 random strings', async () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const alphabets = ['abcdefghijklmnopqrstuvwxyz', 'ABCXYZ0123456789', ' \t\n\u00a0', '.,;:!?\'"()-_/@#', 'àéîõüçñß', '中文日本語', '😀🎉', '\u200b\u0000\ufeff', '[CLS][SEP]'];
  for (let i = 0; i < 1000; i++) {
    const length = Math.floor(random() * (random() < 0.1 ? 300 : 40));
    let text = '';
    for (let j = 0; j < length; j++) {
      const chars = [...alphabets[Math.floor(random() * alphabets.length)]!];
      text += chars[Math.floor(random() * chars.length)]! + (random() < 0.2 ? ' ' : '');
    }
    await assertSameIds(text);
  }
});

test('texts are stripped like Python str.strip(), and lowercased when sentence_bert_config says do_lower_case', async () => {
  const { dir } = await writeFixtureModel(artifactsDir, 'test/cased', { tokenizerLowercases: false, doLowerCase: true });
  const cased = await loadTokenizer(dir, { maxTokens: MAX_TOKENS, lowercase: false });
  const lowering = await loadTokenizer(dir, { maxTokens: MAX_TOKENS, lowercase: true });
  const reference = rustTokenizer(dir, MAX_TOKENS, true);
  for (const text of ['Hello World', '\u3000 The Quick Fox \u2003\n', '\ufeffhello']) {
    assert.deepEqual(Array.from((await one(lowering, text)).ids), await reference(text), JSON.stringify(text));
  }
  assert.notDeepEqual(Array.from((await one(cased, 'Hello')).ids), Array.from((await one(lowering, 'Hello')).ids));
  assert.deepEqual(Array.from((await one(cased, ' \x1c\thello\u00a0 ')).ids), Array.from((await one(cased, 'hello')).ids));
});

test('long texts are tokenised from a prefix with the same ids as the whole text, and say their count is a lower bound', async () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const units = ['the', 'quick', 'fox', 'jumps', ',', '.', '中文', '😀', 'é', 'x'.repeat(120), '\u00a0', '\t', '\n', '  '];
  for (let i = 0; i < 60; i++) {
    let text = '';
    const size = 5000 + Math.floor(random() * 40_000);
    while (text.length < size) text += units[Math.floor(random() * units.length)]! + (random() < 0.7 ? ' ' : '');
    const encoded = await one(ours, text);
    assert.deepEqual(Array.from(encoded.ids), await rust(text), `case ${i}`);
    assert.equal(encoded.lengthIsLowerBound, true);
    assert.ok(encoded.length > MAX_TOKENS);
  }
  const short = await one(ours, 'the quick brown fox '.repeat(100));
  assert.equal(short.lengthIsLowerBound, false, 'texts of a few kB are counted exactly');
  assert.equal(short.length, 402);
});

/** CPU time this process has run since `since` (a process.cpuUsage()), in ms: unlike wall time, the machine's load does not change it. */
const cpuMsSince = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
};

test('a huge text is tokenised in milliseconds of CPU; one with nowhere to cut is tokenised whole, its count exact', async () => {
  const started = process.cpuUsage();
  const huge = await one(ours, 'the quick brown fox '.repeat(1_000_000));
  assert.equal(huge.ids.length, MAX_TOKENS);
  assert.ok(cpuMsSince(started) < 200, `${cpuMsSince(started)} ms of CPU`);
  assert.deepEqual(await one(ours, 'a'.repeat(100_000)), { ids: Int32Array.of(2, 1, 3), length: 3, lengthIsLowerBound: false }, 'one word too long for WordPiece: [UNK]');
  const spaced = await one(ours, `x${' '.repeat(100_000)}x`);
  assert.deepEqual(Array.from(spaced.ids), Array.from((await one(ours, 'x x')).ids));
  assert.equal(spaced.lengthIsLowerBound, false);
});

test('whole counts of texts of many pieces (up to 16 k characters each, cut at spaces) equal the whole text tokenised at once, for every tokenizer family', async () => {
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const units = ['the', 'Quick', 'fox', 'jumps', ',', '.', '中文', '😀', 'é', 'Grüße', 'x'.repeat(120), '\u00a0', '\t', '\n', '  ', '   ', 'ﷺ', '12345', "'s"];
  for (const family of ['wordpiece', 'unigram', 'byte-bpe', 'modernbert-bpe', 'sentencepiece-bpe'] as const) {
    const { dir } = await writeFixtureModel(artifactsDir, `test/pieces-${family}`, { family, maxSeqLength: MAX_TOKENS });
    const tokenizer = await loadTokenizer(dir, { maxTokens: MAX_TOKENS, lowercase: false });
    const whole = rustTokenizers.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    whole.disablePadding();
    whole.disableTruncation();
    const reference = rustTokenizer(dir, MAX_TOKENS);
    const texts: string[] = [];
    for (let i = 0; i < 6; i++) {
      let text = '';
      const size = 20_000 + Math.floor(random() * 50_000);
      while (text.length < size) text += units[Math.floor(random() * units.length)]! + (random() < 0.6 ? ' ' : '');
      texts.push(text);
    }
    const encoded = await tokenizer.encode(texts, { whole: true });
    for (const [i, text] of texts.entries()) {
      const expected = (await whole.encode(pythonStrip(text))).getIds().length;
      assert.equal(encoded[i]!.length, expected, `${family}, text ${i} (${text.length} characters)`);
      assert.equal(encoded[i]!.lengthIsLowerBound, false);
      assert.deepEqual(Array.from(encoded[i]!.ids), await reference(text), `${family}, text ${i}: the ids embedded`);
    }
  }
});

test('whole counting stops once the total passes countUpTo: the text it stopped in has a lower bound, the rest are not tokenised', async () => {
  const long = 'the quick brown fox '.repeat(10_000); // 40 002 tokens with [CLS] and [SEP]
  const exact = await ours.encode([long, 'hello'], { whole: true, countUpTo: 40_005 });
  assert.deepEqual(exact.map(({ length, lengthIsLowerBound }) => [length, lengthIsLowerBound]), [[40_002, false], [3, false]]);
  const [stopped, after] = await ours.encode([long, 'hello'], { whole: true, countUpTo: 1000 });
  assert.equal(stopped!.lengthIsLowerBound, true);
  assert.ok(stopped!.length > 1000 && stopped!.length < 20_000, `${stopped!.length}: stopped after a piece or two`);
  assert.deepEqual(Array.from(stopped!.ids), Array.from((await one(ours, long)).ids), 'the ids to embed are kept');
  assert.equal(after!.lengthIsLowerBound, true);
  assert.deepEqual(Array.from(after!.ids), [2, 3], 'not tokenised');
});

test('a space near the start of a long spaceless text (a prompt, "x ﷺﷺ…") does not make it tokenised whole', async () => {
  // Unigram's NFKC turns U+FDFA into 18 characters (~15 tokens): tokenised whole, 200 000 of them held ~1 GB per 0.5 MB.
  const { dir } = await writeFixtureModel(artifactsDir, 'test/unigram-space', { family: 'unigram', maxSeqLength: MAX_TOKENS });
  const unigram = await loadTokenizer(dir, { maxTokens: MAX_TOKENS, lowercase: false });
  const reference = rustTokenizer(dir, MAX_TOKENS);
  for (const head of ['x ', 'query: ', 'a b ']) {
    const encoded = await one(unigram, head + '\uFDFA'.repeat(200_000));
    assert.equal(encoded.lengthIsLowerBound, true, `${JSON.stringify(head)}: tokenised from a piece, not whole`);
    assert.deepEqual(Array.from(encoded.ids), await reference(head + '\uFDFA'.repeat(1000)), JSON.stringify(head));
  }
  const [pair] = await unigram.encodePairs('x ' + '\uFDFA'.repeat(200_000), ['y ' + '\uFDFA'.repeat(200_000)], { truncate: true });
  assert.equal(pair!.ids.length, MAX_TOKENS);
  const [left] = await unigram.encodePairs('\uFDFA'.repeat(200_000) + ' x', ['\uFDFA'.repeat(200_000) + ' y'], { truncate: true, direction: 'left' });
  assert.equal(left!.ids.length, MAX_TOKENS);
});

test('stripping is linear: 200 000 inner spaces of each str.isspace() kind take milliseconds of CPU', () => {
  for (const space of ' \t\n\x0b\x0c\r\x1c\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000') {
    const started = process.cpuUsage();
    assert.equal(pythonStrip(`${space}x${space.repeat(200_000)}x${space}`).length, 200_002);
    assert.ok(cpuMsSince(started) < 100, `${JSON.stringify(space)}: ${cpuMsSince(started)} ms of CPU`);
  }
});

test('property: ids equal the Rust library for every tokenizer type on adversarial Unicode (NFD, ZWJ, controls, fullwidth, ligatures, mixed scripts)', async () => {
  const pieces = fc.constantFrom(
    'the', ' quick', 'Grüße', 'a\u0300', 'e\u0302\u0301', '\u1112\u1161\u11ab', '한국어', '👨\u200d👩\u200d👧', '😀', '\u200d', '\u200b', '\ufeff',
    '\u0000', '\u0007', '\t', '\n', '\r\n', '  ', '\u00a0', '\u3000', 'ＡＢＣ', 'ｶﾀｶﾅ', 'ﬁ', 'ﬂ', '①', '東京', '中文', 'Привет', 'مرحبا', 'हिन्दी',
    '[CLS]', ' [MASK]', '<s>', '</s>', '<|endoftext|>', '<bos>', '<0x41>', '▁', 'x'.repeat(30), '12345', '.,;:!?', "'s", 'İ', 'ß', 'ǅ',
  );
  const text = fc.array(pieces, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(''));
  for (const family of ['wordpiece', 'unigram', 'byte-bpe', 'modernbert-bpe', 'sentencepiece-bpe'] as const) {
    const { dir } = await writeFixtureModel(artifactsDir, `test/property-${family}`, { family, maxSeqLength: MAX_TOKENS });
    const server = await loadTokenizer(dir, { maxTokens: MAX_TOKENS, lowercase: false });
    const reference = rustTokenizer(dir, MAX_TOKENS);
    await fc.assert(
      fc.asyncProperty(text, async (input) => {
        assert.deepEqual(Array.from((await one(server, input)).ids), await reference(input), `${family}: ${JSON.stringify(input)}`);
      }),
      { numRuns: 300, seed: 20261205 },
    );
  }
});

test('texts that pieces of 128 k characters leave almost empty (zero-width spaces, soft hyphens, one long word) are tokenised in bounded pieces with the whole text\'s ids, for every tokenizer family', async () => {
  for (const family of ['wordpiece', 'unigram', 'byte-bpe', 'modernbert-bpe', 'sentencepiece-bpe'] as const) {
    const { dir } = await writeFixtureModel(artifactsDir, `test/vanishing-${family}`, { family, maxSeqLength: MAX_TOKENS });
    const tokenizer = await loadTokenizer(dir, { maxTokens: MAX_TOKENS, lowercase: false });
    const reference = rustTokenizer(dir, MAX_TOKENS);
    for (const text of [`${'\u200b'.repeat(140_000)}x`, `x ${'\u00ad'.repeat(140_000)}`, `x ${'y'.repeat(140_000)} z`]) {
      const [encoded] = await tokenizer.encode([text]);
      assert.deepEqual(Array.from(encoded!.ids), await reference(text), `${family}: ${JSON.stringify(text.slice(0, 3))}`);
    }
  }
});
