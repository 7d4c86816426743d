import assert from 'node:assert/strict';
import { before, describe, test, after } from 'node:test';
import type { PoolingMode } from '../src/inference/heads/pooling.ts';
import { embeddingsResponseSchema } from '../src/schemas/embeddings.ts';
import { cosine, startTestApp, type TestServer } from './helpers/app.ts';
import { referenceEmbedding, rustTokenizer } from './helpers/reference.ts';

const MAX_TOKENS = 24;
const TEXTS = ['hello world', '  The Quick brown fox jumps over the lazy dog\n', 'a', 'Embedding models, searched: "text" & vectors!'];
const MODELS = {
  'test/mean': { pooling: ['mean'] as PoolingMode[] },
  'test/cls': { pooling: ['cls'] as PoolingMode[], normalize: false },
  'test/max': { pooling: ['max'] as PoolingMode[] },
  'test/sqrt': { pooling: ['mean_sqrt_len'] as PoolingMode[], normalize: false },
  'test/weighted': { pooling: ['weightedmean'] as PoolingMode[] },
  'test/last': { pooling: ['lasttoken'] as PoolingMode[] },
  'test/cls-mean': { pooling: ['cls', 'mean'] as PoolingMode[], normalize: false },
  'test/no-token-types': { pooling: ['mean'] as PoolingMode[], shape: { tokenTypeIds: false, seed: 11 } },
  'test/cased-lowered': { pooling: ['mean'] as PoolingMode[], tokenizerLowercases: false, doLowerCase: true },
};

let server: TestServer;
before(async () => {
  // Token-id tests here use the model's own vocabulary (TOKEN_IDS=model); OpenAI's meaning: token-ids.test.ts.
  server = await startTestApp(MODELS, undefined, { tokenIds: 'model' });
});
after(() => server.close());

async function embed(body: Record<string, unknown>) {
  const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: body });
  assert.equal(response.statusCode, 200, response.body);
  return embeddingsResponseSchema.parse(response.json());
}

async function expected(repo: keyof typeof MODELS, text: string, dimensions?: number) {
  const fixture = server.fixtures[repo]!;
  const options = MODELS[repo] as { pooling: PoolingMode[]; normalize?: boolean; doLowerCase?: boolean };
  const ids = await rustTokenizer(fixture.dir, MAX_TOKENS, options.doLowerCase)(text);
  return { ids, vector: referenceEmbedding(fixture.weights, ids, { pooling: options.pooling, normalize: options.normalize !== false, dimensions }) };
}

function assertClose(actual: number[], reference: number[], tolerance = 1e-4) {
  assert.equal(actual.length, reference.length);
  actual.forEach((value, i) => assert.ok(Math.abs(value - reference[i]!) <= tolerance, `dimension ${i}: ${value} vs ${reference[i]}`));
  assert.ok(cosine(actual, reference) >= 0.99999);
}

describe('embeddings match sentence-transformers computed independently', () => {
  for (const repo of Object.keys(MODELS) as (keyof typeof MODELS)[]) {
    test(`${repo}: every vector, token count and usage`, async () => {
      const body = await embed({ model: repo, input: TEXTS });
      assert.equal(body.model, repo);
      assert.equal(body.data.length, TEXTS.length);
      let total = 0;
      for (const [index, text] of TEXTS.entries()) {
        const { ids, vector } = await expected(repo, text);
        const item = body.data[index]!;
        assert.equal(item.index, index);
        assert.equal(item.object, 'embedding');
        assert.equal(item.num_tokens, ids.length);
        assertClose(item.embedding as number[], vector);
        total += ids.length;
      }
      assert.deepEqual(body.usage, { prompt_tokens: total, total_tokens: total });
    });
  }

  test('normalised models give unit vectors; others keep their length', async () => {
    const [normalised, raw] = await Promise.all([embed({ model: 'test/mean', input: 'hello' }), embed({ model: 'test/cls', input: 'hello' })]);
    const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    assert.ok(Math.abs(norm(normalised.data[0]!.embedding as number[]) - 1) < 1e-6);
    assert.ok(Math.abs(norm(raw.data[0]!.embedding as number[]) - 1) > 0.01);
  });

  test('a model without token_type_ids is fed only the inputs its graph declares', async () => {
    const body = await embed({ model: 'test/no-token-types', input: 'the cat sat on the mat' });
    assertClose(body.data[0]!.embedding as number[], (await expected('test/no-token-types', 'the cat sat on the mat')).vector);
  });
});

