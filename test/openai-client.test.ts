import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { listen, startTestApp, type TestServer } from './helpers/app.ts';
import { referenceEmbedding, rustTokenizer } from './helpers/reference.ts';

let server: TestServer;
let client: OpenAI;
before(async () => {
  server = await startTestApp({ 'test/mean': {} }, 'test/mean alias=tiny');
  client = new OpenAI({ baseURL: `${await listen(server)}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(() => server.close());

const TEXTS = ['hello world', 'the quick brown fox jumps over the lazy dog'];

async function reference(text: string) {
  const fixture = server.fixtures['test/mean']!;
  return referenceEmbedding(fixture.weights, await rustTokenizer(fixture.dir, 24)(text), { pooling: ['mean'], normalize: true });
}

function assertMatches(actual: number[], expected: number[]) {
  assert.equal(actual.length, expected.length);
  actual.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-4, `dimension ${i}`));
}

test('the official openai client with default options (base64 on the wire) gets the right vectors', async () => {
  const response = await client.embeddings.create({ model: 'tiny', input: TEXTS });
  assert.equal(response.model, 'tiny');
  assert.equal(response.data.length, 2);
  for (const [index, text] of TEXTS.entries()) {
    assert.ok(Array.isArray(response.data[index]!.embedding));
    assertMatches(response.data[index]!.embedding, await reference(text));
  }
  assert.ok(response.usage.prompt_tokens > 0);
});

test('the official openai client with encoding_format "float"', async () => {
  const response = await client.embeddings.create({ model: 'tiny', input: TEXTS[1]!, encoding_format: 'float' });
  assertMatches(response.data[0]!.embedding, await reference(TEXTS[1]!));
});

test('the official openai client with dimensions', async () => {
  const response = await client.embeddings.create({ model: 'tiny', input: 'hello', dimensions: 4 });
  assert.equal(response.data[0]!.embedding.length, 4);
});

test('the official openai client surfaces errors as typed API errors', async () => {
  await assert.rejects(client.embeddings.create({ model: 'missing', input: 'x' }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.NotFoundError);
    assert.equal(error.code, 'model_not_found');
    return true;
  });
  await assert.rejects(client.embeddings.create({ model: 'tiny', input: '' }), OpenAI.BadRequestError);
});

test('the official openai client lists models', async () => {
  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  assert.deepEqual(models, ['tiny']);
});
