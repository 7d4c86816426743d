import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestServer } from './helpers/app.ts';
import { rustTokenizer } from './helpers/reference.ts';
import { assertSparseEqual, referenceSplade, referenceStatic, writeSparseModel, type SparseFixture, type SparseFixtureOptions } from './helpers/sparse-fixture.ts';

const MAX_TOKENS = 24;
const TEXTS = ['hello world', 'The quick brown fox jumps over the lazy dog', 'a', 'search the document: vector query, embed!'];
/** Repo → layout; models.txt serves each under its alias. */
const SPARSE: Record<string, SparseFixtureOptions & { alias: string }> = {
  'naver/splade-like': { layout: 'st5', alias: 'splade' },
  'test/splade-sum': { layout: 'st5', pooling: 'sum', activation: 'log1p_relu', st54: true, seed: 23, alias: 'splade-sum' },
  'opensearch/doc-v3-like': { layout: 'router', activation: 'log1p_relu', seed: 31, alias: 'router' },
  'test/router-query-default': { layout: 'router', defaultRoute: 'query', seed: 37, alias: 'router-query' },
  'test/router-in-folder': { layout: 'router-in-folder', seed: 41, alias: 'router-folder' },
  'prithivida/classic-like': { layout: 'classic', seed: 43, alias: 'classic' },
};
const sparse: Record<string, SparseFixture> = {};

let server: TestServer;
before(async () => {
  const lines = Object.entries(SPARSE).map(([repo, { alias }]) => `${repo} alias=${alias}${alias === 'router-folder' ? ' onnx=document_0_MLMTransformer/onnx/model.onnx' : ''}`);
  server = await startTestApp({ 'test/dense': {} }, ['test/dense alias=dense', ...lines].join('\n'), {
    writeMore: async (dir) => {
      for (const [repo, options] of Object.entries(SPARSE)) sparse[options.alias] = await writeSparseModel(dir, repo, options);
    },
  });
});
after(() => server.close());

async function post(url: string, payload: Record<string, unknown>) {
  return server.app.inject({ method: 'POST', url, payload });
}

async function embed(payload: Record<string, unknown>) {
  const response = await post('/v1/embeddings', payload);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as { data: { index: number; embedding: { indices: number[]; values: number[] }; num_tokens: number }[]; usage: { total_tokens: number } };
}

const idsOf = (model: string, text: string) => rustTokenizer(sparse[model]!.tokenizerDir, MAX_TOKENS)(text);
const splade = (model: string) => ({ pooling: SPARSE[Object.keys(SPARSE).find((repo) => SPARSE[repo]!.alias === model)!]!.pooling, activation: SPARSE[Object.keys(SPARSE).find((repo) => SPARSE[repo]!.alias === model)!]!.activation });

test('a SPLADE model answers SparseEncoder.encode: the same non-zero token ids, weights within 1e-5, alone and batched', async () => {
  for (const model of ['splade', 'splade-sum', 'classic']) {
    const batched = await embed({ model, input: TEXTS });
    let tokens = 0;
    for (const [index, text] of TEXTS.entries()) {
      const ids = await idsOf(model, text);
      const reference = referenceSplade(sparse[model]!, ids, splade(model));
      const item = batched.data[index]!;
      assert.equal(item.index, index);
      assert.equal(item.num_tokens, ids.length);
      assertSparseEqual(item.embedding, reference, `${model}: "${text}" batched`);
      const alone = await embed({ model, input: text });
      assert.deepEqual(alone.data[0]!.embedding, item.embedding, `${model}: "${text}" alone answers what it answered batched`);
      tokens += ids.length;
    }
    assert.equal(batched.usage.total_tokens, tokens);
  }
});

test('max_active_dims keeps the largest weights, as SparseEncoder.encode(max_active_dims=k)', async () => {
  const ids = await idsOf('splade', TEXTS[1]!);
  for (const k of [1, 4]) {
    const { data } = await embed({ model: 'splade', input: TEXTS[1], max_active_dims: k });
    assert.equal(data[0]!.embedding.indices.length, k);
    assertSparseEqual(data[0]!.embedding, referenceSplade(sparse.splade!, ids, { maxActiveDims: k }), `k=${k}`);
  }
});

