import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMetrics } from '../src/http/metrics.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';
import { referenceBgeM3, writeBgeM3Fixture, type BgeM3Fixture } from './helpers/bge-m3-fixture.ts';
import { rustTokenizer } from './helpers/reference.ts';

const MAX_TOKENS = 24;
const TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello world, embeddings for everyone!', 'Der schnelle braune Fuchs', 'the the the fox fox', 'a'];
const ALL = ['dense', 'sparse', 'colbert'];

interface Item {
  index: number;
  embedding?: number[] | string;
  sparse_embedding?: { indices: number[]; values: number[] };
  colbert_embedding?: number[][] | string;
  colbert_rows?: number;
  num_tokens: number;
}

let server: TestServer;
const fixtures: Record<string, BgeM3Fixture> = {};
const batches: { model: string; size: number; runs: number }[] = [];
before(async () => {
  // test/plain first: a request naming no model skips it for the first model with sparse vectors.
  server = await startTestApp({ 'test/plain': {} }, 'test/plain\nBAAI/bge-m3\ntest/bge-m3-onnx', {
    maxBatchSize: 64,
    limits: { truncate: true, maxRequestTokens: 300_000, requestTimeoutMs: 60_000, maxRerankDocuments: 1000, maxMultiVectorValues: 3000 },
    writeMore: async (artifactsDir) => {
      fixtures['BAAI/bge-m3'] = await writeBgeM3Fixture(artifactsDir, 'BAAI/bge-m3', { layout: 'files', colbertWidth: 24, maxSeqLength: MAX_TOKENS });
      fixtures['test/bge-m3-onnx'] = await writeBgeM3Fixture(artifactsDir, 'test/bge-m3-onnx', { layout: 'graph', maxSeqLength: MAX_TOKENS });
    },
    onBatch: (model, stats) => batches.push({ model, size: stats.size, runs: stats.runs }),
  });
});
after(() => server.close());

async function post(body: Record<string, unknown>) {
  return server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: body });
}

