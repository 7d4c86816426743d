import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp, type App } from '../src/app.ts';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';

const KEY = 'sk-local-0123456789';
let server: TestServer;
let app: App;
const logLines: string[] = [];

before(async () => {
  server = await startTestApp({ 'test/mean': {} }, 'test/mean alias=tiny');
  const { pino } = await import('pino');
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  app = await buildApp({ registry: server.registry, bodyLimit: 1024 * 1024, apiKeys: [KEY, 'second-key'], corsOrigins: ['https://app.example'], logger, accessLog: logger });
});
after(async () => {
  await app.close();
  await server.close();
});

const call = (url: string, headers: Record<string, string> = {}, payload?: object) =>
  app.inject({ method: payload ? 'POST' : 'GET', url, headers, ...(payload ? { payload } : {}) });

describe('API keys', () => {
  test('without a key: 401 invalid_api_key in OpenAI shape on the API routes; the probes /health and /ready stay open', async () => {
    for (const [url, payload] of [['/v1/embeddings', { model: 'tiny', input: 'x' }], ['/v1/models', undefined], ['/models', undefined], ['/v1/rerank', { query: 'q', documents: ['d'] }]] as const) {
      const response = await call(url, {}, payload);
      assert.equal(response.statusCode, 401, url);
      assert.equal(errorResponseSchema.parse(response.json()).error.code, 'invalid_api_key');
    }
    assert.equal((await call('/health')).statusCode, 200);
    // The docs hold no data, and a browser cannot send a key: they open without one, and declare the bearer scheme.
    assert.equal((await call('/docs')).statusCode, 200);
    const document = (await call('/docs/json')).json();
    assert.deepEqual(document.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: 'One of the keys in API_KEYS or API_KEYS_FILE.' });
    assert.deepEqual(document.security, [{ bearerAuth: [] }]);
    assert.ok(document.paths['/v1/embeddings'].post.responses['401'], '401 is documented');
    assert.deepEqual(document.paths['/health'].get.security, [], 'the probes need no key');
    assert.equal((await call('/v1/health')).statusCode, 200);
    assert.equal((await call('/ready')).statusCode, 200);
    assert.equal((await call('/v1/ready')).statusCode, 200);
  });

  test('a wrong key is refused and never echoed; a right key works', async () => {
    const wrong = await call('/v1/models', { authorization: 'Bearer sk-wrong-guess' });
    assert.equal(wrong.statusCode, 401);
    assert.doesNotMatch(wrong.body, /sk-wrong-guess/);
    assert.equal((await call('/v1/models', { authorization: `Bearer ${KEY}` })).statusCode, 200);
    assert.equal((await call('/v1/models', { authorization: 'Bearer second-key' })).statusCode, 200);
    const embedded = await call('/v1/embeddings', { authorization: `Bearer ${KEY}` }, { model: 'tiny', input: 'secret text' });
    assert.equal(embedded.statusCode, 200);
  });

  test('no key and no input text appear in any log line; each request logs one structured line with its id', async () => {
    await call('/v1/embeddings', { authorization: `Bearer ${KEY}`, 'x-request-id': 'trace-42' }, { model: 'tiny', input: 'very private words' });
    const all = logLines.join('\n');
    assert.doesNotMatch(all, new RegExp(KEY));
    assert.doesNotMatch(all, /sk-wrong-guess/);
    assert.doesNotMatch(all, /very private words|secret text/);
    const line = logLines.map((text) => JSON.parse(text)).find((entry) => entry.reqId === 'trace-42');
    assert.deepEqual(
      { model: line.model, inputs: line.inputs, tokens: line.tokens, status: line.status, route: line.route },
      { model: 'tiny', inputs: 1, tokens: 17, status: 200, route: '/v1/embeddings' },
    );
    assert.equal(typeof line.ms, 'number');
  });
});

test('x-request-id is honoured and returned; a new one is made when absent', async () => {
  const given = await call('/health', { 'x-request-id': 'abc-123' });
  assert.equal(given.headers['x-request-id'], 'abc-123');
  const made = await call('/health');
  assert.match(String(made.headers['x-request-id']), /^[0-9a-f-]{36}$/);
});

test('an x-request-id that is not a plausible id (over 128 characters, spaces, non-ASCII) is replaced by a new one, never echoed', async () => {
  for (const given of ['x'.repeat(15_900), 'two words', Buffer.from('héllo', 'utf8').toString('latin1')]) {
    const response = await call('/health', { 'x-request-id': given });
    assert.match(String(response.headers['x-request-id']), /^[0-9a-f-]{36}$/, given.slice(0, 20));
  }
  assert.equal((await call('/health', { 'x-request-id': 'x'.repeat(128) })).headers['x-request-id'], 'x'.repeat(128));
});

test('CORS: allowed origins get the header, others do not; off by default', async () => {
  const allowed = await call('/health', { origin: 'https://app.example' });
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
  const other = await call('/health', { origin: 'https://evil.example' });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  const defaultApp = await server.app.inject({ url: '/health', headers: { origin: 'https://app.example' } });
  assert.equal(defaultApp.headers['access-control-allow-origin'], undefined);
});

test("an HTTP process's metrics: Prometheus text whose request and token counters grow with traffic", async () => {
  const auth = { authorization: `Bearer ${KEY}` };
  const scrape = () => app.metrics.register.metrics();
  const value = (text: string, pattern: RegExp) => text.split('\n').filter((line) => pattern.test(line)).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  const before = await scrape();
  assert.match(before, /# TYPE embeddings_http_requests_total counter/);
  assert.match(before, /# TYPE embeddings_queue_depth gauge/);
  for (let i = 0; i < 3; i++) await call('/v1/embeddings', auth, { model: 'tiny', input: ['hello world', 'a'] });
  const afterText = await scrape();
  assert.equal(value(afterText, /^embeddings_tokens_total\{model="tiny"\}/) - value(before, /^embeddings_tokens_total\{model="tiny"\}/), 3 * (4 + 3));
  assert.equal(value(afterText, /^embeddings_inputs_total\{model="tiny"\}/) - value(before, /^embeddings_inputs_total\{model="tiny"\}/), 6);
  assert.equal(
    value(afterText, /^embeddings_http_requests_total\{route="\/v1\/embeddings",method="POST",status="200",model="tiny"\}/) -
      value(before, /^embeddings_http_requests_total\{route="\/v1\/embeddings",method="POST",status="200",model="tiny"\}/),
    3,
  );
  assert.match(afterText, /^embeddings_http_request_duration_seconds_bucket\{/m);
  assert.match(afterText, /^process_resident_memory_bytes /m);
});
