import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PoolingMode } from '../src/inference/heads/pooling.ts';
import { embeddingsResponseSchema } from '../src/schemas/embeddings.ts';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { embeddingModelSchema, modelListSchema } from '../src/schemas/models.ts';
import { tokenizeResponseSchema } from '../src/schemas/tokenize.ts';
import { describeModel } from '../src/inference/files/model-files.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';
import { referenceEmbedding, rustTokenizer } from './helpers/reference.ts';

const MAX_TOKENS = 24;
const PROMPTS = { query: 'query: ', passage: 'passage: ', classification: 'classify this text: ' };
const MODELS = {
  'test/prompted': { prompts: PROMPTS, defaultPromptName: 'query' },
  'test/prompt-excluded': { prompts: PROMPTS, defaultPromptName: 'query', includePrompt: false, pooling: ['mean', 'max', 'weightedmean'] as PoolingMode[] },
  'test/plain': {},
};
const TEXTS = ['the quick brown fox', 'hello world, embedding text!', 'a'];

let server: TestServer;
before(async () => {
  server = await startTestApp(
    MODELS,
    'test/prompted alias=p\ntest/prompted alias=p-passage prompt=passage\ntest/prompt-excluded alias=x\ntest/plain alias=plain',
  );
});
after(() => server.close());

const post = (url: string, payload: Record<string, unknown>) => server.app.inject({ method: 'POST', url, payload });

/** sentence-transformers: encode(prompt + text) (stripped, truncated), pooling masking the prompt's tokens when include_prompt is false. */
async function reference(repo: keyof typeof MODELS, text: string, prompt: string) {
  const fixture = server.fixtures[repo]!;
  const options = MODELS[repo] as { includePrompt?: boolean; pooling?: PoolingMode[] };
  const tokenize = rustTokenizer(fixture.dir, MAX_TOKENS);
  const ids = await tokenize(prompt + text);
  const maskedPromptTokens = prompt && options.includePrompt === false ? (await tokenize(prompt)).length - 1 : 0;
  return { ids, vector: referenceEmbedding(fixture.weights, ids, { pooling: options.pooling ?? ['mean'], normalize: true, maskedPromptTokens }) };
}

async function assertEmbedsLike(model: string, repo: keyof typeof MODELS, fields: Record<string, unknown>, prompt: string) {
  const response = await post('/v1/embeddings', { model, input: TEXTS, ...fields });
  assert.equal(response.statusCode, 200, response.body);
  const body = embeddingsResponseSchema.parse(response.json());
  for (const [index, text] of TEXTS.entries()) {
    const expected = await reference(repo, text, prompt);
    const actual = body.data[index]!.embedding as number[];
    const worst = Math.max(...expected.vector.map((value, d) => Math.abs(value - actual[d]!)));
    assert.ok(worst < 1e-4, `${model} ${JSON.stringify(fields)} "${text}": max difference ${worst}`);
    assert.equal(body.data[index]!.num_tokens, expected.ids.length, 'prompts count in num_tokens as embedded');
  }
}

test('vectors equal sentence-transformers: default prompt, prompt_name, input_type, a literal prompt, and a models.txt prompt= alias', async () => {
  for (const [model, repo] of [['p', 'test/prompted'], ['x', 'test/prompt-excluded']] as const) {
    await assertEmbedsLike(model, repo, {}, PROMPTS.query); // default_prompt_name
    await assertEmbedsLike(model, repo, { prompt_name: 'classification' }, PROMPTS.classification);
    await assertEmbedsLike(model, repo, { input_type: 'document' }, PROMPTS.passage);
    await assertEmbedsLike(model, repo, { input_type: 'query' }, PROMPTS.query);
    await assertEmbedsLike(model, repo, { prompt: 'custom prefix: ', prompt_name: 'passage' }, 'custom prefix: ');
    await assertEmbedsLike(model, repo, { prompt: '' }, '');
  }
  await assertEmbedsLike('p-passage', 'test/prompted', {}, PROMPTS.passage);
  await assertEmbedsLike('p-passage', 'test/prompted', { input_type: 'query' }, PROMPTS.query);
  await assertEmbedsLike('plain', 'test/plain', { input_type: 'query' }, '');
});

