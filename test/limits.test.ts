import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { request } from 'node:http';
import { listen, startTestApp, type TestServer } from './helpers/app.ts';

let server: TestServer;
before(async () => {
  server = await startTestApp({ 'test/mean': {} }, 'test/mean alias=tiny token_ids=model', {
    maxQueued: 2100,
    maxBatchSize: 4,
    limits: { truncate: true, maxRequestTokens: 20_000, requestTimeoutMs: 60_000, maxRerankDocuments: 1000 },
  });
});
after(() => server.close());

const embed = (payload: object) => server.app.inject({ method: 'POST', url: '/v1/embeddings', payload });
const LONG = 'the quick brown fox jumps over the lazy dog '.repeat(5);

test('over-long inputs are truncated by default, and refused with truncate: false saying how many tokens and the limit', async () => {
  const truncated = await embed({ model: 'tiny', input: LONG });
  assert.equal(truncated.statusCode, 200);
  assert.equal(truncated.json().data[0].num_tokens, 24);
  const refused = await embed({ model: 'tiny', input: ['hello', LONG], truncate: false });
  assert.equal(refused.statusCode, 400);
  const { error } = errorResponseSchema.parse(refused.json());
  assert.equal(error.code, 'context_length_exceeded');
  assert.equal(error.param, 'input');
  assert.match(error.message, /Input 1 has 52 tokens, more than the model's limit of 24/);
  assert.equal((await embed({ model: 'tiny', input: ['hello'], truncate: false })).statusCode, 200);
  const ids = await embed({ model: 'tiny', input: Array.from({ length: 30 }, () => 7), truncate: false });
  assert.equal(ids.statusCode, 400);
});

test('a request over the total token cap is refused with a 400', async () => {
  const response = await embed({ model: 'tiny', input: Array.from({ length: 1000 }, () => LONG) });
  assert.equal(response.statusCode, 400);
  const { error } = errorResponseSchema.parse(response.json());
  assert.equal(error.code, 'max_tokens_per_request');
  assert.match(error.message, /24000 tokens; at most 20000/);
});

test('past the queue bound a request gets 429 with Retry-After at once; the queued work still completes', async () => {
  const big = embed({ model: 'tiny', input: Array.from({ length: 2048 }, (_, i) => `query ${i}`) });
  const model = (await server.registry.resolve('tiny')!.loaded).runtime;
  while (model.queuedSequences < 100) await new Promise((resolve) => setTimeout(resolve, 1));
  const refused = await embed({ model: 'tiny', input: Array.from({ length: 100 }, () => 'hello') });
  assert.ok(model.queuedSequences > 0, 'the refusal did not wait for the queue to empty');
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal(errorResponseSchema.parse(refused.json()).error.code, 'overloaded');
  assert.equal((await big).statusCode, 200);
  assert.equal((await embed({ model: 'tiny', input: 'hello' })).statusCode, 200);
});

test('when a client disconnects, its queued inputs are dropped, not computed', async () => {
  const url = new URL(`${await listen(server)}/v1/embeddings`);
  const model = (await server.registry.resolve('tiny')!.loaded).runtime;
  const body = JSON.stringify({ model: 'tiny', input: Array.from({ length: 2048 }, (_, i) => `query ${i}`) });
  const client = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
  client.on('error', () => undefined);
  client.end(body);
  while (model.queuedSequences < 1500) await new Promise((resolve) => setTimeout(resolve, 1));
  client.destroy();
  // Counted in turns of the event loop, not ms: computing the ~1500 queued inputs takes hundreds of turns.
  let turns = 0;
  for (; model.queuedSequences > 0; turns++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(turns < 20, `the queue emptied after ${turns} turns of the event loop`);
  assert.equal((await embed({ model: 'tiny', input: 'hello' })).statusCode, 200);
});

test('a request that cannot finish within REQUEST_TIMEOUT_MS gets 503 timeout', async () => {
  const slow = await startTestApp({ 'test/mean': {} }, 'test/mean alias=tiny', {
    maxBatchSize: 1,
    limits: { truncate: true, maxRequestTokens: 300_000, requestTimeoutMs: 5, maxRerankDocuments: 1000 },
  });
  try {
    const response = await slow.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model: 'tiny', input: Array.from({ length: 2048 }, (_, i) => `query ${i}`) } });
    assert.equal(response.statusCode, 503);
    assert.equal(errorResponseSchema.parse(response.json()).error.code, 'timeout');
    const model = (await slow.registry.resolve('tiny')!.loaded).runtime;
    assert.equal(model.queuedSequences, 0, 'the timed-out work is dropped');
  } finally {
    await slow.close();
  }
});

test('a burst of 100 concurrent 2048-input requests: each is admitted or refused with 429 at once; after the clients leave, a query succeeds fast', async () => {
  const url = new URL(`${await listen(server)}/v1/embeddings`);
  const body = JSON.stringify({ model: 'tiny', input: Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i}`) });
  const statuses: (number | 'gone')[] = [];
  const clients = Array.from({ length: 100 }, () => {
    const client = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => {
        statuses.push(response.statusCode!);
        if (response.statusCode !== 200) errorResponseSchema.parse(JSON.parse(text));
      });
    });
    client.on('error', () => statuses.push('gone'));
    client.end(body);
    return client;
  });
  while (statuses.filter((status) => status === 429).length < 90) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const client of clients) client.destroy();
  const started = performance.now();
  const single = await embed({ model: 'tiny', input: 'hello' });
  assert.equal(single.statusCode, 200);
  assert.ok(performance.now() - started < 2000);
  assert.ok(statuses.every((status) => status === 200 || status === 429 || status === 503 || status === 'gone'), String(statuses));
});