test("an inference-free Router model: input_type query weighs the query's own tokens, document runs SPLADE, none takes the default route", async () => {
  for (const model of ['router', 'router-query', 'router-folder']) {
    const options = SPARSE[Object.keys(SPARSE).find((repo) => SPARSE[repo]!.alias === model)!]!;
    for (const text of TEXTS) {
      const ids = await idsOf(model, text);
      const query = referenceStatic(sparse[model]!.staticWeights!, ids.slice(1, -1));
      const document = referenceSplade(sparse[model]!, ids, { activation: options.activation });
      const asQuery = (await embed({ model, input: text, input_type: 'query' })).data[0]!;
      assertSparseEqual(asQuery.embedding, query, `${model}: "${text}" as a query`);
      assert.equal(asQuery.num_tokens, ids.length - 2, 'a static side counts the tokens it weighed (no special tokens)');
      assertSparseEqual((await embed({ model, input: text, input_type: 'document' })).data[0]!.embedding, document, `${model}: "${text}" as a document`);
      const byDefault = (await embed({ model, input: text })).data[0]!.embedding;
      assertSparseEqual(byDefault, options.defaultRoute === 'query' ? query : document, `${model}: "${text}" with no input_type`);
    }
  }
  const k2 = (await embed({ model: 'router', input: TEXTS[1], input_type: 'query', max_active_dims: 2 })).data[0]!.embedding;
  assertSparseEqual(k2, referenceStatic(sparse.router!.staticWeights!, (await idsOf('router', TEXTS[1]!)).slice(1, -1), 2), 'a static side keeps its largest weights too');
});

test("TEI's POST /embed_sparse answers [[{index, value}]], equal to the OpenAI route's; the first sparse model when none is named", async () => {
  const openai = await embed({ model: 'splade', input: TEXTS });
  for (const payload of [{ inputs: TEXTS }, { inputs: TEXTS, model: 'splade', truncate: true, truncation_direction: 'Right', prompt_name: null }]) {
    const response = await post('/embed_sparse', payload);
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(
      response.json(),
      openai.data.map(({ embedding }) => embedding.indices.map((index, k) => ({ index, value: embedding.values[k] }))),
    );
  }
  const single = await post('/embed_sparse', { inputs: TEXTS[0], model: 'router', input_type: 'query' });
  assert.equal(single.statusCode, 200, single.body);
  const query = referenceStatic(sparse.router!.staticWeights!, (await idsOf('router', TEXTS[0]!)).slice(1, -1));
  assert.deepEqual(single.json()[0].map(({ index }: { index: number }) => index), query.indices);
  const dense = await post('/embed_sparse', { inputs: 'hello', model: 'dense' });
  assert.equal(dense.statusCode, 400, dense.body);
  assert.match(dense.body, /gives no sparse vectors\. Sparse models served: splade, splade-sum, router, router-query, router-folder, classic/);
});

test("TEI's truncation_direction on /embed_sparse: left keeps an over-long input's end, as the tokenizer cuts it, on the MLM and the static side", async () => {
  const long = Array.from({ length: 40 }, (_, i) => ['fox', 'dog', 'vector', 'query', 'lazy'][i % 5] + (i < 20 ? ' brown' : ' quick')).join(' ');
  const leftIds = await rustTokenizer(sparse.splade!.tokenizerDir, MAX_TOKENS, false, 'left')(long);
  const rightIds = await idsOf('splade', long);
  assert.notDeepEqual(leftIds, rightIds, 'the two ends differ');
  for (const direction of ['left', 'Left'] as const) {
    const response = await post('/embed_sparse', { inputs: [long], model: 'splade', truncation_direction: direction });
    assert.equal(response.statusCode, 200, response.body);
    const [pairs] = response.json() as { index: number; value: number }[][];
    assertSparseEqual({ indices: pairs!.map(({ index }) => index), values: pairs!.map(({ value }) => value) }, referenceSplade(sparse.splade!, leftIds), direction);
  }
  const query = await post('/embed_sparse', { inputs: long, model: 'router', input_type: 'query', truncation_direction: 'left' });
  assert.equal(query.statusCode, 200, query.body);
  const leftQueryIds = await rustTokenizer(sparse.router!.tokenizerDir, MAX_TOKENS, false, 'left')(long);
  assert.deepEqual(query.json()[0].map(({ index }: { index: number }) => index), referenceStatic(sparse.router!.staticWeights!, leftQueryIds.slice(1, -1)).indices);
});