test('an unknown prompt_name is a 400 listing the prompts; GET /models lists each id\'s prompts and default', async () => {
  const response = await post('/v1/embeddings', { model: 'p', input: 'x', prompt_name: 'nope' });
  assert.equal(response.statusCode, 400);
  const { error } = errorResponseSchema.parse(response.json());
  assert.equal(error.code, 'unknown_prompt');
  assert.equal(error.param, 'prompt_name');
  assert.match(error.message, /no prompt named 'nope'.*query, passage, classification/);
  // Names an object has by inheritance are not prompts.
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const inherited = await post('/v1/embeddings', { model: 'p', input: 'x', prompt_name: name });
    assert.equal(inherited.statusCode, 400, name);
    assert.equal(errorResponseSchema.parse(inherited.json()).error.code, 'unknown_prompt');
  }
  const plain = await post('/v1/embeddings', { model: 'plain', input: 'x', prompt_name: 'query' });
  assert.match(errorResponseSchema.parse(plain.json()).error.message, /It has no prompts/);
  const models = modelListSchema.parse((await server.app.inject({ url: '/v1/models' })).json());
  const byId = Object.fromEntries(models.data.map((model) => [model.id, embeddingModelSchema.parse(model)]));
  assert.deepEqual(byId.p!.prompts, PROMPTS);
  assert.equal(byId.p!.default_prompt_name, 'query');
  assert.equal(byId['p-passage']!.default_prompt_name, 'passage');
  assert.equal(byId.plain!.default_prompt_name, null);
});

test('/tokenize answers the ids the Rust tokenizer gives, with prompts and truncation, the token strings, the full count and whether it was cut', async () => {
  const long = 'the lazy dog sleeps under the tree '.repeat(6);
  for (const url of ['/tokenize', '/v1/tokenize']) {
    const response = await post(url, { model: 'p', input: ['hello world', long], input_type: 'document' });
    assert.equal(response.statusCode, 200, response.body);
    const body = tokenizeResponseSchema.parse(response.json());
    const fixture = server.fixtures['test/prompted']!;
    const truncating = rustTokenizer(fixture.dir, MAX_TOKENS);
    const whole = rustTokenizer(fixture.dir, 100_000);
    for (const [index, text] of ['hello world', long].entries()) {
      const entry = body.data[index]!;
      assert.deepEqual(entry.ids, await truncating(PROMPTS.passage + text));
      assert.equal(entry.num_tokens, entry.ids.length);
      assert.equal(entry.total_tokens, (await whole(PROMPTS.passage + text)).length);
      assert.equal(entry.truncated, entry.total_tokens > MAX_TOKENS);
      assert.equal(entry.tokens.length, entry.ids.length);
    }
    const { vocabulary } = server.fixtures['test/prompted']!;
    for (const entry of body.data) assert.deepEqual(entry.tokens, entry.ids.map((id) => vocabulary[id]));
    assert.equal(body.data[0]!.tokens[0], '[CLS]');
    assert.equal(body.data[0]!.tokens.at(-1), '[SEP]');
    assert.equal(body.data[1]!.truncated, true);
    assert.equal(body.usage.total_tokens, body.data[0]!.num_tokens + body.data[1]!.num_tokens);
  }
  const unknown = await post('/v1/tokenize', { model: 'nope', input: 'x' });
  assert.equal(unknown.statusCode, 404);
  const empty = await post('/v1/tokenize', { model: 'p', input: '' });
  assert.equal(empty.statusCode, 400);
  errorResponseSchema.parse(empty.json());
});

test('a models.txt prompt= that names an inherited property (constructor, __proto__) is refused at start', async () => {
  for (const name of ['constructor', '__proto__', 'toString']) {
    await assert.rejects(
      describeModel(parseModelsFile(`test/prompted prompt=${name}`, 'models.txt')[0]!, server.artifactsDir),
      new RegExp(`prompt=${name} is not among its prompts \\(query, passage, classification\\)`),
    );
  }
});
