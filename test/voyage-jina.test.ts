import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';

/** jina-embeddings-v3 names its prompts after Jina's tasks; the e5-style model has query/passage ones. */
const JINA_PROMPTS = { 'retrieval.query': 'Represent the query for retrieving evidence documents: ', 'retrieval.passage': 'Represent the document for retrieval: ', 'text-matching': '', classification: '', separation: '' };
const MODELS = { 'test/jina': { prompts: JINA_PROMPTS }, 'test/e5': { prompts: { query: 'query: ', passage: 'passage: ' } }, 'test/plain': {} };
const TEXTS = ['hello world', 'a'];

let server: TestServer;
before(async () => {
  server = await startTestApp(MODELS);
});
after(() => server.close());

const post = (payload: Record<string, unknown>) => server.app.inject({ method: 'POST', url: '/v1/embeddings', payload });
async function vectors(payload: Record<string, unknown>): Promise<unknown[]> {
  const response = await post(payload);
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { data: { embedding: unknown }[] }).data.map((item) => item.embedding);
}

test("Jina's task picks the prompt named after it, else the model's prompt for that side", async () => {
  for (const task of Object.keys(JINA_PROMPTS)) {
    assert.deepEqual(await vectors({ model: 'test/jina', input: TEXTS, task }), await vectors({ model: 'test/jina', input: TEXTS, prompt_name: task }), task);
  }
  assert.deepEqual(await vectors({ model: 'test/e5', input: TEXTS, task: 'retrieval.query' }), await vectors({ model: 'test/e5', input: TEXTS, prompt: 'query: ' }));
  assert.deepEqual(await vectors({ model: 'test/e5', input: TEXTS, task: 'retrieval.passage' }), await vectors({ model: 'test/e5', input: TEXTS, prompt: 'passage: ' }));
  assert.notDeepEqual(await vectors({ model: 'test/e5', input: TEXTS, task: 'retrieval.passage' }), await vectors({ model: 'test/e5', input: TEXTS }));
});

test('a task the model has no prompt for is refused, naming its prompts', async () => {
  for (const [model, pattern] of [['test/e5', /model 'test\/e5' has no prompt for the task separation \(one named separation, clustering\); its prompts: query, passage/], ['test/plain', /it has no prompts/]] as const) {
    const response = await post({ model, input: TEXTS, task: 'separation' });
    assert.equal(response.statusCode, 400);
    const { error } = errorResponseSchema.parse(response.json());
    assert.equal(error.param, 'task');
    assert.match(error.message, pattern);
  }
});

test("Voyage's fields as its client sends them: nulls, input_type, output_dimension, truncation", async () => {
  const long = Array(40).fill('hello').join(' ');
  assert.deepEqual(
    await vectors({ model: 'test/e5', input: TEXTS, input_type: null, encoding_format: null, output_dimension: null, output_dtype: 'float', truncation: true }),
    await vectors({ model: 'test/e5', input: TEXTS }),
  );
  assert.deepEqual(await vectors({ model: 'test/e5', input: TEXTS, input_type: 'query', output_dimension: 8 }), await vectors({ model: 'test/e5', input: TEXTS, prompt: 'query: ', dimensions: 8 }));
  const refused = await post({ model: 'test/e5', input: [long], truncation: false });
  assert.equal(refused.statusCode, 400);
  assert.equal(errorResponseSchema.parse(refused.json()).error.code, 'context_length_exceeded');
  const tooWide = await post({ model: 'test/e5', input: TEXTS, output_dimension: 33 });
  assert.equal(errorResponseSchema.parse(tooWide.json()).error.param, 'output_dimension');
  const clash = await post({ model: 'test/e5', input: TEXTS, encoding_format: 'int8', output_dtype: 'binary' });
  assert.match(errorResponseSchema.parse(clash.json()).error.message, /Invalid 'output_dtype': asks for binary vectors, encoding_format for int8/);
});
