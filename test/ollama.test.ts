/**
 * Ollama's API on generated models: /api/embed, /api/embeddings, /api/tags, /api/show, with the OpenAI route's
 * vectors, Ollama's shapes and its error body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ollamaEmbeddingsResponseSchema,
  ollamaEmbedResponseSchema,
  ollamaErrorSchema,
  ollamaShowResponseSchema,
  ollamaTagsResponseSchema,
} from '../src/schemas/ollama.ts';
import { cosine, openAiVectors as ownVectors, startTestApp, type TestServer } from './helpers/app.ts';

const LIMIT = 24;
let server: TestServer;
before(async () => {
  server = await startTestApp(
    { 'test/mean': { modelMaxLength: LIMIT, maxSeqLength: LIMIT }, 'ce/mini': { crossEncoder: {} }, 'test/cls': { pooling: ['cls'], normalize: false } },
    'test/mean alias=mean\nce/mini alias=ranker\ntest/cls',
  );
});
after(() => server.close());

async function post(url: string, payload: unknown) {
  const response = await server.app.inject({ method: 'POST', url, payload: payload as object });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> };
}

const openAiVectors = (model: string, input: string[], extra?: Record<string, unknown>) => ownVectors(server, model, input, extra);

const TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello world'];
const LONG = Array.from({ length: 40 }, () => 'fox').join(' ');

describe('/api/embed', () => {
  test('the OpenAI route’s vectors in Ollama’s shape; the model named as sent, with or without :latest', async () => {
    for (const model of ['mean', 'mean:latest']) {
      const { status, body } = await post('/api/embed', { model, input: TEXTS, keep_alive: '5m', options: { num_ctx: 512 } });
      assert.equal(status, 200);
      const answer = ollamaEmbedResponseSchema.strict().parse(body);
      assert.equal(answer.model, model);
      assert.deepEqual(answer.embeddings, await openAiVectors('mean', TEXTS));
      const tokens = ((await post('/v1/embeddings', { model: 'mean', input: TEXTS })).body.usage as { total_tokens: number }).total_tokens;
      assert.equal(answer.prompt_eval_count, tokens);
      assert.ok(answer.total_duration > 0);
      assert.equal(answer.load_duration, 0);
    }
    const repoName = await post('/api/embed', { model: 'test/mean:latest', input: 'hello world' });
    assert.deepEqual(repoName.body.embeddings, await openAiVectors('mean', ['hello world']));
  });

  test('vectors of unit length, as Ollama normalises them, for a model that does not normalise too (the same direction)', async () => {
    const [vector] = (await post('/api/embed', { model: 'test/cls', input: 'hello world' })).body.embeddings as number[][];
    assert.ok(Math.abs(Math.hypot(...vector!) - 1) < 1e-6);
    const [own] = await openAiVectors('test/cls', ['hello world']);
    assert.ok(Math.abs(Math.hypot(...own!) - 1) > 1e-3, 'the fixture does not normalise');
    assert.ok(cosine(vector!, own!) >= 0.99999);
  });

  test('dimensions as Ollama reads them: N cuts and renormalises, 0 or more than the width keeps all', async () => {
    assert.deepEqual((await post('/api/embed', { model: 'mean', input: 'hello', dimensions: 8 })).body.embeddings, await openAiVectors('mean', ['hello'], { dimensions: 8 }));
    const full = await openAiVectors('mean', ['hello']);
    for (const dimensions of [0, 32, 1000]) assert.deepEqual((await post('/api/embed', { model: 'mean', input: 'hello', dimensions })).body.embeddings, full);
  });

  test('no input, an empty string or an empty list: no embeddings, as Ollama', async () => {
    for (const input of [undefined, '', []]) {
      const { status, body } = await post('/api/embed', { model: 'mean', input });
      assert.equal(status, 200);
      assert.deepEqual(body.embeddings, []);
      assert.equal(body.prompt_eval_count, 0);
    }
  });

  test('truncate: true by default; false refuses an over-long text with Ollama’s error body', async () => {
    assert.equal((await post('/api/embed', { model: 'mean', input: LONG })).status, 200);
    const refused = await post('/api/embed', { model: 'mean', input: LONG, truncate: false });
    assert.equal(refused.status, 400);
    assert.match(ollamaErrorSchema.strict().parse(refused.body).error, /more than the model's limit of 24/);
  });

  test('errors in Ollama’s shape: unknown model 404, a reranker 400, a wrong input 400', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ model: 'nomic-embed-text:latest', input: 'x' }, 404, /The model 'nomic-embed-text:latest' does not exist/],
      [{ model: 'ranker', input: 'x' }, 400, /'ranker' is a reranker/],
      [{ model: 'mean', input: [1, 2] }, 400, /'input': must be a string or an array of strings/],
      [{ input: 'x' }, 400, /Missing required parameter: 'model'/],
    ];
    for (const [payload, status, message] of cases) {
      const response = await post('/api/embed', payload);
      assert.equal(response.status, status, JSON.stringify(payload));
      assert.match(ollamaErrorSchema.strict().parse(response.body).error, message);
    }
  });
});

describe('/api/embeddings', () => {
  test('one vector under `embedding`; an empty prompt gives an empty one', async () => {
    const { status, body } = await post('/api/embeddings', { model: 'mean:latest', prompt: 'hello world' });
    assert.equal(status, 200);
    assert.deepEqual(ollamaEmbeddingsResponseSchema.strict().parse(body).embedding, (await openAiVectors('mean', ['hello world']))[0]);
    assert.deepEqual((await post('/api/embeddings', { model: 'mean', prompt: '' })).body, { embedding: [] });
  });
});

describe('/api/tags and /api/show', () => {
  test('the embedding models, named with :latest, with their files’ size, time and digest', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/api/tags' });
    const { models } = ollamaTagsResponseSchema.parse(response.json());
    assert.deepEqual(
      models.map(({ name, model }) => [name, model]),
      [
        ['mean:latest', 'mean:latest'],
        ['test/cls:latest', 'test/cls:latest'],
      ],
    );
    assert.ok(models.every(({ size, digest, capabilities }) => size > 0 && /^[0-9a-f]{64}$/.test(digest) && capabilities.includes('embedding')));
    assert.notEqual(models[0]!.digest, models[1]!.digest);
    assert.ok(!Number.isNaN(Date.parse(models[0]!.modified_at)));
  });

  test('show: context and embedding lengths under the architecture’s keys; `name` as the older clients send it', async () => {
    for (const payload of [{ model: 'mean:latest' }, { name: 'mean' }]) {
      const { status, body } = await post('/api/show', payload);
      assert.equal(status, 200);
      const shown = ollamaShowResponseSchema.parse(body);
      const architecture = shown.model_info['general.architecture'];
      assert.equal(shown.model_info[`${architecture}.context_length`], LIMIT);
      assert.equal(shown.model_info[`${architecture}.embedding_length`], 32);
      assert.deepEqual(shown.capabilities, ['embedding']);
    }
    const missing = await post('/api/show', { model: 'nope' });
    assert.equal(missing.status, 404);
    ollamaErrorSchema.strict().parse(missing.body);
  });
});