test('a sparse model refuses what only dense vectors have; a dense model refuses max_active_dims', async () => {
  for (const [payload, pattern] of [
    [{ model: 'splade', input: 'hello', dimensions: 8 }, /sparse model: it has no leading dimensions/],
    [{ model: 'splade', input: 'hello', encoding_format: 'base64' }, /sparse model: its vectors come as \{indices, values\}/],
    [{ model: 'dense', input: 'hello', max_active_dims: 8 }, /max_active_dims.*is for sparse models/],
  ] as const) {
    const response = await post('/v1/embeddings', payload);
    assert.equal(response.statusCode, 400, response.body);
    assert.match(response.body, pattern);
  }
});

test('/score and /similarity refuse a sparse model with a 400 naming the model field (they compare dense vectors, MaxSim or a reranker\'s scores)', async () => {
  for (const [url, payload] of [
    ['/score', { model: 'splade', text_1: 'hello', text_2: ['hello world', 'a fox'] }],
    ['/similarity', { model: 'splade', inputs: { source_sentence: 'hello', sentences: ['hello world'] } }],
  ] as const) {
    const response = await post(url, payload);
    assert.equal(response.statusCode, 400, response.body);
    assert.match(response.body, /'splade' gives sparse vectors, which this route does not compare/);
  }
  assert.equal((await post('/score', { model: 'dense', text_1: 'hello', text_2: ['hello world'] })).statusCode, 200);
});

test('GET /v1/models names each model\'s outputs, and a sparse model\'s pooling and sides', async () => {
  const { data } = (await server.app.inject({ url: '/v1/models' })).json() as { data: Record<string, unknown>[] };
  const byId = Object.fromEntries(data.map((model) => [model.id, model]));
  assert.deepEqual(byId.dense!.outputs, ['dense', 'token-states']); // its token states: /embed_all
  assert.deepEqual(byId.splade!.outputs, ['sparse']);
  assert.equal(byId.splade!.dimensions, 128);
  assert.deepEqual(byId.splade!.sparse, { pooling_strategy: 'max', activation_function: 'relu', query: 'graph', document: 'graph', default_input_type: 'document' });
  assert.deepEqual(byId['splade-sum']!.sparse, { pooling_strategy: 'sum', activation_function: 'log1p_relu', query: 'graph', document: 'graph', default_input_type: 'document' });
  assert.deepEqual(byId.router!.sparse, { pooling_strategy: 'max', activation_function: 'log1p_relu', query: 'static', document: 'graph', default_input_type: 'document' });
  assert.equal((byId['router-query']!.sparse as { default_input_type: string }).default_input_type, 'query');
});

test('POST /v1/tokenize with vocabulary ids (a sparse vector\'s indices) answers their tokens', async () => {
  const { data } = await embed({ model: 'splade', input: 'the quick fox' });
  const { indices } = data[0]!.embedding;
  const response = await post('/v1/tokenize', { model: 'splade', input: indices });
  assert.equal(response.statusCode, 200, response.body);
  const [item] = response.json().data;
  assert.deepEqual(item.ids, indices);
  assert.deepEqual(item.tokens, indices.map((id) => sparse.splade!.vocabulary[id]));
  const lists = await post('/v1/tokenize', { model: 'splade', input: [[5, 6], [7]] });
  assert.deepEqual(lists.json().data.map((entry: { tokens: string[] }) => entry.tokens), [[sparse.splade!.vocabulary[5], sparse.splade!.vocabulary[6]], [sparse.splade!.vocabulary[7]]]);
  const outside = await post('/v1/tokenize', { model: 'splade', input: [128] });
  assert.equal(outside.statusCode, 400);
  assert.match(outside.body, /token id 128 is outside the model's vocabulary \(0 to 127\)/);
  const texts = await post('/v1/tokenize', { model: 'splade', input: 'the quick fox' });
  assert.equal(texts.statusCode, 200, 'texts are tokenised as the graph side gets them');
  assert.deepEqual(texts.json().data[0].ids, await idsOf('splade', 'the quick fox'));
});
