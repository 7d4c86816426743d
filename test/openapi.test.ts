import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';

/** What Swagger UI shows at /docs, read from the document it renders (/docs/json), with API keys on. */
const KEY = 'docs-test-key';
const auth = { authorization: `Bearer ${KEY}` };

type Json = Record<string, any>;
let server: TestServer;
let document: Json;
before(async () => {
  server = await startTestApp(
    { 'test/mini': {}, 'ce/marco': { crossEncoder: { activation: 'torch.nn.modules.linear.Identity' } } },
    'test/mini alias=mini\nce/marco alias=marco',
    { apiKeys: [KEY] },
  );
  document = (await server.app.inject({ url: '/docs/json' })).json();
});
after(() => server.close());

const operations = () =>
  Object.entries(document.paths as Record<string, Record<string, Json>>).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ path, method, operation })));

/** Every value under `value`, with the key it is under. */
function* walk(value: unknown, key = ''): Generator<[string, unknown]> {
  yield [key, value];
  if (Array.isArray(value)) for (const item of value) yield* walk(item, key);
  else if (value && typeof value === 'object') for (const [child, item] of Object.entries(value)) yield* walk(item, child);
}

/** A body's shape: its keys and leaf types, arrays by their first element. */
const shape = (value: unknown): unknown =>
  Array.isArray(value) ? [shape(value[0])] : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, shape(item)])) : typeof value;

const exampleOf = (path: string, method: string, status: number) => document.paths[path][method].responses[status].content['application/json'].example;
const requestExampleOf = (path: string) => document.paths[path].post.requestBody.content['application/json'].example;

test('each endpoint is listed once (the API under /v1, the probes at the root), naming the path it also answers at; those answer', async () => {
  assert.deepEqual(
    operations().map(({ method, path }) => `${method} ${path}`).sort(),
    [
      'get /health', 'get /ready', 'get /v1/models', 'get /v1/models/{model}',
      'post /v1/classify', 'post /v1/embed', 'post /v1/embeddings', 'post /v1/predict', 'post /v1/rerank', 'post /v1/score', 'post /v1/similarity', 'post /v1/tokenize',
    ],
  );
  assert.match(document.paths['/v1/embeddings'].post.description, /Also at `\/embeddings`/);
  assert.match(document.paths['/v1/rerank'].post.description, /`\/v2\/rerank`.*Also at `\/rerank`/);
  // Cohere's embed has no twin without /v1 (/embed is TEI's), and names its v2 path.
  assert.doesNotMatch(document.paths['/v1/embed'].post.description, /Also at/);
  assert.match(document.paths['/v1/embed'].post.description, /`\/v2\/embed`/);
  assert.match(document.paths['/health'].get.description, /Also at `\/v1\/health`/);
  for (const url of ['/embeddings', '/v1/embeddings']) {
    assert.equal((await server.app.inject({ method: 'POST', url, headers: auth, payload: requestExampleOf('/v1/embeddings') })).statusCode, 200, url);
  }
  for (const url of ['/rerank', '/v1/rerank', '/v2/rerank']) {
    assert.equal((await server.app.inject({ method: 'POST', url, headers: auth, payload: requestExampleOf('/v1/rerank') })).statusCode, 200, url);
  }
  for (const url of ['/models', '/models/mini', '/v1/health', '/v1/ready']) assert.equal((await server.app.inject({ url, headers: auth })).statusCode, 200, url);
});

test('tags in the order of use, health last; tokenize has its own; the description names every API', () => {
  assert.deepEqual(
    document.tags.map((tag: Json) => tag.name),
    ['embeddings', 'rerank', 'classify', 'similarity', 'tokenize', 'models', 'health'],
  );
  const tagOf = Object.fromEntries(operations().map(({ method, path, operation }) => [`${method} ${path}`, operation.tags]));
  assert.deepEqual(tagOf['post /v1/tokenize'], ['tokenize']);
  assert.deepEqual(tagOf['post /v1/rerank'], ['rerank']);
  for (const api of ['/v1/embeddings', '/v1/rerank', '/v1/tokenize', '/v1/models']) assert.ok(document.info.description.includes(api), api);
});