async function items(body: Record<string, unknown>): Promise<Item[]> {
  const response = await post(body);
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { data: Item[] }).data;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const floats = (base64: string) => {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

/** SparseEncoder's max_active_dims on a reference vector: the k weights largest in magnitude (lower ids first among equals), ids ascending. */
function largest(vector: { indices: number[]; values: number[] }, k: number): { indices: number[]; values: number[] } {
  const kept = vector.indices
    .map((_, at) => at)
    .sort((a, b) => Math.abs(vector.values[b]!) - Math.abs(vector.values[a]!) || a - b)
    .slice(0, k)
    .sort((a, b) => a - b);
  return { indices: kept.map((at) => vector.indices[at]!), values: kept.map((at) => vector.values[at]!) };
}

async function references(model: string) {
  const tokenize = rustTokenizer(fixtures[model]!.dir, MAX_TOKENS);
  return Promise.all(TEXTS.map(async (text) => ({ ids: await tokenize(text), ...referenceBgeM3(fixtures[model]!, await tokenize(text)) })));
}

for (const [model, layout] of [['BAAI/bge-m3', "as published (.pt heads on the graph's token states)"], ['test/bge-m3-onnx', 'as an all-in-one export (heads inside the graph)']] as const) {
  describe(`bge-m3 ${layout}`, () => {
    test('dense, sparse and ColBERT of a batch equal BGEM3FlagModel.encode (float64 reference), as numbers', async () => {
      const expected = await references(model);
      const data = await items({ model, input: TEXTS, outputs: ALL });
      assert.equal(data.length, TEXTS.length);
      data.forEach((item, index) => {
        const reference = expected[index]!;
        const text = TEXTS[index]!;
        assert.equal(item.index, index);
        assert.equal(item.num_tokens, reference.ids.length);
        assertClose(item.embedding as number[], reference.dense, `${text} dense`);
        assert.deepEqual(item.sparse_embedding!.indices, reference.sparse.indices, `${text}: the same non-zero token ids, ascending`);
        assertClose(item.sparse_embedding!.values, reference.sparse.values, `${text} sparse`);
        assert.equal(item.colbert_rows, reference.ids.length - 1, `${text}: a ColBERT vector per token after CLS`);
        assert.equal((item.colbert_embedding as number[][]).length, item.colbert_rows);
        assertClose((item.colbert_embedding as number[][]).flat(), reference.colbert.flat(), `${text} colbert`);
      });
    });

    test("TEI's /embed_sparse gives the sparse output as [[{index, value}]], equal to /v1/embeddings' sparse_embedding", async () => {
      const expected = await references(model);
      const openAi = await items({ model, input: TEXTS, outputs: ['sparse'] });
      const response = await server.app.inject({ method: 'POST', url: '/embed_sparse', payload: { model, inputs: TEXTS } });
      assert.equal(response.statusCode, 200, response.body);
      const tei = response.json() as { index: number; value: number }[][];
      TEXTS.forEach((text, index) => {
        const { indices, values } = openAi[index]!.sparse_embedding!;
        assert.deepEqual(tei[index], indices.map((id, k) => ({ index: id, value: values[k] })), `${text}: the same weights`);
        assert.deepEqual(indices, expected[index]!.sparse.indices);
        assertClose(values, expected[index]!.sparse.values, `${text} sparse`);
      });
      const one = await server.app.inject({ method: 'POST', url: '/embed_sparse', payload: { model, inputs: TEXTS[1] } });
      assert.deepEqual(one.json(), [tei[1]], 'a single text');
    });

    test('max_active_dims keeps the k largest sparse weights, on /v1/embeddings (dense untouched) and /embed_sparse', async () => {
      const expected = await references(model);
      for (const k of [1, 3]) {
        const data = await items({ model, input: TEXTS, outputs: ['dense', 'sparse'], max_active_dims: k });
        const response = await server.app.inject({ method: 'POST', url: '/embed_sparse', payload: { model, inputs: TEXTS, max_active_dims: k } });
        assert.equal(response.statusCode, 200, response.body);
        const tei = response.json() as { index: number; value: number }[][];
        TEXTS.forEach((text, index) => {
          const kept = largest(expected[index]!.sparse, k);
          assert.deepEqual(data[index]!.sparse_embedding!.indices, kept.indices, `${text}: the ${k} largest, ids ascending`);
          assertClose(data[index]!.sparse_embedding!.values, kept.values, `${text} sparse, k ${k}`);
          assert.deepEqual(tei[index]!.map(({ index: id }) => id), kept.indices, `${text}: /embed_sparse keeps the same ${k}`);
          assertClose(data[index]!.embedding as number[], expected[index]!.dense, `${text} dense`);
        });
      }
    });

    test('each output alone and in base64 gives the same values; without outputs, dense alone as any model gives it', async () => {
      const expected = await references(model);
      const base64 = await items({ model, input: TEXTS, outputs: ['colbert', 'dense'], encoding_format: 'base64' });
      const sparseOnly = await items({ model, input: TEXTS, outputs: ['sparse'] });
      const alone = await Promise.all(TEXTS.map(async (text) => (await items({ model, input: text, outputs: ['colbert'] }))[0]!));
      const plain = await items({ model, input: TEXTS });
      const denseOutput = await items({ model, input: TEXTS, outputs: ['dense'] });
      TEXTS.forEach((text, index) => {
        const reference = expected[index]!;
        assertClose(floats(base64[index]!.embedding as string), reference.dense, `${text} dense base64`);
        assertClose(floats(base64[index]!.colbert_embedding as string), reference.colbert.flat(), `${text} colbert base64`);
        assert.equal(base64[index]!.colbert_rows, reference.ids.length - 1);
        assert.equal(base64[index]!.sparse_embedding, undefined);
        assert.deepEqual(Object.keys(sparseOnly[index]!), ['object', 'index', 'sparse_embedding', 'num_tokens'], 'no embedding when dense is not asked for');
        assert.deepEqual(sparseOnly[index]!.sparse_embedding!.indices, reference.sparse.indices);
        assertClose((alone[index]!.colbert_embedding as number[][]).flat(), reference.colbert.flat(), `${text} colbert alone`);
        assert.deepEqual(Object.keys(plain[index]!), ['object', 'index', 'embedding', 'num_tokens']);
        assertClose(plain[index]!.embedding as number[], reference.dense, `${text} dense by default`);
        assert.deepEqual(denseOutput[index], plain[index]);
      });
    });
  });
}

test('/embed_sparse with no model answers with the first model that has sparse vectors (bge-m3, not the dense model listed first)', async () => {
  const named = await server.app.inject({ method: 'POST', url: '/embed_sparse', payload: { model: 'BAAI/bge-m3', inputs: TEXTS } });
  const unnamed = await server.app.inject({ method: 'POST', url: '/embed_sparse', payload: { inputs: TEXTS } });
  assert.equal(unnamed.statusCode, 200, unnamed.body);
  assert.deepEqual(unnamed.json(), named.json());
  const dense = await server.app.inject({ method: 'POST', url: '/embed_sparse', payload: { model: 'test/plain', inputs: 'hello' } });
  assert.equal(dense.statusCode, 400);
  assert.match((dense.json() as { error: string }).error, /gives no sparse vectors\. Sparse models served: BAAI\/bge-m3, test\/bge-m3-onnx/);
});

test('max_active_dims without the sparse output is refused with a 400 naming the field', async () => {
  const response = await post({ model: 'BAAI/bge-m3', input: 'hello', max_active_dims: 2 });
  assert.equal(response.statusCode, 400, response.body);
  const { error } = response.json() as { error: { param: string; message: string } };
  assert.equal(error.param, 'max_active_dims');
  assert.match(error.message, /unless outputs names sparse/);
});

test('a request for all three outputs runs the graph once per batch, as dense alone does', async () => {
  const texts = ['the quick brown fox', 'the lazy dog sat', 'hello world again', 'embed the text'];
  for (const model of ['BAAI/bge-m3', 'test/bge-m3-onnx']) {
    for (const outputs of [['dense'], ALL, ['sparse', 'colbert']]) {
      batches.length = 0;
      await items({ model, input: texts, outputs });
      assert.deepEqual(batches, [{ model, size: 4, runs: 1 }], `${model} ${outputs.join('+')}`);
    }
  }
  const metrics = createMetrics();
  metrics.observeBatch('m', { size: 4, paddedTokens: 32, runs: 2, seconds: 0.01, queueWaits: new Float64Array(4) });
  assert.match(await metrics.register.metrics(), /^embeddings_graph_runs_total\{model="m"\} 2$/m);
});

test('GET /models names the outputs a bge-m3 request may ask for', async () => {
  for (const model of ['BAAI/bge-m3', 'test/bge-m3-onnx']) {
    const response = await server.app.inject({ method: 'GET', url: `/v1/models/${model}` });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as { outputs: string[]; dimensions: number; pooling: string; normalized: boolean };
    assert.deepEqual({ outputs: body.outputs, dimensions: body.dimensions, pooling: body.pooling, normalized: body.normalized }, { outputs: ALL, dimensions: 32, pooling: 'cls', normalized: true });
  }
});

test('outputs a model does not have, or named twice, are refused with a 400 naming the field', async () => {
  for (const [body, message] of [
    [{ model: 'test/plain', input: 'hello', outputs: ['sparse'] }, "model 'test/plain' has no sparse output; its outputs: dense"],
    [{ model: 'BAAI/bge-m3', input: 'hello', outputs: ['dense', 'dense'] }, 'names dense twice'],
    [{ model: 'BAAI/bge-m3', input: 'hello', outputs: [] }, undefined],
    [{ model: 'BAAI/bge-m3', input: 'hello', outputs: ['lexical'] }, undefined],
  ] as const) {
    const response = await post(body);
    assert.equal(response.statusCode, 400, response.body);
    const { error } = response.json() as { error: { param: string; message: string; type: string } };
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.param, 'outputs');
    if (message) assert.ok(error.message.includes(message), error.message);
  }
  const dense = await items({ model: 'test/plain', input: 'hello', outputs: ['dense'] });
  assert.equal(dense.length, 1);
});

test('a ColBERT answer over MAX_MULTI_VECTOR_VALUES is refused before any work, with a 400', async () => {
  batches.length = 0;
  // 20 texts of ~11 tokens: ~200 vectors × 24 values, over the 3000 this server allows.
  const response = await post({ model: 'BAAI/bge-m3', input: Array.from({ length: 20 }, () => 'the quick brown fox jumps over the lazy dog'), outputs: ['colbert'] });
  assert.equal(response.statusCode, 400, response.body);
  const { error } = response.json() as { error: { code: string; param: string } };
  assert.equal(error.code, 'multi_vector_answer_too_large');
  assert.deepEqual(batches, [], 'nothing ran');
  const sparse = await post({ model: 'BAAI/bge-m3', input: Array.from({ length: 20 }, () => 'the quick brown fox jumps over the lazy dog'), outputs: ['dense', 'sparse'] });
  assert.equal(sparse.statusCode, 200, 'the bound is on ColBERT answers only');
});
