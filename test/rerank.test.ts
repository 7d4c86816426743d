/**
 * Rerank with generated cross-encoders, against an independent reference: pair ids from another
 * build of the Rust tokenizers library (longest-first truncation), a float64 forward pass with the
 * classifier head, and CrossEncoder's activation. Every route shape, the errors, and the official
 * cohere-ai SDK (v1 and v2 clients) against a listening server.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import rustTokenizers from '@anush008/tokenizers';
import { CohereRerank } from '@langchain/cohere';
import { Document } from '@langchain/core/documents';
import { CohereClient, CohereClientV2 } from 'cohere-ai';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { modelListSchema } from '../src/schemas/models.ts';
import { teiErrorSchema } from '../src/schemas/tei.ts';
import { cohereRerankResponseSchema, teiRerankResponseSchema } from '../src/schemas/rerank.ts';
import { listen, startTestApp, type TestServer } from './helpers/app.ts';
import { referenceForward } from './helpers/bert-reference.ts';

/** Both tokenizers' model_max_length: pairs longer than this are cut, longest first. */
const LIMIT = 32;
const MODELS = {
  // ms-marco-MiniLM-like: WordPiece with token types, Identity activation (raw logits).
  'ce/msmarco': { crossEncoder: { activation: 'torch.nn.modules.linear.Identity' }, modelMaxLength: LIMIT },
  // bge-reranker-like: XLM-R Unigram tokenizer, no token types, no activation named (sigmoid).
  'ce/bge': { family: 'unigram' as const, crossEncoder: {}, modelMaxLength: LIMIT },
  // The legacy config key naming Sigmoid.
  'ce/legacy': { crossEncoder: { activation: 'torch.nn.modules.activation.Sigmoid', legacyKey: true }, modelMaxLength: LIMIT },
  'emb/mini': {},
};
const ACTIVATIONS = { 'ce/msmarco': (x: number) => x, 'ce/bge': (x: number) => 1 / (1 + Math.exp(-x)), 'ce/legacy': (x: number) => 1 / (1 + Math.exp(-x)) };
type Reranker = keyof typeof ACTIVATIONS;

const QUERY = 'what does the quick brown fox do';
const DOCUMENTS = [
  'the quick brown fox jumps over the lazy dog',
  'hello world',
  'Grüße aus München, die Straße ist schön!',
  '',
  'hello world',
  'the lazy dog sleeps all day long while the fox runs around the field and jumps over fences again and again',
];

let server: TestServer;
before(async () => {
  server = await startTestApp(MODELS, 'ce/msmarco alias=msmarco\nce/bge alias=bge\nce/legacy alias=legacy\nemb/mini alias=mini');
});
after(() => server.close());

/** CrossEncoder.predict's score for one pair: Rust pair ids (longest-first to the limit), float64 forward, head, activation. */
function reference(repo: Reranker, query: string, document: string, options: { raw?: boolean; direction?: 'left' | 'right' } = {}) {
  const fixture = server.fixtures[repo]!;
  const tokenizer = rustTokenizers.Tokenizer.fromFile(join(fixture.dir, 'tokenizer.json'));
  tokenizer.disablePadding();
  tokenizer.setTruncation(LIMIT, { strategy: rustTokenizers.TruncationStrategy.LongestFirst, direction: options.direction ?? 'right' });
  return tokenizer.encode(query, document).then((encoding) => {
    const ids = encoding.getIds();
    const tokens = referenceForward(fixture.weights, ids, false, encoding.getTypeIds());
    const { dense, denseBias, out, outBias } = fixture.classifier!;
    const hidden = Array.from({ length: dense.cols }, (_, o) => {
      let sum = denseBias[o]!;
      for (let i = 0; i < dense.rows; i++) sum += tokens[0]![i]! * dense.data[i * dense.cols + o]!;
      return Math.tanh(sum);
    });
    const logit = hidden.reduce((sum, value, i) => sum + value * out.data[i]!, outBias[0]!);
    return { score: options.raw ? logit : ACTIVATIONS[repo](logit), tokens: ids.length };
  });
}

const post = (url: string, payload: object) => server.app.inject({ method: 'POST', url, payload });

async function assertRanked(repo: Reranker, model: string, url: string, documents = DOCUMENTS) {
  const response = await post(url, { model, query: QUERY, documents });
  assert.equal(response.statusCode, 200, response.body);
  const body = cohereRerankResponseSchema.parse(response.json());
  const expected = await Promise.all(documents.map((document) => reference(repo, QUERY, document)));
  assert.equal(body.results.length, documents.length, 'no top_n: every document');
  for (const result of body.results) {
    assert.ok(Math.abs(result.relevance_score - expected[result.index]!.score) < 1e-4, `${model} document ${result.index}: ${result.relevance_score} against ${expected[result.index]!.score}`);
    assert.equal('document' in result, false, 'document left out unless asked for');
  }
  const scores = body.results.map((result) => result.relevance_score);
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'highest first');
  assert.equal(body.usage.total_tokens, expected.reduce((sum, { tokens }) => sum + tokens, 0));
  assert.equal(body.model, model);
  return body;
}

