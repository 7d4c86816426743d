/**
 * ColBERT (PyLate) semantics at the function level: the settings read from a snapshot's configs,
 * the ids fed to the model (prefix, expansion, truncation), the skiplist, the head's vectors and
 * MaxSim, each against the float64 reference of PyLate's encode and colbert_scores.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PUNCTUATION, readColbertSettings, stanfordProjection, type ColbertSettings } from '../src/inference/files/colbert-config.ts';
import { readJson } from '../src/inference/files/config-json.ts';
import { readModulePipeline } from '../src/inference/files/modules.ts';
import { loadDense, type LoadedDense } from '../src/inference/heads/dense.ts';
import { keptPositions, tokenVectorRows } from '../src/inference/heads/token-vectors.ts';
import { colbertInput, colbertTokenIds, cutKeepingClose, sideTextLimit, type ColbertSide, type ColbertTokenIds } from '../src/inference/tokenizing/colbert-input.ts';
import { loadTokenizer, type TextTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
import { maxSim } from '../src/model/maxsim.ts';
import { referenceForward } from './helpers/bert-reference.ts';
import { asStanfordCheckpoint, writeColbertFixture, type ColbertFixture, type ColbertFixtureOptions } from './helpers/colbert-fixture.ts';
import { referenceColbert, referenceColbertIds, referenceMaxSim } from './helpers/colbert-reference.ts';

const TEXTS = [
  'fox',
  'hello world',
  'the cat sat on the mat, and the dog? it sat, too!',
  'search query: what is an embedding (a vector)?',
  'the quick brown fox jumps over the lazy dog; '.repeat(6),
];

let artifacts: string;
before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), 'colbert-'));
});
after(async () => {
  await rm(artifacts, { recursive: true, force: true });
});

interface Loaded {
  model: ColbertFixture;
  settings: ColbertSettings;
  tokenizer: TextTokenizer;
  ids: ColbertTokenIds;
  dense: LoadedDense[];
}

async function load(repo: string, options: ColbertFixtureOptions): Promise<Loaded> {
  const model = await writeColbertFixture(artifacts, repo, options);
  const settings = await readColbertSettings(model.dir, (await readJson(join(model.dir, 'config_sentence_transformers.json')))!, (await readJson(join(model.dir, 'tokenizer_config.json')))!);
  const maxTokens = Math.max(sideTextLimit(settings, 'query'), sideTextLimit(settings, 'document'));
  const tokenizer = await loadTokenizer(model.dir, { maxTokens, lowercase: false });
  const dense = await Promise.all((await readModulePipeline(model.dir)).dense.map(loadDense));
  return { model, settings, tokenizer, ids: colbertTokenIds(settings, tokenizer.tokenId), dense };
}

async function input({ settings, tokenizer, ids }: Loaded, text: string, side: ColbertSide) {
  const [encoded] = await tokenizer.encode([text]);
  return colbertInput(cutKeepingClose(encoded!.ids, sideTextLimit(settings, side), tokenizer.closingTokens), side, settings, ids);
}

/** The head's rows for one text, from reference token states (float32, as a graph gives them). */
async function headRows(loaded: Loaded, text: string, side: ColbertSide): Promise<number[][]> {
  const { ids, attended } = await input(loaded, text, side);
  const states = Float32Array.from(referenceForward(loaded.model.weights, [...ids], false, undefined, attended).flatMap((state) => [...state]));
  const hidden = loaded.model.weights.shape.hidden;
  const rows = tokenVectorRows(states, 0, ids.length, hidden, keptPositions(ids, side === 'document', loaded.ids.skiplist), loaded.dense);
  const width = loaded.model.width;
  return Array.from({ length: rows.length / width }, (_, row) => [...rows.subarray(row * width, (row + 1) * width)]);
}

function assertClose(actual: number[][], expected: number[][], tolerance = 1e-5) {
  assert.equal(actual.length, expected.length, 'row count');
  actual.forEach((row, r) => {
    assert.equal(row.length, expected[r]!.length, 'width');
    row.forEach((value, i) => assert.ok(Math.abs(value - expected[r]![i]!) <= tolerance, `row ${r}[${i}]: ${value} vs ${expected[r]![i]}`));
  });
}

const VARIANTS: [string, ColbertFixtureOptions][] = [
  ['BERT WordPiece, PyLate defaults of answerai-colbert-small-v1', {}],
  ['ModernBERT BPE with added [Q] / [D] prefixes (GTE-ModernColBERT-v1)', { family: 'modernbert-bpe' }],
  ['attending to the expansion tokens', { config: { attend_to_expansion_tokens: true } }],
  ['no query expansion', { config: { do_query_expansion: false, attend_to_expansion_tokens: true } }],
  ['no prefixes (empty strings)', { config: { query_prefix: '', document_prefix: '' } }],
  ['a skiplist with a word the vocabulary lacks (the unknown token)', { config: { skiplist_words: [',', 'not-a-token'] } }],
];

