import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CohereEmbeddings } from '@langchain/cohere';
import { CohereClient, CohereClientV2 } from 'cohere-ai';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { cohereV1ResponseSchema, cohereV2ResponseSchema } from '../src/schemas/cohere.ts';
import { embeddingsResponseSchema } from '../src/schemas/embeddings.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';

const PROMPTS = { query: 'query: ', passage: 'passage: ', classification: 'classify: ', clustering: 'cluster: ' };
const MODELS = { 'test/plain': {}, 'test/prompted': { prompts: PROMPTS } };
const TEXTS = ['hello world', 'the quick brown fox jumps over the lazy dog', 'a'];
/** The fixtures' limit, special tokens included: 22 tokens of text. */
const MAX_TOKENS = 24;

let server: TestServer;
let baseUrl: string;
before(async () => {
  server = await startTestApp(MODELS);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});
after(() => server.close());

async function post(url: string, payload: Record<string, unknown>) {
  return server.app.inject({ method: 'POST', url, payload });
}

/** The OpenAI route's vectors for the same texts and options: what every Cohere answer must equal. */
async function openAiVectors(body: Record<string, unknown>): Promise<number[][]> {
  const response = await post('/v1/embeddings', body);
  assert.equal(response.statusCode, 200, response.body);
  return embeddingsResponseSchema.parse(response.json()).data.map((item) => item.embedding as number[]);
}

type CohereEmbeddingsOptions = NonNullable<ConstructorParameters<typeof CohereEmbeddings>[0]>;

const floatsOfBase64 = (text: string) => Array.from(new Float32Array(new Uint8Array(Buffer.from(text, 'base64')).buffer));