describe('scores as CrossEncoder.predict', () => {
  test('ms-marco-like (token types, Identity: raw logits) on /rerank, /v1/rerank and /v2/rerank', async () => {
    for (const url of ['/rerank', '/v1/rerank', '/v2/rerank']) await assertRanked('ce/msmarco', 'msmarco', url);
  });

  test('bge-reranker-like (XLM-R Unigram, sigmoid) and the legacy activation key', async () => {
    const body = await assertRanked('ce/bge', 'bge', '/v1/rerank');
    assert.ok(body.results.every((result) => result.relevance_score > 0 && result.relevance_score < 1), 'probabilities');
    await assertRanked('ce/legacy', 'legacy', '/v1/rerank');
  });

  test('pairs at the limit and over it: cut longest first; a long query with long documents; 100 documents', async () => {
    const long = 'the quick brown fox jumps over the lazy dog '.repeat(6);
    await assertRanked('ce/msmarco', 'msmarco', '/v1/rerank', [long, long.slice(0, 40), 'a', long + long]);
    const hundred = Array.from({ length: 100 }, (_, i) => `${DOCUMENTS[i % DOCUMENTS.length]} ${'fox '.repeat(i % 9)}`);
    await assertRanked('ce/bge', 'bge', '/v1/rerank', hundred);
  });

  test('top_n, return_documents with string and object documents (their other fields echoed), ties in request order', async () => {
    const documents = ['hello world', { text: 'the quick brown fox', id: 'doc-7', source: 'wiki' }, 'hello world'];
    const response = await post('/v1/rerank', { model: 'msmarco', query: QUERY, documents, top_n: 2, return_documents: true, rank_fields: ['text'], extra: 'ignored' });
    assert.equal(response.statusCode, 200, response.body);
    const { results } = cohereRerankResponseSchema.parse(response.json());
    assert.equal(results.length, 2);
    for (const result of results) {
      const sent = documents[result.index]!;
      assert.deepEqual(result.document, typeof sent === 'string' ? { text: sent } : sent);
    }
    const all = cohereRerankResponseSchema.parse((await post('/v1/rerank', { model: 'msmarco', query: QUERY, documents })).json()).results;
    const duplicates = all.filter((result) => result.index !== 1).map((result) => result.index);
    assert.deepEqual(duplicates, [0, 2], 'equal scores keep the request order');
  });

  test('max_tokens_per_doc cuts each document to its own first N tokens before pairing', async () => {
    const document = 'the quick brown fox jumps over the lazy dog';
    const cut = await post('/v1/rerank', { model: 'msmarco', query: QUERY, documents: [document], max_tokens_per_doc: 3 });
    const [result] = cohereRerankResponseSchema.parse(cut.json()).results;
    assert.ok(Math.abs(result!.relevance_score - (await reference('ce/msmarco', QUERY, 'the quick brown')).score) < 1e-4);
  });
});

