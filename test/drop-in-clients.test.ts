/**
 * Clients of Ollama and of Text Embeddings Inference, unmodified, against a listening server with only their base
 * URL changed: the `ollama` JS client, LangChain's OllamaEmbeddings, @huggingface/inference's featureExtraction, and
 * the raw requests LlamaIndex's TextEmbeddingsInference and Haystack's HuggingFaceAPI embedders send. Each gets the
 * OpenAI route's vectors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { featureExtraction } from '@huggingface/inference';
import { OllamaEmbeddings } from '@langchain/ollama';
import { Ollama } from 'ollama';
import { cosine, listen, openAiVectors as ownVectors, startTestApp, type TestServer } from './helpers/app.ts';

let server: TestServer;
let base: string;
before(async () => {
  server = await startTestApp({ 'test/mean': { modelMaxLength: 24, maxSeqLength: 24 }, 'ce/mini': { crossEncoder: {} } }, 'test/mean alias=mean\nce/mini alias=ranker');
  base = await listen(server);
});
after(() => server.close());

const TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello world'];

const openAiVectors = (input: string[]) => ownVectors(server, 'mean', input);

/** Equal vectors: the same numbers, so the cosine is 1 (the bar is ≥ 0.99999). */
function assertSameVectors(actual: number[][], expected: number[][]) {
  assert.equal(actual.length, expected.length);
  actual.forEach((vector, index) => {
    assert.ok(cosine(vector, expected[index]!) >= 0.99999);
    assert.deepEqual(vector, expected[index]);
  });
}

describe('Ollama clients', () => {
  test('the ollama JS client: embed, embeddings, list, show, and an error it raises with Ollama’s message', async () => {
    const ollama = new Ollama({ host: base });
    const embedded = await ollama.embed({ model: 'mean:latest', input: TEXTS });
    assertSameVectors(embedded.embeddings, await openAiVectors(TEXTS));
    const legacy = await ollama.embeddings({ model: 'mean', prompt: TEXTS[1]! });
    assertSameVectors([legacy.embedding], await openAiVectors([TEXTS[1]!]));
    const { models } = await ollama.list();
    assert.deepEqual(
      models.map(({ name }) => name),
      ['mean:latest'],
    );
    const shown = await ollama.show({ model: models[0]!.name });
    assert.deepEqual(shown.capabilities, ['embedding']);
    await assert.rejects(ollama.embed({ model: 'all-minilm', input: 'x' }), (error: Error & { status_code?: number }) => {
      assert.equal(error.status_code, 404);
      assert.match(error.message, /The model 'all-minilm' does not exist/);
      return true;
    });
  });

  test('LangChain’s OllamaEmbeddings (which sends truncate: false)', async () => {
    const embeddings = new OllamaEmbeddings({ model: 'mean', baseUrl: base, maxRetries: 0 });
    assertSameVectors(await embeddings.embedDocuments(TEXTS), await openAiVectors(TEXTS));
    assertSameVectors([await embeddings.embedQuery(TEXTS[0]!)], await openAiVectors([TEXTS[0]!]));
    const long = Array.from({ length: 40 }, () => 'fox').join(' ');
    await assert.rejects(embeddings.embedQuery(long), /more than the model's limit of 24/);
  });
});

describe('Text Embeddings Inference clients', () => {
  test('@huggingface/inference featureExtraction pointed at the server (POST /)', async () => {
    const vectors = await featureExtraction({ endpointUrl: base, inputs: TEXTS });
    assertSameVectors(vectors as number[][], await openAiVectors(TEXTS));
    await assert.rejects(featureExtraction({ endpointUrl: base, inputs: [] }), /Failed to perform inference: Invalid 'inputs': must not be an empty array/);
  });

  test('LlamaIndex’s TextEmbeddingsInference: POST /embed {inputs, truncate} with a bearer token', async () => {
    const response = await fetch(`${base}/embed`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer unused' },
      body: JSON.stringify({ inputs: TEXTS, truncate: true }),
    });
    assert.equal(response.status, 200);
    assertSameVectors((await response.json()) as number[][], await openAiVectors(TEXTS));
  });

  test('Haystack’s HuggingFaceAPI embedders (huggingface_hub feature_extraction): POST / {inputs, truncate, normalize: false, truncation_direction}', async () => {
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ inputs: TEXTS[0], truncate: true, normalize: false, truncation_direction: 'Right' }),
    });
    assert.equal(response.status, 200);
    // Haystack's default (normalize false) gives the model's vector unnormalised: the OpenAI route's direction.
    const [vector] = (await response.json()) as number[][];
    const [own] = await openAiVectors([TEXTS[0]!]);
    assert.ok(cosine(vector!, own!) >= 0.99999);
    assert.ok(Math.abs(Math.hypot(...vector!) - 1) > 1e-3);
  });
});
