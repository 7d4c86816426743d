import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';

let server: TestServer;
before(async () => {
  server = await startTestApp({ 'test/mean': {}, 'other/mean': { shape: { seed: 3 } } }, 'test/mean alias=tiny token_ids=model\nother/mean');
});
after(() => server.close());

async function expectError(
  request: { method?: 'GET' | 'POST'; url?: string; payload?: unknown; body?: string; headers?: Record<string, string> },
  status: number,
  expected: { param?: string | null; code?: string | null; type?: string; message?: RegExp },
) {
  const response = await server.app.inject({
    method: request.method ?? 'POST',
    url: request.url ?? '/v1/embeddings',
    ...(request.body !== undefined ? { body: request.body } : request.payload !== undefined ? { payload: request.payload as object } : {}),
    headers: request.headers,
  });
  assert.equal(response.statusCode, status, response.body);
  const body = errorResponseSchema.strict().parse(response.json());
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'no stack trace');
  if ('param' in expected) assert.equal(body.error.param, expected.param);
  if ('code' in expected) assert.equal(body.error.code, expected.code);
  assert.equal(body.error.type, expected.type ?? 'invalid_request_error');
  if (expected.message) assert.match(body.error.message, expected.message);
  return body.error;
}

const ok = { model: 'tiny', input: 'hello' };

describe('every error answers in OpenAI shape with a status the client can act on', () => {
  test('unknown model: 404 model_not_found naming the model and listing the available ones', async () => {
    const error = await expectError({ payload: { ...ok, model: 'gpt-4' } }, 404, { param: 'model', code: 'model_not_found' });
    assert.match(error.message, /'gpt-4'/);
    assert.match(error.message, /tiny, other\/mean/);
    assert.match(error.message, /add a line with its Hugging Face repo id to the server's models\.txt \(MODELS_FILE\), run `npm run download` and restart the server/);
  });

  test('a missing model or input: one wording, "Missing required parameter"', async () => {
    await expectError({ payload: { input: 'x' } }, 400, { param: 'model', message: /^Missing required parameter: 'model'\.$/ });
    await expectError({ payload: { model: 'tiny' } }, 400, { param: 'input', message: /^Missing required parameter: 'input'\.$/ });
  });

  test('a near-miss field name in place of a required one gets "did you mean"', async () => {
    await expectError({ payload: { model: 'tiny', inputs: ['x'] } }, 400, { param: 'input', message: /^Missing required parameter: 'input'\. The request has 'inputs': did you mean 'input'\?$/ });
    await expectError({ payload: { modle: 'tiny', input: 'x' } }, 400, { param: 'model', message: /The request has 'modle': did you mean 'model'\?$/ });
    await expectError({ payload: { Input: 'x', model: 'tiny' } }, 400, { param: 'input', message: /The request has 'Input': did you mean 'input'\?$/ });
    await expectError({ payload: { model: 'tiny', prompt: 'x' } }, 400, { param: 'input', message: /^Missing required parameter: 'input'\.$/ });
  });

  test('rerank with no reranker served: says the served models embed, and how to add a cross-encoder', async () => {
    const error = await expectError({ url: '/v1/rerank', payload: { query: 'q', documents: ['d'] } }, 404, { param: 'model', code: 'model_not_found' });
    assert.equal(
      error.message,
      'This server serves no reranker to rerank with (its models, tiny, other/mean, embed). To serve one, add a line with a cross-encoder ' +
        "(e.g. cross-encoder/ms-marco-MiniLM-L6-v2) to the server's models.txt (MODELS_FILE), run `npm run download` and restart the server.",
    );
  });

  test('GET /metrics on the API port: the metrics are not here, and (with no METRICS_PORT) off', async () => {
    await expectError({ method: 'GET', url: '/metrics' }, 404, { code: 'unknown_url', message: /^Metrics are off: set METRICS_PORT/ });
  });

  test('an ambiguous bare name is not guessed', async () => {
    await expectError({ payload: { ...ok, model: 'mean' } }, 404, { code: 'model_not_found' });
  });

  test('malformed JSON', async () => {
    await expectError({ body: '{"model": "tiny", "input": ', headers: { 'content-type': 'application/json' } }, 400, { code: 'invalid_json', param: null });
  });

  test('body that is not an object', async () => {
    await expectError({ body: '[1,2]', headers: { 'content-type': 'application/json' } }, 400, { param: null });
    await expectError({ body: '', headers: { 'content-type': 'application/json' } }, 400, {});
  });

  const cases: [string, unknown, string][] = [
    ['missing model', { input: 'x' }, 'model'],
    ['missing input', { model: 'tiny' }, 'input'],
    ['model not a string', { model: 5, input: 'x' }, 'model'],
    ['empty string', { model: 'tiny', input: '' }, 'input'],
    ['empty string inside an array', { model: 'tiny', input: ['a', ''] }, 'input'],
    ['empty array', { model: 'tiny', input: [] }, 'input'],
    ['empty token id array inside an array', { model: 'tiny', input: [[1, 2], []] }, 'input'],
    ['non-string items', { model: 'tiny', input: [{ text: 'a' }] }, 'input'],
    ['null item', { model: 'tiny', input: ['a', null] }, 'input'],
    ['mixed strings and numbers', { model: 'tiny', input: ['a', 1] }, 'input'],
    ['mixed ids and id arrays', { model: 'tiny', input: [1, [2]] }, 'input'],
    ['fractional token id', { model: 'tiny', input: [1.5] }, 'input'],
    ['negative token id', { model: 'tiny', input: [-1] }, 'input'],
    ['token id past the vocabulary', { model: 'tiny', input: [[5, 128]] }, 'input'],
    ['input of the wrong type', { model: 'tiny', input: 42 }, 'input'],
    ['2049 inputs', { model: 'tiny', input: Array.from({ length: 2049 }, () => 'a') }, 'input'],
    ['dimensions zero', { ...ok, dimensions: 0 }, 'dimensions'],
    ['dimensions negative', { ...ok, dimensions: -3 }, 'dimensions'],
    ['dimensions fractional', { ...ok, dimensions: 2.5 }, 'dimensions'],
    ['dimensions larger than the model', { ...ok, dimensions: 33 }, 'dimensions'],
    ['unknown encoding_format', { ...ok, encoding_format: 'int16' }, 'encoding_format'],
    ['user not a string', { ...ok, user: 7 }, 'user'],
  ];
  for (const [name, payload, param] of cases) {
    test(`${name}: 400 with param '${param}'`, async () => {
      await expectError({ payload }, 400, { param });
    });
  }

  test('a token id past the vocabulary is named in the message', async () => {
    await expectError({ payload: { model: 'tiny', input: [[5, 128]] } }, 400, { param: 'input', message: /token id 128 .*0 to 127/ });
  });

  test('unknown route: 404 in the same shape', async () => {
    await expectError({ method: 'GET', url: '/v1/nothing' }, 404, { code: 'unknown_url' });
    await expectError({ method: 'POST', url: '/v1/chat/completions', payload: {} }, 404, { code: 'unknown_url' });
  });

  test('unknown model on GET /models/:id', async () => {
    await expectError({ method: 'GET', url: '/v1/models/nope' }, 404, { code: 'model_not_found' });
  });

  test('a body over the limit: 413', async () => {
    const huge = JSON.stringify({ model: 'tiny', input: 'a '.repeat(11 * 1024 * 1024) });
    await expectError({ body: huge, headers: { 'content-type': 'application/json' } }, 413, { code: 'request_too_large' });
  });

  test('the server keeps answering after all of these', async () => {
    const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: ok });
    assert.equal(response.statusCode, 200);
  });
});
