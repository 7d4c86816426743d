/**
 * ColBERT (PyLate) models served end to end, through fastify.inject: /v1/embeddings gives PyLate's vectors per
 * token (query and document sides, float and base64, alone and batched, with row counts), the rerank routes score
 * by MaxSim, answers are bounded by MAX_MULTI_VECTOR_VALUES, GET /v1/models says what the model is, and TEI's
 * /embed_all gives a ColBERT model's vectors and another model's token states. Everything is checked against the
 * float64 references (test/helpers/colbert-reference.ts, bert-reference.ts).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { buildApp, type App } from '../src/app.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { Registry } from '../src/registry.ts';
import { tempDir } from './helpers/app.ts';
import { referenceForward } from './helpers/bert-reference.ts';
import { asStanfordCheckpoint, writeColbertFixture, type ColbertFixture } from './helpers/colbert-fixture.ts';
import { referenceColbert, referenceFirstTokens, referenceMaxSim, type Side } from './helpers/colbert-reference.ts';
import { writeFixtureModel, type FixtureModel } from './helpers/fixture-model.ts';
import { rustTokenizer } from './helpers/reference.ts';

const TEXTS = ['fox', 'hello world', 'the cat sat on the mat, and the dog? it sat, too!', 'search query: what is an embedding (a vector)?', 'the quick brown fox jumps over the lazy dog; '.repeat(6)];
const MODELS_TXT = 'colbert/bert alias=colbert\ncolbert/modern alias=modern\ncolbert/stanford alias=stanford\nplain/mini alias=mini';

let artifacts: string;
let registry: Registry;
let app: App;
let small: App;
const models: Record<string, ColbertFixture> = {};
let plain: FixtureModel;

before(async () => {
  artifacts = await tempDir('colbert-routes');
  models.colbert = await writeColbertFixture(artifacts, 'colbert/bert');
  models.modern = await writeColbertFixture(artifacts, 'colbert/modern', { family: 'modernbert-bpe' });
  models.stanford = await asStanfordCheckpoint(await writeColbertFixture(artifacts, 'colbert/stanford'), { query_maxlen: 10, doc_maxlen: 16 });
  plain = await writeFixtureModel(artifacts, 'plain/mini');
  registry = await Registry.open(parseModelsFile(MODELS_TXT, 'models.txt'), { artifactsDir: artifacts, workersPerModel: 1, intraOpThreads: 1, batching: { maxBatchTokens: 4096, maxBatchSize: 32 } });
  await registry.ready;
  app = await buildApp({ registry, bodyLimit: 1 << 20 });
  // The same models, answers bounded to 500 values.
  small = await buildApp({ registry, bodyLimit: 1 << 20, limits: { truncate: true, maxRequestTokens: 300_000, requestTimeoutMs: 60_000, maxRerankDocuments: 1000, maxMultiVectorValues: 500 } });
});
after(async () => {
  await app.close();
  await small.close();
  await registry.close();
  await rm(artifacts, { recursive: true, force: true });
});

interface Item {
  embedding: number[][] | string;
  rows: number;
  num_tokens: number;
  index: number;
}

async function embed(body: Record<string, unknown>, on = app) {
  const response = await on.inject({ method: 'POST', url: '/v1/embeddings', payload: body });
  return { status: response.statusCode, json: response.json() as { data: Item[]; usage: { total_tokens: number }; error?: { code: string; param: string } } };
}

const fromBase64 = (text: string, width: number) => {
  const values = new Float32Array(Uint8Array.from(Buffer.from(text, 'base64')).buffer);
  return Array.from({ length: values.length / width }, (_, row) => [...values.subarray(row * width, (row + 1) * width)]);
};

function assertClose(actual: number[][], expected: number[][], what: string) {
  assert.equal(actual.length, expected.length, `${what}: rows`);
  actual.forEach((row, r) => row.forEach((value, i) => assert.ok(Math.abs(value - expected[r]![i]!) <= 1e-5, `${what}: row ${r}[${i}] ${value} vs ${expected[r]![i]}`)));
}

for (const alias of ['colbert', 'modern'] as const) {
  describe(`/v1/embeddings on a ColBERT model (${alias})`, () => {
    for (const side of ['query', 'document'] as Side[]) {
      test(`${side}s: PyLate's vectors, alone and batched, float and base64, with their row counts`, async () => {
        const model = models[alias]!;
        const expected = await Promise.all(TEXTS.map((text) => referenceColbert(model, text, side)));
        for (const text of TEXTS) {
          const { status, json } = await embed({ model: alias, input: text, input_type: side });
          assert.equal(status, 200);
          const item = json.data[0]!;
          assertClose(item.embedding as number[][], expected[TEXTS.indexOf(text)]!, `alone: ${text}`);
          assert.equal(item.rows, expected[TEXTS.indexOf(text)]!.length);
        }
        const batched = await embed({ model: alias, input: TEXTS, input_type: side, encoding_format: 'base64' });
        assert.equal(batched.status, 200);
        batched.json.data.forEach((item, index) => {
          assertClose(fromBase64(item.embedding as string, model.width), expected[index]!, `batched: ${TEXTS[index]}`);
          assert.equal(item.rows, expected[index]!.length);
        });
        if (side === 'query') for (const item of batched.json.data) assert.equal(item.rows, model.config.query_length, 'a query has query_length vectors');
      });
    }

    test('concurrent requests of both sides share batches and get their own side', async () => {
      const model = models[alias]!;
      const answers = await Promise.all(TEXTS.flatMap((text) => (['query', 'document'] as Side[]).map(async (side) => ({ side, text, answer: await embed({ model: alias, input: [text], input_type: side }) }))));
      for (const { side, text, answer } of answers) assertClose(answer.json.data[0]!.embedding as number[][], await referenceColbert(model, text, side), `${side}: ${text}`);
    });
  });
}

describe('a Stanford ColBERT checkpoint (colbert-ir/colbertv2.0 layout)', () => {
  test("is served from artifact.metadata and the checkpoint's linear.weight: PyLate's vectors on both sides", async () => {
    for (const side of ['query', 'document'] as Side[]) {
      const { status, json } = await embed({ model: 'stanford', input: TEXTS, input_type: side });
      assert.equal(status, 200);
      for (const [index, text] of TEXTS.entries()) assertClose(json.data[index]!.embedding as number[][], await referenceColbert(models.stanford!, text, side), `${side}: ${text}`);
    }
  });
});

describe('ColBERT requests', () => {
  test("with no input_type, texts are queries, as PyLate's encode", async () => {
    const { json } = await embed({ model: 'colbert', input: 'hello world' });
    assertClose(json.data[0]!.embedding as number[][], await referenceColbert(models.colbert!, 'hello world', 'query'), 'default side');
  });

  test('dimensions is refused: a multi-vector model has no pooled vector to cut', async () => {
    const { status, json } = await embed({ model: 'colbert', input: 'hello', dimensions: 8 });
    assert.equal(status, 400);
    assert.equal(json.error!.param, 'dimensions');
  });

  test('an answer that could hold more than MAX_MULTI_VECTOR_VALUES values is a 400 before any run; a smaller one is served', async () => {
    // 12 query vectors of 16: 192 values each; three of them, 576 > 500.
    const refused = await embed({ model: 'colbert', input: ['a', 'b', 'c'], input_type: 'query' }, small);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error!.code, 'multi_vector_answer_too_large');
    assert.equal(refused.json.error!.param, 'input');
    const served = await embed({ model: 'colbert', input: ['a', 'b'], input_type: 'query' }, small);
    assert.equal(served.status, 200);
    assert.equal(served.json.data.length, 2);
  });
});

describe('ColBERT lengths and tokens', () => {
  test("/v1/tokenize shows the ids a side runs: the prefix after [CLS], a query's [MASK] expansion", async () => {
    const model = models.colbert!;
    const response = await app.inject({ method: 'POST', url: '/v1/tokenize', payload: { model: 'colbert', input: 'hello world', input_type: 'query' } });
    const [item] = (response.json() as { data: { ids: number[]; tokens: string[]; num_tokens: number; total_tokens: number; truncated: boolean }[] }).data;
    const prefix = model.config.query_prefix as string;
    assert.deepEqual(item!.tokens, ['[CLS]', prefix, 'hello', 'world', '[SEP]', ...Array(7).fill('[MASK]')]);
    assert.deepEqual([item!.num_tokens, item!.total_tokens, item!.truncated], [12, 5, false]);
    const document = await app.inject({ method: 'POST', url: '/v1/tokenize', payload: { model: 'colbert', input: 'hello world', input_type: 'document' } });
    assert.deepEqual((document.json() as { data: { tokens: string[] }[] }).data[0]!.tokens, ['[CLS]', model.config.document_prefix, 'hello', 'world', '[SEP]']);
  });

  test("with truncate: false, a document over document_length is refused (its count includes the prefix); cut otherwise", async () => {
    const long = TEXTS.at(-1)!;
    const refused = await embed({ model: 'colbert', input: ['fox', long], input_type: 'document', truncate: false });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error!.code, 'context_length_exceeded');
    const cut = await embed({ model: 'colbert', input: [long], input_type: 'document' });
    assert.equal(cut.json.data[0]!.num_tokens, models.colbert!.config.document_length);
    const rerank = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { model: 'colbert', query: 'fox', documents: ['fox', long], truncate: false } });
    assert.equal(rerank.statusCode, 400);
    assert.equal((rerank.json() as { error: { param: string } }).error.param, 'documents');
  });
});

describe('rerank by MaxSim on a ColBERT model', () => {
  const query = 'what does the quick brown fox do';
  test("scores are PyLate's colbert_scores (no division by the query length), best first, in Cohere's and TEI's shapes", async () => {
    const model = models.colbert!;
    const queryVectors = await referenceColbert(model, query, 'query');
    const expected = await Promise.all(TEXTS.map(async (text) => referenceMaxSim(queryVectors, await referenceColbert(model, text, 'document'))));
    const order = expected.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score).map(({ index }) => index);
    const cohere = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { model: 'colbert', query, documents: TEXTS } });
    assert.equal(cohere.statusCode, 200);
    const results = (cohere.json() as { results: { index: number; relevance_score: number }[] }).results;
    assert.deepEqual(results.map(({ index }) => index), order);
    for (const { index, relevance_score: score } of results) assert.ok(Math.abs(score - expected[index]!) <= 1e-4, `${score} vs ${expected[index]}`);
    // Sums over 12 query vectors of cosines: more than 1 for the best.
    assert.ok(results[0]!.relevance_score > 1);
    const tei = await app.inject({ method: 'POST', url: '/rerank', payload: { model: 'colbert', query, texts: TEXTS } });
    assert.deepEqual((tei.json() as { index: number }[]).map(({ index }) => index), order);
    // TEI's clients name no model: with no cross-encoder served, the first ColBERT model answers.
    const unnamed = await app.inject({ method: 'POST', url: '/rerank', payload: { query, texts: TEXTS } });
    assert.deepEqual((unnamed.json() as { index: number }[]).map(({ index }) => index), order);
  });
});

describe("rerank truncation options on a ColBERT model, as a cross-encoder's", () => {
  const query = 'what does the quick brown fox do';
  // Over document_length (20), its start and its end unlike.
  const long = 'search query: what is an embedding (a vector)? ' + 'the quick brown fox jumps over the lazy dog; '.repeat(3) + 'hello world, the cat sat on the mat';
  const documents = ['fox', long, 'the cat sat on the mat, and the dog? it sat, too!'];

  async function rerankScores(payload: Record<string, unknown>, url = '/v1/rerank'): Promise<number[]> {
    const response = await app.inject({ method: 'POST', url, payload: { model: 'colbert', query, ...payload } });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as { results: { index: number; relevance_score: number }[] } | { index: number; score: number }[];
    const scores: number[] = [];
    if (Array.isArray(body)) for (const { index, score } of body) scores[index] = score;
    else for (const { index, relevance_score: score } of body.results) scores[index] = score;
    return scores;
  }

  async function expectedScores(texts: string[], direction: 'right' | 'left' = 'right', queryText = query): Promise<number[]> {
    const queryVectors = await referenceColbert(models.colbert!, queryText, 'query');
    return Promise.all(texts.map(async (text) => referenceMaxSim(queryVectors, await referenceColbert(models.colbert!, text, 'document', direction))));
  }

  const assertScores = (actual: number[], expected: number[], what: string) =>
    expected.forEach((score, index) => assert.ok(Math.abs(actual[index]! - score) <= 1e-4, `${what}: document ${index} ${actual[index]} vs ${score}`));

  test('max_tokens_per_doc: each document first cut to its own first N tokens (then truncate: false refuses none)', async () => {
    const cut = await Promise.all(documents.map((text) => referenceFirstTokens(models.colbert!, text, 4)));
    assert.notEqual(cut[1], long);
    const expected = await expectedScores(cut);
    assertScores(await rerankScores({ documents, max_tokens_per_doc: 4 }), expected, 'max_tokens_per_doc 4');
    assertScores(await rerankScores({ documents, max_tokens_per_doc: 4, truncate: false }), expected, 'cut before the length check');
    const whole = await expectedScores(documents);
    assert.ok(Math.abs(whole[1]! - expected[1]!) > 1e-3, 'the cut changes the long document\'s score');
  });

  test("truncation_direction left keeps an over-long document's end, on Cohere's and TEI's shapes", async () => {
    const expected = await expectedScores(documents, 'left');
    assert.ok(Math.abs(expected[1]! - (await expectedScores(documents))[1]!) > 1e-3, 'the ends of the long document score apart');
    assertScores(await rerankScores({ documents, truncation_direction: 'left' }), expected, 'v1/rerank left');
    assertScores(await rerankScores({ texts: documents, truncation_direction: 'Left' }, '/rerank'), expected, 'TEI left');
    assertScores(await rerankScores({ documents, truncation_direction: 'right' }), await expectedScores(documents), 'right');
    // Both: the first tokens, then the end of those.
    const cut = await Promise.all(documents.map((text) => referenceFirstTokens(models.colbert!, text, 30)));
    assertScores(await rerankScores({ documents, truncation_direction: 'left', max_tokens_per_doc: 30 }), await expectedScores(cut, 'left'), 'left after max_tokens_per_doc');
  });

  test('the query is always cut to query_length at its end, as PyLate cuts it: whatever the direction, and with truncate: false', async () => {
    const longQuery = 'what does the quick brown fox do when the lazy dog sleeps under the old tree';
    const short = [documents[0]!, 'the cat sat on the mat'];
    const expected = await expectedScores(short, 'right', longQuery);
    assertScores(await rerankScores({ query: longQuery, documents: short, truncation_direction: 'left', truncate: false }), expected, 'long query, left, truncate false');
    assertScores(await rerankScores({ query: longQuery, documents: short }), expected, 'long query');
  });
});

describe("vLLM's /score and TEI's /similarity on a ColBERT model: MaxSim, as /v1/rerank scores the pairs", () => {
  const queries = ['what does the quick brown fox do', 'hello world'];

  async function rerank(query: string, documents: string[]): Promise<{ scores: number[]; tokens: number }> {
    const response = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { model: 'colbert', query, documents } });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as { results: { index: number; relevance_score: number }[]; usage: { total_tokens: number } };
    const scores: number[] = [];
    for (const { index, relevance_score: score } of body.results) scores[index] = score;
    return { scores, tokens: body.usage.total_tokens };
  }

  async function post(url: string, payload: Record<string, unknown>) {
    const response = await app.inject({ method: 'POST', url, payload });
    assert.equal(response.statusCode, 200, response.body);
    return response.json() as unknown;
  }

  const assertSame = (actual: number[], expected: number[], what: string) => {
    assert.equal(actual.length, expected.length, what);
    expected.forEach((score, index) => assert.ok(Math.abs(actual[index]! - score) <= 1e-5, `${what}: pair ${index} ${actual[index]} vs ${score}`));
  };

  test('/score with text_1 and a list of text_2: the rerank scores and tokens, equal to the float64 reference', async () => {
    const expected = await rerank(queries[0]!, TEXTS);
    const answer = (await post('/score', { model: 'colbert', text_1: queries[0], text_2: TEXTS })) as { data: { index: number; score: number }[]; usage: { total_tokens: number } };
    assert.deepEqual(answer.data.map(({ index }) => index), TEXTS.map((_, index) => index));
    assertSame(answer.data.map(({ score }) => score), expected.scores, 'text_1/text_2');
    assert.equal(answer.usage.total_tokens, expected.tokens);
    const queryVectors = await referenceColbert(models.colbert!, queries[0]!, 'query');
    for (const [index, text] of TEXTS.entries()) {
      const reference = referenceMaxSim(queryVectors, await referenceColbert(models.colbert!, text, 'document'));
      assert.ok(Math.abs(answer.data[index]!.score - reference) <= 1e-4, `${text}: ${answer.data[index]!.score} vs ${reference}`);
    }
  });

  test('/score pairwise with queries and documents: pairs grouped by their query, each scored as /v1/rerank scores it', async () => {
    const pairs: [string, string][] = [[queries[0]!, TEXTS[0]!], [queries[1]!, TEXTS[1]!], [queries[0]!, TEXTS[2]!], [queries[1]!, TEXTS[3]!]];
    const byQuery = await Promise.all(queries.map((query) => rerank(query, pairs.filter(([first]) => first === query).map(([, second]) => second))));
    const expected = pairs.map(([first], index) => byQuery[queries.indexOf(first)]!.scores[pairs.slice(0, index).filter(([other]) => other === first).length]!);
    const answer = (await post('/score', { model: 'colbert', queries: pairs.map(([first]) => first), documents: pairs.map(([, second]) => second) })) as { data: { score: number }[] };
    assertSame(answer.data.map(({ score }) => score), expected, 'queries/documents');
  });

  test("/similarity: the source sentence as the query, each sentence as a document", async () => {
    const expected = await rerank(queries[1]!, TEXTS);
    assertSame((await post('/similarity', { model: 'colbert', inputs: { source_sentence: queries[1], sentences: TEXTS } })) as number[], expected.scores, '/similarity');
  });
});

describe('GET /v1/models', () => {
  test('a ColBERT model shows its vector width, no pooling, and MaxSim with its lengths', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/models/colbert' });
    const model = response.json() as Record<string, unknown>;
    assert.equal(model.kind, 'embedding');
    assert.equal(model.dimensions, 16);
    assert.equal(model.pooling, 'none');
    assert.deepEqual(model.multi_vector, { similarity: 'MaxSim', query_length: 12, document_length: 20 });
  });
});

describe("TEI's /embed_all", () => {
  test("a ColBERT model's vectors per token, [[[float]]]", async () => {
    const response = await app.inject({ method: 'POST', url: '/embed_all', payload: { model: 'modern', inputs: TEXTS.slice(0, 2), input_type: 'document' } });
    assert.equal(response.statusCode, 200);
    const answer = response.json() as number[][][];
    for (const [index, text] of TEXTS.slice(0, 2).entries()) assertClose(answer[index]!, await referenceColbert(models.modern!, text, 'document'), text);
  });

  test("another embedding model's token states as TEI returns them: every token, unnormalised", async () => {
    const response = await app.inject({ method: 'POST', url: '/embed_all', payload: { model: 'mini', inputs: 'hello world' } });
    assert.equal(response.statusCode, 200);
    const [states] = response.json() as number[][][];
    const ids = await rustTokenizer(plain.dir, 24)('hello world');
    assertClose(states!, referenceForward(plain.weights, ids).map((state) => [...state]), 'token states');
  });

  test("errors leave in TEI's route config (errorShape: tei); an unknown model is a 404", async () => {
    const response = await app.inject({ method: 'POST', url: '/embed_all', payload: { model: 'nope', inputs: 'x' } });
    assert.equal(response.statusCode, 404);
  });
});