describe('request options', () => {
  test('dimensions truncates, then re-normalises a normalised model', async () => {
    const body = await embed({ model: 'test/mean', input: TEXTS[1], dimensions: 8 });
    const vector = body.data[0]!.embedding as number[];
    assert.equal(vector.length, 8);
    assertClose(vector, (await expected('test/mean', TEXTS[1]!, 8)).vector);
  });

  test('dimensions on a model that does not normalise only truncates', async () => {
    const full = await embed({ model: 'test/cls', input: 'hello' });
    const cut = await embed({ model: 'test/cls', input: 'hello', dimensions: 5 });
    assert.deepEqual(cut.data[0]!.embedding, (full.data[0]!.embedding as number[]).slice(0, 5));
  });

  test('base64 is the float32 little-endian bytes of the float answer', async () => {
    const [floats, encoded] = await Promise.all([
      embed({ model: 'test/mean', input: TEXTS }),
      embed({ model: 'test/mean', input: TEXTS, encoding_format: 'base64' }),
    ]);
    for (const [index, item] of encoded.data.entries()) {
      const bytes = Buffer.from(item.embedding as string, 'base64');
      const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
      assert.deepEqual(decoded, floats.data[index]!.embedding);
    }
  });

  test('token id input is embedded as given, without special tokens added', async () => {
    const { ids, vector } = await expected('test/mean', 'the quick brown fox');
    const single = await embed({ model: 'test/mean', input: ids });
    const nested = await embed({ model: 'test/mean', input: [ids, ids.slice(1, -1)] });
    assertClose(single.data[0]!.embedding as number[], vector);
    assert.equal(single.data[0]!.num_tokens, ids.length);
    assert.deepEqual(nested.data[0]!.embedding, single.data[0]!.embedding);
    const fixture = server.fixtures['test/mean']!;
    assertClose(nested.data[1]!.embedding as number[], referenceEmbedding(fixture.weights, ids.slice(1, -1), { pooling: ['mean'], normalize: true }));
    assert.equal(nested.data[1]!.num_tokens, ids.length - 2);
  });

  test('token id input longer than the limit is cut to the limit', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => 5 + (i % 50));
    const body = await embed({ model: 'test/mean', input: ids });
    assert.equal(body.data[0]!.num_tokens, MAX_TOKENS);
    const fixture = server.fixtures['test/mean']!;
    assertClose(body.data[0]!.embedding as number[], referenceEmbedding(fixture.weights, ids.slice(0, MAX_TOKENS), { pooling: ['mean'], normalize: true }));
  });

  test('over-long text is truncated like sentence-transformers: final [SEP] kept', async () => {
    const text = 'the quick brown fox jumps over the lazy dog '.repeat(10);
    const { ids, vector } = await expected('test/mean', text);
    assert.equal(ids.length, MAX_TOKENS);
    const body = await embed({ model: 'test/mean', input: text });
    assert.equal(body.data[0]!.num_tokens, MAX_TOKENS);
    assertClose(body.data[0]!.embedding as number[], vector);
  });

  test('a text embeds the same alone and inside a mixed-length batch', async () => {
    const batch = ['a', 'the quick brown fox jumps over the lazy dog '.repeat(3), 'hello world', 'vector search query', 'x'];
    for (const model of ['test/mean', 'test/max', 'test/last', 'test/no-token-types']) {
      const together = await embed({ model, input: batch });
      for (const [index, text] of batch.entries()) {
        const alone = await embed({ model, input: text });
        assert.ok(cosine(alone.data[0]!.embedding as number[], together.data[index]!.embedding as number[]) >= 0.99999, `${model} #${index}`);
      }
    }
  });

  test('the model may be named by its full repo id or bare name; answers carry id, created and user is ignored', async () => {
    const body = await embed({ model: 'mean', input: 'hello', user: 'someone' });
    assert.equal(body.model, 'test/mean');
    assert.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(Math.abs(body.created - Date.now() / 1000) < 60);
  });

  test('2048 inputs are answered in order', async () => {
    const input = Array.from({ length: 2048 }, (_, i) => `query ${i} ${'text '.repeat(i % 13)}`);
    const body = await embed({ model: 'test/mean', input });
    assert.equal(body.data.length, 2048);
    body.data.forEach((item, index) => assert.equal(item.index, index));
    const sample = await embed({ model: 'test/mean', input: input[1234] });
    assert.ok(cosine(sample.data[0]!.embedding as number[], body.data[1234]!.embedding as number[]) >= 0.99999);
  });
});

test('an int8-quantised graph (the bench fixture) stays close to the float64 reference: cosine ≥ 0.99', async () => {
  const quantized = await startTestApp({ 'test/int8': { int8: true, shape: { hidden: 64, intermediate: 128 } } });
  try {
    const fixture = quantized.fixtures['test/int8']!;
    for (const text of TEXTS) {
      const response = await quantized.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model: 'test/int8', input: text } });
      const ids = await rustTokenizer(fixture.dir, MAX_TOKENS)(text);
      const reference = referenceEmbedding(fixture.weights, ids, { pooling: ['mean'], normalize: true });
      const similarity = cosine(response.json().data[0].embedding, reference);
      assert.ok(similarity >= 0.99 && similarity < 0.999999, `${text}: cosine ${similarity} (quantised, so close but not exact)`);
    }
  } finally {
    await quantized.close();
  }
});
