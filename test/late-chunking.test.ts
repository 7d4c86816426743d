/**
 * Jina's late chunking on /v1/embeddings: the inputs embedded as one sequence, each input's span pooled on its own,
 * against a float64 reference that pools each input's span of one joint forward pass (ids from an independent build
 * of the Rust tokenizers library). Refusals where it cannot apply.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestServer } from './helpers/app.ts';
import { referenceLateChunks, rustTokenizer } from './helpers/reference.ts';

const LIMIT = 40;
const PROMPTS = { query: 'query: ' };
let server: TestServer;
before(async () => {
  server = await startTestApp(
    {
      'test/mean': { prompts: PROMPTS, modelMaxLength: LIMIT, maxSeqLength: LIMIT },
      'test/max-dense': { pooling: ['max'], dense: [{ out: 12, activation: 'Tanh' }], modelMaxLength: LIMIT, maxSeqLength: LIMIT },
      'test/cls': { pooling: ['cls'] },
    },
    'test/mean alias=mean\ntest/max-dense alias=max\ntest/cls alias=cls',
  );
});
after(() => server.close());

const TEXTS = ['the quick brown fox', 'jumps over the lazy dog.', 'hello world'];

async function post(payload: Record<string, unknown>) {
  const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload });
  return { status: response.statusCode, body: response.json() as { data: { embedding: number[] | string; num_tokens: number }[]; usage: { total_tokens: number }; error: { code: string; param: string; message: string } } };
}

/** The joined sequence as the reference builds it: [CLS], the prompt's tokens, each text's own tokens, [SEP]; and each text's span. */
async function joined(repo: string, texts: string[], prompt = '') {
  const tokenize = rustTokenizer(server.fixtures[repo]!.dir, 10_000);
  const own = async (text: string) => (await tokenize(text)).slice(1, -1);
  const [cls, sep] = [(await tokenize('a'))[0]!, (await tokenize('a')).at(-1)!];
  const ids = [cls, ...(prompt ? await own(prompt) : [])];
  const spans: [number, number][] = [];
  for (const text of texts) {
    const start = ids.length;
    ids.push(...(await own(text)));
    spans.push([start, ids.length]);
  }
  ids.push(sep);
  return { ids, spans };
}

function assertClose(actual: number[], expected: number[], what: string) {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((value, d) => assert.ok(Math.abs(value - expected[d]!) < 1e-5, `${what}, dimension ${d}: ${value} vs ${expected[d]}`));
}

test('one vector per input: each input’s span of one forward pass over them all, pooled alone (mean, normalised)', async () => {
  const { status, body } = await post({ model: 'mean', input: TEXTS, late_chunking: true });
  assert.equal(status, 200);
  const { ids, spans } = await joined('test/mean', TEXTS);
  const expected = referenceLateChunks(server.fixtures['test/mean']!.weights, ids, spans, { pooling: ['mean'], normalize: true });
  body.data.forEach(({ embedding }, index) => assertClose(embedding as number[], expected[index]!, `input ${index}`));
  // Each input's tokens, the first and last with the special ones they share: the sequence's tokens in all.
  assert.deepEqual(
    body.data.map(({ num_tokens }) => num_tokens),
    spans.map(([start, end], index) => end - start + (index === 0 ? 1 : 0) + (index === spans.length - 1 ? 1 : 0)),
  );
  assert.equal(body.usage.total_tokens, ids.length);
  // The context changes the vectors: each differs from the input embedded alone.
  const alone = (await post({ model: 'mean', input: TEXTS })).body.data;
  body.data.forEach(({ embedding }, index) => assert.notDeepEqual(embedding, alone[index]!.embedding));
});

test('Dense after the pooling and max pooling; dimensions and base64 as without late chunking', async () => {
  const { ids, spans } = await joined('test/max-dense', TEXTS);
  const fixture = server.fixtures['test/max-dense']!;
  const expected = referenceLateChunks(fixture.weights, ids, spans, { pooling: ['max'], dense: fixture.dense, normalize: true, dimensions: 8 });
  const { body } = await post({ model: 'max', input: TEXTS, late_chunking: true, dimensions: 8, encoding_format: 'base64' });
  body.data.forEach(({ embedding }, index) => {
    const bytes = Buffer.from(embedding as string, 'base64');
    const vector = Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
    assertClose(vector, expected[index]!, `input ${index}`);
  });
});

test('a prompt goes once at the start of the sequence, in no input’s span', async () => {
  const { ids, spans } = await joined('test/mean', TEXTS, PROMPTS.query);
  const expected = referenceLateChunks(server.fixtures['test/mean']!.weights, ids, spans, { pooling: ['mean'], normalize: true });
  const { body } = await post({ model: 'mean', input: TEXTS, late_chunking: true, prompt_name: 'query' });
  body.data.forEach(({ embedding }, index) => assertClose(embedding as number[], expected[index]!, `input ${index}`));
});

test('in a batch with other requests, each late-chunked request keeps its own spans', async () => {
  const requests = [
    { model: 'mean', input: ['a b c d e f g h', 'hello'] },
    { model: 'mean', input: TEXTS, late_chunking: true },
    { model: 'mean', input: ['hello world', 'the fox'], late_chunking: true },
    { model: 'mean', input: 'the lazy dog' },
  ];
  const alone: unknown[] = [];
  for (const request of requests) alone.push((await post(request)).body.data);
  const together = await Promise.all(requests.map(post));
  together.forEach(({ body }, index) => assert.deepEqual(body.data, alone[index], `request ${index}`));
});

test('refused with a 400 where it cannot apply: over the model’s limit, cls pooling, token ids, an input with no tokens', async () => {
  const long = Array.from({ length: 15 }, () => 'fox dog').join(' ');
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ model: 'mean', input: [long, long, 'x'], late_chunking: true }, 'late_chunking_unavailable', /the inputs together have (more than )?\d+ tokens, more than the model's limit of 40/],
    [{ model: 'cls', input: TEXTS, late_chunking: true }, 'late_chunking_unavailable', /pools by cls/],
    [{ model: 'mean', input: [[5, 6], [7]], late_chunking: true }, null as never, /'late_chunking': takes texts/],
    [{ model: 'mean', input: ['hello', '\u200b'], late_chunking: true }, 'late_chunking_unavailable', /input 1 has no tokens/],
  ];
  for (const [payload, code, message] of cases) {
    const { status, body } = await post(payload);
    assert.equal(status, 400, JSON.stringify(payload));
    assert.equal(body.error.code, code);
    assert.match(body.error.message, message);
  }
  // Without late_chunking, the same long inputs are truncated as usual.
  assert.equal((await post({ model: 'mean', input: [long, long, 'x'] })).status, 200);
});