test("Swagger UI's Markdown shows `<key>`: no description holds what it would take for HTML", () => {
  const unauthorized = document.paths['/v1/embeddings'].post.responses['401'].description;
  assert.match(unauthorized, /`Authorization: Bearer <key>`/);
  for (const [key, value] of walk(document)) {
    if (key !== 'description' || typeof value !== 'string') continue;
    assert.doesNotMatch(value.replace(/`[^`]*`/g, ''), /<[a-z/!]/i, value);
  }
});

test('every request body, response and path parameter has an example, with no "string", 0 or additionalProp1 placeholders', () => {
  let examples = 0;
  for (const { method, path, operation } of operations()) {
    for (const parameter of operation.parameters ?? []) assert.equal(parameter.example, 'mini', `${method} ${path} ${parameter.name}`);
    const media = [operation.requestBody?.content['application/json'], ...Object.values(operation.responses as Json).map((response) => response.content?.['application/json'])];
    for (const content of media.filter(Boolean)) {
      assert.notEqual(content.example, undefined, `${method} ${path}`);
      examples++;
      for (const [key, value] of walk(content.example)) {
        assert.notEqual(value, 'string', `${method} ${path}: ${key}`);
        assert.doesNotMatch(key, /^additionalProp/, `${method} ${path}`);
        if (key !== 'index') assert.notEqual(value, 0, `${method} ${path}: ${key}`);
      }
    }
  }
  assert.equal(examples, 64);
  // Numbers that mean something: the model's own limit in its context-length error, real token counts.
  assert.match(exampleOf('/v1/embeddings', 'post', 400).error.message, /limit of 24\./);
  assert.equal(exampleOf('/v1/tokenize', 'post', 200).data[0].num_tokens, 12);
});

test('the examples are what the server answers: requests work as they stand, responses have the real shape, errors the real words', async () => {
  for (const path of ['/v1/embeddings', '/v1/embed', '/v1/rerank', '/v1/tokenize']) {
    const response = await server.app.inject({ method: 'POST', url: path, headers: auth, payload: requestExampleOf(path) });
    assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
    assert.deepEqual(shape(exampleOf(path, 'post', 200)), shape(response.json()), path);
  }
  const models = (await server.app.inject({ url: '/v1/models', headers: auth })).json();
  const created = (body: Json) => ({ ...body, data: body.data.map((model: Json) => ({ ...model, created: 0 })) });
  assert.deepEqual(created(exampleOf('/v1/models', 'get', 200)), created(models));
  // The errors as the server words them, for the requests they name.
  const post = async (url: string, payload: object, headers: Record<string, string> = auth) => (await server.app.inject({ method: 'POST', url, headers, payload })).json();
  assert.deepEqual(await post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'x' }), exampleOf('/v1/embeddings', 'post', 404));
  assert.deepEqual(await post('/v1/rerank', { model: 'mini', query: 'q', documents: ['d'] }), exampleOf('/v1/rerank', 'post', 400));
  assert.deepEqual(await post('/v1/embeddings', { model: 'mini', input: 'x' }, {}), exampleOf('/v1/embeddings', 'post', 401));
  for (const { operation } of operations()) {
    for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
      if (Number(status) >= 400) errorResponseSchema.parse(response.content['application/json'].example);
    }
  }
});

test('the request schemas offer each API its kind of model; the model schema is one per kind', () => {
  const modelField = (path: string) => document.paths[path].post.requestBody.content['application/json'].schema.properties.model;
  for (const path of ['/v1/embeddings', '/v1/tokenize']) {
    assert.equal(modelField(path).example, 'mini', path);
    assert.match(modelField(path).description, /^An embedding model: mini \(/);
  }
  assert.equal(modelField('/v1/rerank').example, 'marco');
  assert.match(modelField('/v1/rerank').description, /^A reranker: marco\./);
  const { Model, EmbeddingModel, RerankerModel } = document.components.schemas;
  assert.deepEqual(Model.oneOf, [{ $ref: '#/components/schemas/EmbeddingModel' }, { $ref: '#/components/schemas/RerankerModel' }, { $ref: '#/components/schemas/ClassifierModel' }]);
  assert.deepEqual(Model.discriminator, {
    propertyName: 'kind',
    mapping: { embedding: '#/components/schemas/EmbeddingModel', reranker: '#/components/schemas/RerankerModel', classifier: '#/components/schemas/ClassifierModel' },
  });
  assert.ok(EmbeddingModel.properties.dimensions && EmbeddingModel.properties.pooling && EmbeddingModel.properties.normalized);
  assert.deepEqual(Object.keys(RerankerModel.properties).filter((name) => !(name in EmbeddingModel.properties)), ['activation']);
  assert.equal(RerankerModel.properties.dimensions, undefined);
});