for (const [name, options] of VARIANTS) {
  describe(`ColBERT: ${name}`, () => {
    let loaded: Loaded;
    before(async () => {
      loaded = await load(name.replace(/\W+/g, '-'), options);
    });

    it("feeds PyLate's ids (prefix after [CLS], [MASK] expansion, cut to the side's length) and attention", async () => {
      for (const side of ['query', 'document'] as const) {
        for (const text of TEXTS) {
          const ours = await input(loaded, text, side);
          const reference = await referenceColbertIds(loaded.model, text, side);
          assert.deepEqual([...ours.ids], reference.ids, `${side}: ${text}`);
          assert.equal(ours.attended, reference.attended, `${side} attended: ${text}`);
        }
      }
    });

    it("gives PyLate's vectors: kept positions, Dense projection, normalised (within 1e-5 of float64)", async () => {
      for (const side of ['query', 'document'] as const) {
        for (const text of TEXTS) assertClose(await headRows(loaded, text, side), await referenceColbert(loaded.model, text, side));
      }
    });

    it('scores by MaxSim: the sum over query vectors of the best dot product', async () => {
      const query = TEXTS[2]!;
      const queryRows = await headRows(loaded, query, 'query');
      const flat = (rows: number[][]) => Float32Array.from(rows.flat());
      for (const document of TEXTS) {
        const documentRows = await headRows(loaded, document, 'document');
        const expected = referenceMaxSim(await referenceColbert(loaded.model, query, 'query'), await referenceColbert(loaded.model, document, 'document'));
        const ours = maxSim(flat(queryRows), flat(documentRows), loaded.model.width);
        assert.ok(Math.abs(ours - expected) <= 1e-5 * queryRows.length, `${ours} vs ${expected}`);
      }
    });
  });
}

describe('ColBERT: a Stanford checkpoint (colbert-ir/colbertv2.0)', () => {
  it("reads artifact.metadata and the checkpoint's linear.weight, and gives PyLate's vectors", async () => {
    const pylate = await load('stanford-checkpoint', {});
    const model = await asStanfordCheckpoint(pylate.model, { query_maxlen: 10, doc_maxlen: 14 });
    const settings = await readColbertSettings(model.dir, {}, (await readJson(join(model.dir, 'tokenizer_config.json')))!);
    assert.equal(settings.queryLength, 10);
    assert.equal(settings.documentLength, 14);
    assert.deepEqual(settings.skiplistWords, PUNCTUATION);
    const projection = await stanfordProjection(model.dir);
    assert.deepEqual([projection.inFeatures, projection.outFeatures, projection.bias, projection.activation], [32, 16, false, 'Identity']);
    const loaded: Loaded = { ...pylate, model, settings, ids: colbertTokenIds(settings, pylate.tokenizer.tokenId), dense: [await loadDense(projection)] };
    for (const side of ['query', 'document'] as const) {
      for (const text of TEXTS) assertClose(await headRows(loaded, text, side), await referenceColbert(model, text, side));
    }
  });
});

describe('ColBERT settings', () => {
  it('a query keeps query_length vectors, expansion included; a document drops its skiplist tokens', async () => {
    const loaded = await load('counts', {});
    const query = await input(loaded, 'hello, world', 'query');
    assert.equal(query.ids.length, 12);
    assert.equal(keptPositions(query.ids, false, loaded.ids.skiplist).length, 12);
    const document = await input(loaded, 'hello, world', 'document');
    // [CLS] [D] hello , world [SEP]: the comma dropped.
    assert.equal(document.ids.length, 6);
    assert.deepEqual(keptPositions(document.ids, true, loaded.ids.skiplist), [0, 1, 2, 4, 5]);
  });

  it("takes PyLate's defaults for fields a config leaves out", async () => {
    const dir = join(artifacts, 'defaults');
    const settings = await readColbertSettings(dir, { similarity_fn_name: 'MaxSim' }, { mask_token: '[MASK]', unk_token: '[UNK]' });
    assert.deepEqual(settings, {
      queryPrefix: '[Q] ', documentPrefix: '[D] ', queryLength: 32, documentLength: 180, queryExpansion: true, attendToExpansionTokens: false,
      skiplistWords: PUNCTUATION, expansionToken: '[MASK]', unknownToken: '[UNK]',
    });
    assert.equal(PUNCTUATION.join(''), '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
  });

  it("reads a Stanford checkpoint's artifact.metadata (colbert-ir/colbertv2.0)", async () => {
    const dir = join(artifacts, 'stanford');
    await rm(dir, { recursive: true, force: true });
    await import('node:fs/promises').then(({ mkdir }) => mkdir(dir, { recursive: true }));
    await writeFile(join(dir, 'artifact.metadata'), JSON.stringify({ query_token_id: '[unused0]', doc_token_id: '[unused1]', query_maxlen: 32, doc_maxlen: 300, attend_to_mask_tokens: false }));
    const settings = await readColbertSettings(dir, {}, { mask_token: '[MASK]' });
    assert.equal(settings.queryPrefix, '[unused0]');
    assert.equal(settings.documentPrefix, '[unused1]');
    assert.equal(settings.documentLength, 300);
    assert.deepEqual(settings.skiplistWords, PUNCTUATION);
  });

  it('refuses a prefix that is not a token of the tokenizer, naming it', async () => {
    const loaded = await load('bad-prefix', {});
    assert.throws(() => colbertTokenIds({ ...loaded.settings, queryPrefix: '[Q] ' }, loaded.tokenizer.tokenId), /query_prefix "\[Q\] " is not a token of tokenizer\.json/);
  });
});
