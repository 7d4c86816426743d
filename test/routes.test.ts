import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { modelListSchema, modelSchema } from '../src/schemas/models.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';

let server: TestServer;
before(async () => {
  server = await startTestApp(
    {
      'test/mean': { maxSeqLength: 20 },
      'test/cls': { pooling: ['cls'], normalize: false, maxSeqLength: null, modelMaxLength: 48 },
      'ce/marco': { crossEncoder: { activation: 'torch.nn.modules.linear.Identity' }, modelMaxLength: 40 },
    },
    'test/mean alias=tiny\ntest/cls\nce/marco alias=marco',
  );
});
after(() => server.close());

test('GET /models and /v1/models describe each model by its kind: embedding models their vectors, rerankers their scores', async () => {
  for (const url of ['/models', '/v1/models']) {
    const response = await server.app.inject({ url });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    modelListSchema.parse(body);
    assert.equal(body.object, 'list');
    const [tiny, cls, marco] = body.data;
    assert.deepEqual(
      { ...tiny, created: 0 },
      {
        id: 'tiny', object: 'model', kind: 'embedding', created: 0, owned_by: 'test', max_input_tokens: 20, repo: 'test/mean', revision: null, ready: true,
        outputs: ['dense'], dimensions: 32, pooling: 'mean', normalized: true, prompts: {}, default_prompt_name: null,
      },
    );
    assert.ok(Math.abs(tiny.created - Date.now() / 1000) < 600);
    // No sentence_bert_config.json: the limit is the tokenizer's model_max_length, capped by the position table (64).
    assert.equal(cls.max_input_tokens, 48);
    assert.equal(cls.pooling, 'cls');
    assert.equal(cls.normalized, false);
    // A reranker: no dimensions, pooling, normalisation or prompts (it has none of them); its pair limit and activation.
    assert.deepEqual(
      { ...marco, created: 0 },
      { id: 'marco', object: 'model', kind: 'reranker', created: 0, owned_by: 'ce', max_input_tokens: 40, repo: 'ce/marco', revision: null, ready: true, outputs: ['score'], activation: 'identity' },
    );
  }
});

test('GET /v1/models/:id answers for the id, the repo id and an unambiguous bare name', async () => {
  for (const name of ['tiny', 'test/mean', 'mean']) {
    const response = await server.app.inject({ url: `/v1/models/${name}` });
    assert.equal(response.statusCode, 200, name);
    assert.equal(modelSchema.parse(response.json()).id, 'tiny');
  }
});

test('/health is live and /ready is ready once models are loaded', async () => {
  for (const url of ['/health', '/v1/health']) assert.deepEqual((await server.app.inject({ url })).json(), { status: 'ok' });
  const ready = await server.app.inject({ url: '/ready' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ready' });
});

test('Swagger UI at /docs and the OpenAPI document at /docs/json, generated from the zod schemas', async () => {
  const ui = await server.app.inject({ url: '/docs' });
  assert.equal(ui.statusCode, 200);
  assert.match(ui.body, /<html/);
  assert.match(ui.body, /swagger-ui/i);
  const spec = (await server.app.inject({ url: '/docs/json' })).json();
  assert.match(spec.openapi, /^3\./);
  const operation = spec.paths['/v1/embeddings'].post;
  const request = operation.requestBody.content['application/json'].schema;
  assert.deepEqual(request.required.sort(), ['input', 'model']);
  assert.deepEqual(request.properties.encoding_format.enum, ['float', 'base64', 'int8', 'uint8', 'binary', 'ubinary']);
  assert.equal(request.properties.model.example, 'tiny');
  assert.match(request.properties.model.description, /tiny, test\/cls \(/);
  assert.doesNotMatch(request.properties.model.description, /marco/, 'a reranker does not embed');
  assert.ok(operation.responses['200']);
  assert.ok(operation.responses['404']);
  assert.ok(spec.paths['/v1/models'].get);
  assert.equal(spec.paths['/embeddings'], undefined, 'listed once, under /v1');
  // Swagger UI's "Try it out" starts from the body's example: executed as it stands, it embeds.
  const { example } = operation.requestBody.content['application/json'];
  assert.deepEqual(Object.keys(example).sort(), ['input', 'model']);
  const tried = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: example });
  assert.equal(tried.statusCode, 200, tried.body);
});

test('x-request-id is honoured', async () => {
  const response = await server.app.inject({ url: '/health', headers: { 'x-request-id': 'abc-123' } });
  assert.equal(response.statusCode, 200);
});

test('a known path with the wrong method is 405 with Allow; GET / points to the docs; the OpenAPI document reads well', async () => {
  for (const url of ['/v1/embeddings', '/embeddings', '/v1/rerank', '/v2/rerank']) {
    const response = await server.app.inject({ method: 'GET', url });
    assert.equal(response.statusCode, 405, url);
    assert.equal(response.headers.allow, 'POST');
    assert.equal(response.json().error.code, 'method_not_allowed');
  }
  assert.equal((await server.app.inject({ method: 'DELETE', url: '/v1/models' })).headers.allow, 'GET');
  assert.equal((await server.app.inject({ url: '/nowhere' })).statusCode, 404);
  assert.equal((await server.app.inject({ url: '/' })).json().docs, '/docs');
  const document = (await server.app.inject({ url: '/docs/json' })).json();
  const text = JSON.stringify(document);
  assert.doesNotMatch(text, /Default Response|9007199254740991/);
  assert.deepEqual(Object.keys(document.components.schemas).filter((name) => name.endsWith('Input')), []);
  assert.ok(document.paths['/v1/models/{model}'], 'the model path parameter is named');
  // A repo id's slash, as Swagger UI encodes it, resolves.
  assert.equal((await server.app.inject({ url: '/v1/models/test%2Fmean' })).statusCode, 200);
});
