import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { embeddingsResponseSchema } from '../src/schemas/embeddings.ts';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { cosine, startTestApp, type TestServer } from './helpers/app.ts';

// As LangChain's OpenAIEmbeddings does by default: tiktoken-encode each text with cl100k_base.
const cl100kBase = new Tiktoken(cl100k);
const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  '中文 日本語のテキスト と 한국어',
  'emoji 😀🎉👩‍👩‍👧 and flags 🇫🇷',
  'combining marks: e\u0301 a\u0308 n\u0303 — and a zero\u200bwidth space',
  'a long text past the model limit: ' + 'the lazy dog sleeps under the tree '.repeat(40),
];

let server: TestServer;
before(async () => {
  // The default meaning (TOKEN_IDS=openai), and a models.txt token_ids=model alias of the same model.
  server = await startTestApp({ 'test/mean': {} }, 'test/mean alias=tiny\ntest/mean alias=tiny-own-ids token_ids=model');
});
after(() => server.close());

async function embed(payload: Record<string, unknown>) {
  const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload });
  assert.equal(response.statusCode, 200, response.body);
  return embeddingsResponseSchema.parse(response.json());
}

const floats = (embedding: string | number[]) =>
  typeof embedding === 'string' ? Array.from(new Float32Array(Uint8Array.from(Buffer.from(embedding, 'base64')).buffer)) : embedding;

test("LangChain's request (cl100k_base ids per text, base64) embeds each text exactly as the text itself", async () => {
  const ids = TEXTS.map((text) => cl100kBase.encode(text));
  const fromIds = await embed({ model: 'tiny', input: ids, encoding_format: 'base64' });
  const fromTexts = await embed({ model: 'tiny', input: TEXTS, encoding_format: 'base64' });
  TEXTS.forEach((text, index) => {
    const similarity = cosine(floats(fromIds.data[index]!.embedding), floats(fromTexts.data[index]!.embedding));
    assert.ok(similarity >= 0.99999, `${text.slice(0, 30)}: cosine ${similarity}`);
    assert.equal(fromIds.data[index]!.num_tokens, fromTexts.data[index]!.num_tokens, 'the model tokens actually embedded');
  });
  assert.equal(fromIds.usage.total_tokens, fromTexts.usage.total_tokens);
  // One flat id list is one input, as in the OpenAI API.
  const single = await embed({ model: 'tiny', input: ids[0] });
  assert.equal(single.data.length, 1);
  assert.equal(single.data[0]!.num_tokens, fromTexts.data[0]!.num_tokens);
});

test('ids that are not cl100k_base tokens get a 400 naming the input and the id; token_ids=model keeps the model vocabulary', async () => {
  const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model: 'tiny', input: [[9906, 1917], [15339, 100256]] } });
  assert.equal(response.statusCode, 400);
  const { error } = errorResponseSchema.parse(response.json());
  assert.equal(error.param, 'input');
  assert.match(error.message, /input\[1\]\[1\].*token id 100256 is not a token of cl100k_base/);
  // The model's own ids: [CLS]=2 hello=13 [SEP]=3 in the fixture vocabulary; 100256 is past it.
  const own = await embed({ model: 'tiny-own-ids', input: [[2, 13, 3]] });
  assert.equal(own.data[0]!.num_tokens, 3);
  const past = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model: 'tiny-own-ids', input: [[2, 100256]] } });
  assert.match(errorResponseSchema.parse(past.json()).error.message, /outside the model's vocabulary/);
});
