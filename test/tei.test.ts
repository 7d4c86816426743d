/**
 * Text Embeddings Inference's native API on generated models: /embed, `POST /` and `/invocations`, /tokenize with
 * `inputs`, /decode and /info, each against this server's own routes (the same vectors, ids and scores) and in TEI's
 * shapes, errors included.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import rustTokenizers from '@anush008/tokenizers';
import { after, before, describe, test } from 'node:test';
import { teiDecodeResponseSchema, teiEmbedResponseSchema, teiErrorSchema, teiInfoSchema, teiTokenizeResponseSchema } from '../src/schemas/tei.ts';
import { teiRerankResponseSchema } from '../src/schemas/rerank.ts';
import { cosine, openAiVectors as ownVectors, startTestApp, type TestServer } from './helpers/app.ts';
import { referenceEmbedding, rustTokenizer } from './helpers/reference.ts';

const LIMIT = 24;
let server: TestServer;
before(async () => {
  server = await startTestApp(
    {
      'test/mean': { prompts: { query: 'query: ', passage: 'passage: ' }, modelMaxLength: LIMIT, maxSeqLength: LIMIT },
      'ce/mini': { crossEncoder: {}, modelMaxLength: LIMIT },
      'test/cls': { pooling: ['cls'], normalize: false },
    },
    'test/mean alias=mean\nce/mini alias=ranker\ntest/cls alias=cls',
  );
});
after(() => server.close());

async function post(url: string, payload: unknown) {
  const response = await server.app.inject({ method: 'POST', url, payload: payload as object });
  return { status: response.statusCode, body: response.json() as unknown, type: response.headers['content-type'] };
}

const openAiVectors = (model: string, input: string[], extra?: Record<string, unknown>) => ownVectors(server, model, input, extra);

const TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello world'];
const LONG = Array.from({ length: 40 }, () => 'fox').join(' ');
const LONG_MIXED = `hello world ${LONG} the lazy dog`;

describe('/embed', () => {
  test('a list of texts: the OpenAI route’s vectors, in order, as a bare array; no model names the first embedding model', async () => {
    const { status, body, type } = await post('/embed', { inputs: TEXTS });
    assert.equal(status, 200);
    assert.match(type as string, /^application\/json/);
    teiEmbedResponseSchema.parse(body);
    assert.deepEqual(body, await openAiVectors('mean', TEXTS));
  });

  test('one text gives a list of one vector; `model` picks another model', async () => {
    assert.deepEqual((await post('/embed', { inputs: 'hello world' })).body, await openAiVectors('mean', ['hello world']));
    const cls = await post('/embed', { inputs: 'hello world', model: 'cls', normalize: false });
    assert.deepEqual(cls.body, await openAiVectors('cls', ['hello world']));
  });

  test('normalize (default true) gives unit vectors whatever the model does; false gives them as computed, unnormalised', async () => {
    const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
    const reference = async (repo: string, pooling: ('mean' | 'cls')[], normalize: boolean, dimensions?: number) =>
      referenceEmbedding(server.fixtures[repo]!.weights, await rustTokenizer(server.fixtures[repo]!.dir, LIMIT)('hello world'), { pooling, normalize, dimensions });
    const close = (actual: number[], expected: number[]) => actual.forEach((value, d) => assert.ok(Math.abs(value - expected[d]!) < 1e-5, `dimension ${d}`));
    // The cls model does not normalise: TEI's default does.
    const [unit] = (await post('/embed', { inputs: 'hello world', model: 'cls' })).body as number[][];
    assert.ok(Math.abs(norm(unit!) - 1) < 1e-6);
    assert.ok(cosine(unit!, (await openAiVectors('cls', ['hello world']))[0]!) >= 0.99999);
    close(unit!, await reference('test/cls', ['cls'], true));
    const [cut] = (await post('/embed', { inputs: 'hello world', model: 'cls', dimensions: 8 })).body as number[][];
    close(cut!, await reference('test/cls', ['cls'], true, 8));
    // The mean model normalises: false gives its pooled vector as it is.
    const [raw] = (await post('/embed', { inputs: 'hello world', normalize: false })).body as number[][];
    assert.ok(Math.abs(norm(raw!) - 1) > 1e-3);
    close(raw!, await reference('test/mean', ['mean'], false));
    assert.ok(cosine(raw!, (await openAiVectors('mean', ['hello world']))[0]!) >= 0.99999);
  });

  test('token ids are the model’s own, used as given (TEI’s meaning, whatever TOKEN_IDS says): one sequence or several', async () => {
    const own = (await post('/tokenize', { model: 'mean', input: TEXTS })).body as { data: { ids: number[] }[] };
    const ids = own.data.map((item) => item.ids);
    assert.deepEqual((await post('/embed', { inputs: ids })).body, (await post('/embed', { inputs: TEXTS })).body);
    assert.deepEqual((await post('/embed', { inputs: ids[1] })).body, (await post('/embed', { inputs: TEXTS[1] })).body);
  });

  test('prompt_name and dimensions as on the OpenAI route', async () => {
    const { body } = await post('/embed', { inputs: TEXTS, prompt_name: 'query', dimensions: 8 });
    assert.deepEqual(body, await openAiVectors('mean', TEXTS, { prompt_name: 'query', dimensions: 8 }));
    assert.equal((body as number[][])[0]!.length, 8);
  });

  test('truncate defaults to true (TEI ≥ 1.9); false refuses an over-long text in TEI’s error shape', async () => {
    const truncated = await post('/embed', { inputs: LONG });
    assert.equal(truncated.status, 200);
    assert.deepEqual(truncated.body, await openAiVectors('mean', [LONG], { truncate: true }));
    const refused = await post('/embed', { inputs: [TEXTS[0], LONG], truncate: false });
    assert.equal(refused.status, 400);
    const error = teiErrorSchema.strict().parse(refused.body);
    assert.equal(error.error_type, 'Validation');
    assert.match(error.error, /Input 1 has \d+ tokens, more than the model's limit of 24/);
    assert.equal((await post('/embed', { inputs: LONG, truncate: null })).status, 200);
  });

  test('truncation_direction left keeps a long text’s last tokens inside the special ones', async () => {
    const fixture = server.fixtures['test/mean']!;
    const tokenizer = rustTokenizers.Tokenizer.fromFile(join(fixture.dir, 'tokenizer.json'));
    tokenizer.disablePadding();
    tokenizer.setTruncation(LIMIT, { direction: 'left' });
    const ids = (await tokenizer.encode(LONG_MIXED)).getIds();
    const expected = referenceEmbedding(fixture.weights, ids, { pooling: ['mean'], normalize: true });
    const [left] = (await post('/embed', { inputs: LONG_MIXED, truncation_direction: 'Left' })).body as number[][];
    left!.forEach((value, d) => assert.ok(Math.abs(value - expected[d]!) < 1e-5, `dimension ${d}`));
    const [right] = (await post('/embed', { inputs: LONG_MIXED })).body as number[][];
    assert.notDeepEqual(left, right);
  });

  test('errors in TEI’s shape: empty list (Empty), missing inputs, unknown model (404), a reranker, an unknown prompt, too many dimensions', async () => {
    const cases: [unknown, number, string, RegExp][] = [
      [{ inputs: [] }, 400, 'Empty', /'inputs': must not be an empty array/],
      [{ input: 'x' }, 400, 'Validation', /Missing required parameter: 'inputs'. The request has 'input'/],
      [{ inputs: [{ text: 'x' }] }, 400, 'Validation', /'inputs': must be a string, an array of strings, an array of token ids/],
      [{ inputs: [[2, 5], [2, 999999]] }, 400, 'Validation', /'inputs\[1\]\[1\]': token id 999999 is outside the model's vocabulary/],
      [{ inputs: 'x', model: 'nope' }, 404, 'Validation', /The model 'nope' does not exist/],
      [{ inputs: 'x', model: 'ranker' }, 400, 'Validation', /'ranker' is a reranker/],
      [{ inputs: 'x', prompt_name: 'nope' }, 400, 'Validation', /no prompt named 'nope'. Its prompts: query, passage/],
      [{ inputs: 'x', dimensions: 33 }, 400, 'Validation', /'dimensions': must be at most 32/],
    ];
    for (const [payload, status, errorType, message] of cases) {
      const response = await post('/embed', payload);
      assert.equal(response.status, status, JSON.stringify(payload));
      const error = teiErrorSchema.strict().parse(response.body);
      assert.equal(error.error_type, errorType, JSON.stringify(payload));
      assert.match(error.error, message);
    }
  });

  test('a body that is not JSON: TEI’s shape too', async () => {
    const response = await server.app.inject({ method: 'POST', url: '/embed', payload: '{"inputs": ', headers: { 'content-type': 'application/json' } });
    assert.equal(response.statusCode, 400);
    assert.equal(teiErrorSchema.strict().parse(response.json()).error_type, 'Validation');
  });
});

describe('a route for a kind of model this server does not serve', () => {
  test('/predict naming no model, with no classifier served: 404 naming the models it has and what to add, in TEI’s shape', async () => {
    const response = await post('/predict', { inputs: 'I love this!' });
    assert.equal(response.status, 404);
    const error = teiErrorSchema.strict().parse(response.body);
    assert.match(error.error, /serves no classifier \(its models, mean, ranker, cls, embed or rerank\)\. To serve one, add a line with a sequence classifier/);
  });
});

describe('POST / and /invocations', () => {
  for (const path of ['/', '/invocations']) {
    test(`${path} embeds an inputs body as /embed, reranks a query and texts body as /rerank`, async () => {
      const embedded = await post(path, { inputs: TEXTS });
      assert.equal(embedded.status, 200);
      assert.deepEqual(embedded.body, (await post('/embed', { inputs: TEXTS })).body);
      const reranked = await post(path, { query: 'what does the fox do', texts: TEXTS, return_text: true });
      assert.equal(reranked.status, 200);
      teiRerankResponseSchema.parse(reranked.body);
      assert.deepEqual(reranked.body, (await post('/rerank', { query: 'what does the fox do', texts: TEXTS, return_text: true })).body);
    });
  }

  test('errors name the fields of the API the body is shaped as, in TEI’s shape', async () => {
    const rerank = await post('/', { query: 'q' });
    assert.equal(rerank.status, 400);
    assert.match(teiErrorSchema.parse(rerank.body).error, /Missing required parameter: 'documents'/);
    const embed = await post('/invocations', { inputs: '' });
    assert.equal(embed.status, 200, 'TEI embeds an empty text');
    const neither = await post('/', { text: 'x' });
    assert.equal(neither.status, 400);
    assert.match(teiErrorSchema.parse(neither.body).error, /'inputs'/);
  });

  test('GET / still points to the docs', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/' });
    assert.equal(response.json().docs, '/docs');
  });
});

describe('/tokenize with inputs', () => {
  test('every token with the characters it stands for and their offsets; the same ids as the own /tokenize', async () => {
    const text = 'Hello, the quick brown fox!';
    const { status, body } = await post('/tokenize', { inputs: [text, 'hello world'] });
    assert.equal(status, 200);
    const [tokens] = teiTokenizeResponseSchema.parse(body);
    const own = (await post('/tokenize', { model: 'mean', input: text })).body as { data: { ids: number[] }[] };
    assert.deepEqual(
      tokens!.map(({ id }) => id),
      own.data[0]!.ids,
    );
    assert.deepEqual(tokens![0], { id: 2, text: '[CLS]', special: true, start: null, stop: null });
    assert.deepEqual(tokens!.at(-1), { id: 3, text: '[SEP]', special: true, start: null, stop: null });
    for (const token of tokens!.slice(1, -1)) {
      assert.equal(token.special, false);
      // The fixture's tokenizer lowercases: the text is the input's own characters.
      assert.equal(token.text, text.slice(token.start!, token.stop!));
    }
    assert.deepEqual(
      tokens!.slice(1, 4).map(({ text: piece, start, stop }) => [piece, start, stop]),
      [
        ['Hello', 0, 5],
        [',', 5, 6],
        ['the', 7, 10],
      ],
    );
  });

  test('add_special_tokens false, a prompt, leading spaces and characters outside the BMP keep the offsets right', async () => {
    const text = '  😀 hello';
    const { body } = await post('/tokenize', { inputs: text, add_special_tokens: false, prompt_name: 'query' });
    const [tokens] = teiTokenizeResponseSchema.parse(body);
    const prompted = Array.from(`query: ${text}`);
    assert.ok(tokens!.every(({ special }) => !special));
    for (const token of tokens!) assert.equal(token.text, prompted.slice(token.start!, token.stop!).join(''));
    assert.equal(tokens!.at(-1)!.text, 'hello');
  });

  test('errors in TEI’s shape; the own shape keeps its own', async () => {
    const tei = await post('/tokenize', { inputs: [] });
    assert.deepEqual(teiErrorSchema.parse(tei.body).error_type, 'Empty');
    const own = await post('/tokenize', { model: 'mean', input: [] });
    assert.equal((own.body as { error: { code: string } }).error.code, 'empty_input');
  });
});

describe('/decode', () => {
  test('ids back to text, special tokens skipped by default; one sequence or several', async () => {
    const own = (await post('/tokenize', { model: 'mean', input: ['hello world', 'the fox'] })).body as { data: { ids: number[] }[] };
    const [first, second] = own.data.map(({ ids }) => ids);
    const several = await post('/decode', { ids: [first, second] });
    assert.equal(several.status, 200);
    assert.deepEqual(teiDecodeResponseSchema.parse(several.body), ['hello world', 'the fox']);
    assert.deepEqual((await post('/decode', { ids: first, skip_special_tokens: false })).body, ['[CLS] hello world [SEP]']);
  });

  test('an id outside the vocabulary: 400 in TEI’s shape', async () => {
    const response = await post('/decode', { ids: [[2, 5], [2, 999999]] });
    assert.equal(response.status, 400);
    assert.match(teiErrorSchema.parse(response.body).error, /'ids\[1\]\[1\]': token id 999999 is outside the model's vocabulary/);
  });
});

describe('/info', () => {
  test('the first model of models.txt, or the one `model` names', async () => {
    const info = teiInfoSchema.parse((await server.app.inject({ method: 'GET', url: '/info' })).json());
    assert.equal(info.model_id, 'test/mean');
    assert.equal(info.served_model_name, 'mean');
    assert.deepEqual(info.model_type, { embedding: { pooling: 'mean' } });
    assert.equal(info.max_input_length, LIMIT);
    assert.equal(info.max_client_batch_size, 2048);
    assert.equal(info.auto_truncate, true);
    const ranker = teiInfoSchema.parse((await server.app.inject({ method: 'GET', url: '/info?model=ranker' })).json());
    assert.ok('reranker' in ranker.model_type);
    const missing = await server.app.inject({ method: 'GET', url: '/info?model=nope' });
    assert.equal(missing.statusCode, 404);
    teiErrorSchema.parse(missing.json());
  });
});