describe('Cohere embed API, raw requests', () => {
  test('v1 without embedding_types: embeddings_floats, the OpenAI route\'s vectors, texts and billed input tokens', async () => {
    const response = await post('/v1/embed', { model: 'test/plain', texts: TEXTS });
    assert.equal(response.statusCode, 200, response.body);
    const body = cohereV1ResponseSchema.parse(response.json());
    assert.equal(body.response_type, 'embeddings_floats');
    assert.deepEqual(body.embeddings, await openAiVectors({ model: 'test/plain', input: TEXTS }));
    assert.deepEqual(body.texts, TEXTS);
    const openAi = (await post('/v1/embeddings', { model: 'test/plain', input: TEXTS })).json() as { usage: { total_tokens: number } };
    assert.deepEqual(body.meta, { api_version: { version: '1' }, billed_units: { input_tokens: openAi.usage.total_tokens } });
  });

  test('v1 with no model embeds with the first embedding model served', async () => {
    const body = cohereV1ResponseSchema.parse((await post('/v1/embed', { texts: ['hello'] })).json());
    assert.deepEqual(body.embeddings, await openAiVectors({ model: 'test/plain', input: ['hello'] }));
  });

  test('v2 by type: float and base64 (float32 little-endian) of the same vectors, output_dimension as dimensions', async () => {
    const response = await post('/v2/embed', { model: 'test/plain', texts: TEXTS, input_type: 'search_document', embedding_types: ['float', 'base64'], output_dimension: 16 });
    assert.equal(response.statusCode, 200, response.body);
    const body = cohereV2ResponseSchema.parse(response.json());
    const expected = await openAiVectors({ model: 'test/plain', input: TEXTS, dimensions: 16 });
    assert.deepEqual(body.embeddings.float, expected);
    assert.deepEqual(body.embeddings.base64!.map(floatsOfBase64), expected);
    assert.equal(body.meta.api_version.version, '2');
  });

  test('v2 inputs: the text parts of each input joined by a newline', async () => {
    const inputs = [{ content: [{ type: 'text', text: 'hello' }, { type: 'text', text: 'world' }] }, { content: [{ type: 'text', text: 'a' }] }];
    const body = cohereV2ResponseSchema.parse((await post('/v2/embed', { model: 'test/plain', inputs, input_type: 'search_query' })).json());
    assert.deepEqual(body.embeddings.float, await openAiVectors({ model: 'test/plain', input: ['hello\nworld', 'a'] }));
    assert.deepEqual(body.texts, ['hello\nworld', 'a']);
  });

  test("input_type picks the model's prompts: search_query, search_document, classification, clustering", async () => {
    for (const [inputType, promptName] of [['search_query', 'query'], ['search_document', 'passage'], ['classification', 'classification'], ['clustering', 'clustering']]) {
      const body = cohereV2ResponseSchema.parse((await post('/v2/embed', { model: 'test/prompted', texts: TEXTS, input_type: inputType })).json());
      assert.deepEqual(body.embeddings.float, await openAiVectors({ model: 'test/prompted', input: TEXTS, prompt_name: promptName }), inputType);
    }
    // A model without the prompt: as if no input_type were given.
    const plain = cohereV2ResponseSchema.parse((await post('/v2/embed', { model: 'test/plain', texts: TEXTS, input_type: 'clustering' })).json());
    assert.deepEqual(plain.embeddings.float, await openAiVectors({ model: 'test/plain', input: TEXTS }));
  });

  test('truncate: END keeps the start, START keeps the end, NONE refuses an over-long text', async () => {
    const head = Array(30).fill('a').join(' ');
    const tail = Array(11).fill('hello world').join(' '); // 22 tokens: exactly the room for text
    const long = `${head} ${tail}`;
    const embedOne = async (truncate?: string) =>
      cohereV2ResponseSchema.parse((await post('/v2/embed', { model: 'test/plain', texts: [long], input_type: 'search_document', ...(truncate ? { truncate } : {}) })).json()).embeddings.float![0];
    const [firstTokens, lastTokens] = await openAiVectors({ model: 'test/plain', input: [Array(MAX_TOKENS - 2).fill('a').join(' '), tail] });
    assert.deepEqual(await embedOne(), firstTokens);
    assert.deepEqual(await embedOne('END'), firstTokens);
    assert.deepEqual(await embedOne('START'), lastTokens);
    const refused = await post('/v2/embed', { model: 'test/plain', texts: ['hello', long], input_type: 'search_document', truncate: 'NONE' });
    assert.equal(refused.statusCode, 400);
    const { error } = errorResponseSchema.parse(refused.json());
    assert.equal(error.code, 'context_length_exceeded');
    assert.equal(error.param, 'texts');
    assert.match(error.message, /Input 1 has 54 tokens, more than the model's limit of 24\. Shorten it, or send "truncate": "END"/);
  });

  test('max_tokens cuts each input to that many tokens (special ones included), at the end truncate keeps', async () => {
    const text = 'the quick brown fox jumps over the lazy dog';
    const embedOne = async (truncate: string) =>
      cohereV2ResponseSchema.parse((await post('/v2/embed', { model: 'test/plain', texts: [text], input_type: 'search_query', max_tokens: 5, truncate })).json());
    const [start, end] = await openAiVectors({ model: 'test/plain', input: ['the quick brown', 'the lazy dog'] });
    const kept = await embedOne('END');
    assert.deepEqual(kept.embeddings.float![0], start);
    assert.equal(kept.meta.billed_units.input_tokens, 5);
    assert.deepEqual((await embedOne('START')).embeddings.float![0], end);
    const refused = await post('/v2/embed', { model: 'test/plain', texts: [text], input_type: 'search_query', max_tokens: 5, truncate: 'NONE' });
    assert.equal(refused.statusCode, 400);
    assert.match(errorResponseSchema.parse(refused.json()).error.message, /Input 0 has 12 tokens, more than the model's limit of 5.*max_tokens counts as the limit/);
  });

  test('refusals: images, no texts, an empty text, an unknown model, a dimension too many', async () => {
    const cases: [Record<string, unknown>, number, string | null, RegExp][] = [
      [{ model: 'test/plain', images: ['data:image/png;base64,AAAA'], input_type: 'image' }, 400, 'images', /images cannot be embedded/],
      [{ model: 'test/plain', inputs: [{ content: [{ type: 'image_url', image_url: { url: 'x' } }] }], input_type: 'image' }, 400, 'input_type', /images cannot be embedded/],
      [{ model: 'test/plain', input_type: 'search_query' }, 400, 'texts', /Missing required parameter: 'texts'/],
      [{ model: 'test/plain', texts: ['a'], inputs: [{ content: [{ type: 'text', text: 'a' }] }], input_type: 'search_query' }, 400, 'texts', /give either texts or inputs/],
      [{ model: 'test/plain', texts: ['hello', ''], input_type: 'search_query' }, 400, 'texts', /Invalid 'texts\[1\]': must not be an empty string/],
      [{ model: 'nope', texts: ['hello'], input_type: 'search_query' }, 404, 'model', /The model 'nope' does not exist/],
      [{ model: 'test/plain', texts: ['hello'], input_type: 'search_query', output_dimension: 33 }, 400, 'output_dimension', /must be at most 32/],
      [{ texts: ['hello'], input_type: 'search_query' }, 400, 'model', /Missing required parameter: 'model'/],
    ];
    for (const [payload, status, param, message] of cases) {
      const response = await post('/v2/embed', payload);
      assert.equal(response.statusCode, status, JSON.stringify(payload));
      const { error } = errorResponseSchema.parse(response.json());
      assert.equal(error.param, param, JSON.stringify(payload));
      assert.match(error.message, message);
    }
  });
});

describe('cohere-ai and LangChain clients, unmodified, against a listening server', () => {
  test('CohereClient (v1): embed without and with embeddingTypes', async () => {
    const client = new CohereClient({ token: 'unused', environment: baseUrl });
    const floats = await client.embed({ model: 'test/plain', texts: TEXTS, inputType: 'search_document' });
    assert.equal(floats.responseType, 'embeddings_floats');
    const expected = await openAiVectors({ model: 'test/plain', input: TEXTS });
    assert.deepEqual(floats.embeddings, expected);
    const byType = await client.embed({ model: 'test/plain', texts: TEXTS, inputType: 'search_document', embeddingTypes: ['float'] });
    assert.equal(byType.responseType, 'embeddings_by_type');
    assert.deepEqual(byType.responseType === 'embeddings_by_type' && byType.embeddings.float, expected);
    assert.equal(byType.meta?.billedUnits?.inputTokens, 4 + 12 + 3);
  });

  test('CohereClientV2: embed by type, with the query prompt', async () => {
    const client = new CohereClientV2({ token: 'unused', environment: baseUrl });
    const response = await client.embed({ model: 'test/prompted', texts: TEXTS, inputType: 'search_query', embeddingTypes: ['float'] });
    assert.deepEqual(response.embeddings.float, await openAiVectors({ model: 'test/prompted', input: TEXTS, input_type: 'query' }));
    assert.deepEqual(response.texts, TEXTS);
  });

  test('CohereClientV2: a refusal surfaces as the SDK\'s BadRequestError with the status', async () => {
    const client = new CohereClientV2({ token: 'unused', environment: baseUrl });
    await assert.rejects(client.embed({ model: 'test/plain', texts: [''], inputType: 'search_query' }), (error: Error & { statusCode?: number }) => {
      assert.equal(error.statusCode, 400);
      return true;
    });
  });

  test("LangChain's CohereEmbeddings: embedDocuments and embedQuery", async () => {
    // LangChain's way to another endpoint: its own client option (its cohere-ai copy is another version: the types differ).
    const client = new CohereClient({ token: 'unused', environment: baseUrl }) as unknown as CohereEmbeddingsOptions['client'];
    const embeddings = new CohereEmbeddings({ model: 'test/prompted', apiKey: 'unused', client });
    assert.deepEqual(await embeddings.embedDocuments(TEXTS), await openAiVectors({ model: 'test/prompted', input: TEXTS, input_type: 'document' }));
    assert.deepEqual(await embeddings.embedQuery('hello world'), (await openAiVectors({ model: 'test/prompted', input: ['hello world'], input_type: 'query' }))[0]);
  });
});