describe("Text Embeddings Inference's shape on /rerank", () => {
  test('texts → a bare array of {index, score, text?}, sorted; raw_scores gives logits', async () => {
    const response = await post('/rerank', { query: QUERY, texts: DOCUMENTS.slice(0, 3), return_text: true, truncate: true, model: 'bge' });
    assert.equal(response.statusCode, 200, response.body);
    const results = teiRerankResponseSchema.parse(response.json());
    for (const { index, score, text } of results) {
      assert.ok(Math.abs(score - (await reference('ce/bge', QUERY, DOCUMENTS[index]!)).score) < 1e-4);
      assert.equal(text, DOCUMENTS[index]);
    }
    const raw = teiRerankResponseSchema.parse((await post('/rerank', { query: QUERY, texts: DOCUMENTS.slice(0, 3), raw_scores: true, truncate: true, model: 'bge' })).json());
    for (const { index, score } of raw) assert.ok(Math.abs(score - (await reference('ce/bge', QUERY, DOCUMENTS[index]!, { raw: true })).score) < 1e-4);
  });

  test('no truncate cuts a pair over the limit (TEI >= 1.9 truncates by default); truncate false refuses it with a 400; truncation_direction left cuts the other end', async () => {
    const long = 'the quick brown fox jumps over the lazy dog '.repeat(6);
    const cut = teiRerankResponseSchema.parse((await post('/rerank', { model: 'msmarco', query: QUERY, texts: ['short one', long] })).json());
    for (const { index, score } of cut) assert.ok(Math.abs(score - (await reference('ce/msmarco', QUERY, ['short one', long][index]!)).score) < 1e-4);
    const refused = await post('/rerank', { model: 'msmarco', query: QUERY, texts: ['short one', long], truncate: false });
    assert.equal(refused.statusCode, 400);
    // In TEI's error shape, as TEI's clients read it.
    const error = teiErrorSchema.strict().parse(refused.json());
    assert.equal(error.error_type, 'Validation');
    assert.match(error.error, /Document 1 with the query has \d+ tokens, more than the model's limit of 32/);
    const atLimit = await reference('ce/msmarco', QUERY, long.slice(0, 60));
    if (atLimit.tokens <= LIMIT) assert.equal((await post('/rerank', { model: 'msmarco', query: QUERY, texts: [long.slice(0, 60)], truncate: false })).statusCode, 200);
    const left = teiRerankResponseSchema.parse((await post('/rerank', { model: 'msmarco', query: QUERY, texts: [long], truncate: true, truncation_direction: 'Left' })).json());
    assert.ok(Math.abs(left[0]!.score - (await reference('ce/msmarco', QUERY, long, { direction: 'left' })).score) < 1e-4);
  });

  test('without a model, the first reranker served answers (TEI serves one)', async () => {
    const response = await post('/rerank', { query: QUERY, texts: ['hello world'] });
    assert.equal(response.statusCode, 200, response.body);
    assert.ok(Math.abs(teiRerankResponseSchema.parse(response.json())[0]!.score - (await reference('ce/msmarco', QUERY, 'hello world')).score) < 1e-4);
  });
});

describe('errors, in OpenAI\'s shape', () => {
  const expectError = async (url: string, payload: object, status: number, code: string | null, message?: RegExp) => {
    const response = await post(url, payload);
    assert.equal(response.statusCode, status, `${JSON.stringify(payload)}: ${response.body}`);
    const { error } = errorResponseSchema.parse(response.json());
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
  };

  test('unknown model 404; the wrong kind of model 400 naming its kind; empty documents, missing query, too many documents 400', async () => {
    await expectError('/v1/rerank', { model: 'nope', query: 'q', documents: ['d'] }, 404, 'model_not_found');
    await expectError('/v1/rerank', { model: 'mini', query: 'q', documents: ['d'] }, 400, 'model_kind_mismatch', /'mini' is an embedding model/);
    await expectError('/v1/embeddings', { model: 'msmarco', input: 'x' }, 400, 'model_kind_mismatch', /'msmarco' is a reranker/);
    await expectError('/v1/rerank', { model: 'msmarco', query: 'q', documents: [] }, 400, null, /documents/);
    await expectError('/v1/rerank', { model: 'msmarco', documents: ['d'] }, 400, null, /Missing required parameter: 'query'/);
    await expectError('/v1/rerank', { model: 'msmarco', query: 'q', document: ['d'] }, 400, null, /^Missing required parameter: 'documents'\. The request has 'document': did you mean 'documents'\?$/);
    await expectError('/v1/rerank', { model: 'msmarco', query: 'q', documents: Array.from({ length: 1001 }, () => 'd') }, 400, 'too_many_documents', /1001 documents; at most 1000/);
  });

  test('GET /models lists each model with its kind', async () => {
    const models = modelListSchema.parse((await server.app.inject({ url: '/v1/models' })).json());
    const kinds = Object.fromEntries(models.data.map((model) => [model.id, model.kind]));
    assert.deepEqual(kinds, { msmarco: 'reranker', bge: 'reranker', legacy: 'reranker', mini: 'embedding' });
  });
});

test('the official cohere-ai SDK, v1 and v2 clients, against a listening server', async () => {
  const url = await listen(server);
  const expected = await Promise.all(DOCUMENTS.map((document) => reference('ce/bge', QUERY, document)));
  const v2 = new CohereClientV2({ token: 'unused', environment: url });
  const second = await v2.rerank({ model: 'bge', query: QUERY, documents: DOCUMENTS, topN: 3 });
  assert.equal(second.results.length, 3);
  for (const result of second.results) assert.ok(Math.abs(result.relevanceScore - expected[result.index]!.score) < 1e-4);
  const v1 = new CohereClient({ token: 'unused', environment: url });
  const first = await v1.rerank({ model: 'bge', query: QUERY, documents: DOCUMENTS, returnDocuments: true });
  assert.equal(first.results.length, DOCUMENTS.length);
  for (const result of first.results) {
    assert.ok(Math.abs(result.relevanceScore - expected[result.index]!.score) < 1e-4);
    assert.equal(result.document?.text, DOCUMENTS[result.index]);
  }
});

test("LangChain's CohereRerank (JS) against a listening server: compressDocuments keeps the top documents with their scores", async () => {
  const url = await listen(server);
  // @langchain/cohere pins its own copy of cohere-ai: the same client class, another type identity.
  const client = new CohereClient({ token: 'unused', environment: url }) as unknown as NonNullable<ConstructorParameters<typeof CohereRerank>[0]>['client'];
  const reranker = new CohereRerank({ client, model: 'bge', topN: 2 });
  const kept = await reranker.compressDocuments(DOCUMENTS.map((text, index) => new Document({ pageContent: text, metadata: { index } })), QUERY);
  const expected = await Promise.all(DOCUMENTS.map((document) => reference('ce/bge', QUERY, document)));
  const best = expected.map(({ score }, index) => ({ score, index })).sort((a, b) => b.score - a.score || a.index - b.index).slice(0, 2);
  assert.deepEqual(kept.map((document) => document.metadata.index), best.map(({ index }) => index));
  for (const [k, document] of kept.entries()) assert.ok(Math.abs(document.metadata.relevanceScore - best[k]!.score) < 1e-4);
});
