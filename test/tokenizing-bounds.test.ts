/**
 * Tokenising is bounded by what truncation keeps, against the real server (issue 32, items 1, 2
 * and 7): a rerank request with a 2 MB query and 1000 documents costs little, and once abandoned
 * leaves the thread pool (shared with the Rust tokenizer's other callers and zlib) to others; text
 * that normalisation expands 18-fold (U+FDFA, no spaces) costs memory by the limit, not by its size;
 * /tokenize, which counts every input whole, counts in bounded pieces, stops at MAX_REQUEST_TOKENS
 * and at the deadline.
 * CPU and memory from /proc; wall time only as generous bounds.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { probeHealth } from './helpers/health-probe.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

const MB = 1024 * 1024;
/** Less than 1000 documents at the rerankers' pair length (64): a rerank is bounded by its documents, not by this. */
const MAX_REQUEST_TOKENS = 20_000;
/** Far from what each takes (a few ms to tens of ms here); the issue asks for 2 s after an abandoned attack. */
const ANSWER_WITHIN_MS = 15_000;

let workDir: string;
let server: ServerProcess;
before(async () => {
  workDir = await tempDir('tokenizing-bounds');
  await writeFixtureModel(workDir, 'test/ce', { crossEncoder: {}, maxSeqLength: 64, modelMaxLength: 64 });
  await writeFixtureModel(workDir, 'test/ce-xlmr', { family: 'unigram', crossEncoder: {}, maxSeqLength: 64, modelMaxLength: 64 });
  // multilingual-e5-, bge-m3- and paraphrase-multilingual-shaped: XLM-R's Unigram tokenizer with its Precompiled (nmt_nfkc) normaliser.
  await writeFixtureModel(workDir, 'test/e5', { family: 'unigram', maxSeqLength: 64, modelMaxLength: 64 });
  await writeFile(join(workDir, 'models.txt'), 'test/ce alias=ce\ntest/ce-xlmr alias=ce-xlmr\ntest/e5 alias=e5\n');
  server = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, HTTP_PROCESSES: '1', INFERENCE_WORKERS: '1', MAX_REQUEST_TOKENS: String(MAX_REQUEST_TOKENS), LOG_LEVEL: 'warn' });
});
after(async () => {
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
});

const post = (path: string, body: object | Buffer, options: { signal?: AbortSignal; headers?: Record<string, string> } = {}) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    signal: options.signal ?? AbortSignal.timeout(ANSWER_WITHIN_MS),
  });

const cpu = async () => {
  const { mainThreads, otherThreads } = await server.cpuSeconds();
  return mainThreads + otherThreads;
};

/** The users of the thread pool the attack would starve: a non-ASCII embedding (the Rust tokenizer), a rerank, a gzip body (zlib). */
async function othersAnswer() {
  const answers = await Promise.all([
    post('/v1/embeddings', { model: 'e5', input: 'Grüße aus München, 東京の天気' }),
    post('/v1/rerank', { model: 'ce', query: 'what does the fox do', documents: ['the fox jumps', 'hello world'] }),
    post('/v1/embeddings', gzipSync(JSON.stringify({ model: 'e5', input: ['héllo wörld'] })), { headers: { 'content-encoding': 'gzip' } }),
  ]);
  assert.deepEqual(answers.map((response) => response.status), [200, 200, 200]);
}

const bigQuery = (bytes: number) => 'the quick brown fox jumps over the lazy dog '.repeat(Math.ceil(bytes / 44));
const tinyDocuments = Array.from({ length: 1000 }, (_, i) => `document ${i} about a fox`);

test('a 2 MB query with 1000 documents: answered with a few CPU seconds (each pair was tokenised with the whole query: ~1.4 s a pair)', async () => {
  const probe = await probeHealth(server.url);
  const before = await cpu();
  const response = await post('/v1/rerank', { model: 'ce', query: bigQuery(2 * MB), documents: tinyDocuments }, { signal: AbortSignal.timeout(120_000) });
  const used = (await cpu()) - before;
  const health = await probe.stop();
  const body = await response.text();
  assert.equal(response.status, 200, body);
  assert.equal((JSON.parse(body) as { results: unknown[] }).results.length, 1000);
  console.log(`2 MB query × 1000 documents: ${used.toFixed(2)} CPU s, /health longest wait ${health.maxMs.toFixed(0)} ms`);
  assert.ok(used < 30, `${used.toFixed(1)} CPU seconds`);
  assert.equal(health.failed, 0);
});

test('abandoned, the same request stops using CPU; then a non-ASCII embedding, a small rerank and a gzip body are answered', async () => {
  const query = bigQuery(2 * MB);
  // 1000 distinct long queries' worth of work: documents as long as the query's start, each its own.
  // Left after 1 s, unless answered by then (bounded work may be that fast on an idle machine): either way the server is idle a second later.
  const outcome = await post('/v1/rerank', { model: 'ce-xlmr', query: `Grüße ${query}`, documents: tinyDocuments.map((document) => `${document} ${query.slice(0, 2000)}`) }, { signal: AbortSignal.timeout(1000) })
    .then((response) => `answered ${response.status}`, (error: Error) => error.name);
  assert.match(outcome, /^(answered 200|TimeoutError|AbortError)$/);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idleFrom = await cpu();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const used = (await cpu()) - idleFrom;
  console.log(`abandoned rerank (${outcome}): ${used.toFixed(2)} CPU s in the 2 s from 1 s after the client left`);
  assert.ok(used < 0.5, `the server still ran ${used.toFixed(2)} CPU s in 2 s`);
  await othersAnswer();
});

test('3 MB of U+FDFA (NFKC: 18 characters each) without a space to an e5-shaped model and as a rerank query: answered, memory bounded', async () => {
  const text = '\ufdfa'.repeat(MB);
  const rssBefore = await server.rssMb();
  const before = await cpu();
  const embedded = await post('/v1/embeddings', { model: 'e5', input: text }, { signal: AbortSignal.timeout(120_000) });
  const body = await embedded.text();
  assert.equal(embedded.status, 200, body);
  const { usage } = JSON.parse(body) as { usage: { prompt_tokens: number } };
  assert.equal(usage.prompt_tokens, 64, 'truncated to the limit');
  const reranked = await post('/v1/rerank', { model: 'ce-xlmr', query: text, documents: ['hello', text.slice(0, 5000)] }, { signal: AbortSignal.timeout(120_000) });
  assert.equal(reranked.status, 200, await reranked.text());
  const used = (await cpu()) - before;
  const growth = (await server.rssMb()) - rssBefore;
  console.log(`3 MB of U+FDFA: RSS +${growth.toFixed(0)} MB, ${used.toFixed(2)} CPU s`);
  assert.ok(growth < 500, `RSS grew ${growth.toFixed(0)} MB`);
  assert.ok(used < 20, `${used.toFixed(1)} CPU seconds`);
  await othersAnswer();
});

test('1000 documents of ~2 kB (MAX_RERANK_DOCUMENTS) are scored, each pair cut to the limit: MAX_REQUEST_TOKENS bounds embeddings, not reranks', async () => {
  const documents = Array.from({ length: 1000 }, (_, i) => `${i} ${bigQuery(2000).slice(0, 2000)}`);
  const response = await post('/v1/rerank', { model: 'ce', query: 'what does the fox do', documents }, { signal: AbortSignal.timeout(120_000) });
  const body = await response.text();
  assert.equal(response.status, 200, body);
  const { results, usage } = JSON.parse(body) as { results: unknown[]; usage: { total_tokens: number } };
  assert.equal(results.length, 1000);
  assert.equal(usage.total_tokens, 64 * 1000);
  const embeddings = await post('/v1/embeddings', { model: 'e5', input: documents });
  assert.equal(embeddings.status, 400);
  assert.equal(((await embeddings.json()) as { error: { code: string } }).error.code, 'max_tokens_per_request');
});

test('/tokenize counts every input whole, yet 3 MB of U+FDFA (one text, or 200 texts) is refused once the count passes MAX_REQUEST_TOKENS, memory bounded', async () => {
  const text = '\ufdfa'.repeat(MB);
  const rssBefore = await server.rssMb();
  const before = await cpu();
  const one = await post('/tokenize', { model: 'e5', input: text }, { signal: AbortSignal.timeout(120_000) });
  const oneBody = (await one.json()) as { error: { code: string; param: string; message: string } };
  const many = await post('/tokenize', { model: 'e5', input: Array.from({ length: 200 }, () => text.slice(0, 5000)) }, { signal: AbortSignal.timeout(120_000) });
  const manyBody = (await many.json()) as { error: { code: string; param: string; message: string } };
  const used = (await cpu()) - before;
  const growth = (await server.rssMb()) - rssBefore;
  console.log(`/tokenize, 3 MB of U+FDFA: RSS +${growth.toFixed(0)} MB, ${used.toFixed(2)} CPU s; ${oneBody.error?.message}`);
  for (const [response, body] of [[one, oneBody], [many, manyBody]] as const) {
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(body.error.code, 'max_tokens_per_request');
    assert.equal(body.error.param, 'input');
    assert.match(body.error.message, new RegExp(`at least \\d+ tokens; at most ${MAX_REQUEST_TOKENS} `));
  }
  assert.ok(growth < 500, `RSS grew ${growth.toFixed(0)} MB`);
  assert.ok(used < 10, `${used.toFixed(1)} CPU seconds`);
  // Under the limit, a text of 20 001 characters (more than one piece) is counted exactly: 'a' and 'b' 5000 times each, then 'c'.
  const counted = await post('/tokenize', { model: 'e5', input: [`${'a b '.repeat(5000)}c`, 'a b c', 'a b a b c'] });
  const countedBody = (await counted.json()) as { data: { total_tokens: number; num_tokens: number; truncated: boolean }[] };
  assert.equal(counted.status, 200, JSON.stringify(countedBody));
  const [long, three, five] = countedBody.data;
  assert.equal(long!.num_tokens, 64);
  assert.equal(long!.truncated, true);
  assert.equal(long!.total_tokens, three!.total_tokens + 4999 * (five!.total_tokens - three!.total_tokens));
  await othersAnswer();
});

test('/tokenize under a cap too high to stop it: the deadline (REQUEST_TIMEOUT_MS) stops counting 3 MB of U+FDFA, memory bounded', async () => {
  const patient = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, HTTP_PROCESSES: '1', INFERENCE_WORKERS: '1', MAX_REQUEST_TOKENS: '100000000', REQUEST_TIMEOUT_MS: '1000', LOG_LEVEL: 'warn' });
  try {
    const cpuOf = async () => {
      const { mainThreads, otherThreads } = await patient.cpuSeconds();
      return mainThreads + otherThreads;
    };
    const rssBefore = await patient.rssMb();
    const response = await fetch(`${patient.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'e5', input: '\ufdfa'.repeat(MB) }), signal: AbortSignal.timeout(120_000) });
    const { error } = (await response.json()) as { error: { code: string } };
    assert.equal(response.status, 503);
    assert.equal(error.code, 'timeout');
    const growth = (await patient.rssMb()) - rssBefore;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleFrom = await cpuOf();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const used = (await cpuOf()) - idleFrom;
    console.log(`/tokenize past its deadline: RSS +${growth.toFixed(0)} MB; ${used.toFixed(2)} CPU s in the 2 s from 1 s after the 503`);
    assert.ok(growth < 500, `RSS grew ${growth.toFixed(0)} MB`);
    assert.ok(used < 0.5, `the server still ran ${used.toFixed(2)} CPU s in 2 s`);
  } finally {
    await patient.stop();
  }
});

/** Texts the XLM-R-shaped (Unigram, nmt_nfkc) tokenizers make almost nothing of: 17 MB and 12 MB bodies of a few tokens. */
const vanishingTexts = [
  ['6 M U+200B then "x"', `${'\u200b'.repeat(6_000_000)}x`],
  ['"x " then 6 M U+00AD', `x ${'\u00ad'.repeat(6_000_000)}`],
] as const;

test('text that normalises to almost nothing (6 M zero-width spaces or soft hyphens) is tokenised in bounded pieces: answered (or stopped by the 2 s deadline) with a few CPU s, none after, memory bounded', async () => {
  const patient = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, HTTP_PROCESSES: '1', INFERENCE_WORKERS: '1', REQUEST_TIMEOUT_MS: '2000', LOG_LEVEL: 'warn' });
  try {
    const cpuOf = async () => {
      const { mainThreads, otherThreads } = await patient.cpuSeconds();
      return mainThreads + otherThreads;
    };
    const ask = async (path: string, body: object) => {
      const response = await fetch(`${patient.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
      return { status: response.status, body: (await response.json()) as { error?: { code: string }; data?: unknown[]; results?: unknown[] } };
    };
    for (const [name, text] of vanishingTexts) {
      // Embeddings keep a text's start; rerank with truncation_direction 'left' keeps its end; max_tokens_per_doc first cuts a document.
      for (const [path, request] of [
        ['/v1/embeddings', (input: string) => ({ model: 'e5', input })],
        ['/v1/rerank', (query: string) => ({ model: 'ce-xlmr', query, documents: ['hello', 'x'], truncation_direction: 'left' })],
        ['/v1/rerank', (document: string) => ({ model: 'ce-xlmr', query: 'x', documents: [document, 'hello'], max_tokens_per_doc: 8 })],
      ] as const) {
        const rssBefore = await patient.rssMb();
        const before = await cpuOf();
        const answer = await ask(path, request(text));
        const untilAnswer = (await cpuOf()) - before;
        const growth = (await patient.rssMb()) - rssBefore;
        const idleFrom = await cpuOf();
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const after = (await cpuOf()) - idleFrom;
        console.log(`${name}, ${path}: ${answer.status} after ${untilAnswer.toFixed(2)} CPU s, ${after.toFixed(2)} CPU s in the 2 s after it; RSS +${growth.toFixed(0)} MB`);
        // The deadline is 2 s of wall time: a server that stops at it has used about 2 CPU s (one thread tokenising), fewer when the machine is busy.
        if (answer.status === 503) assert.equal(answer.body.error?.code, 'timeout');
        else {
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          assert.equal((answer.body.data ?? answer.body.results)?.length, path === '/v1/embeddings' ? 1 : 2);
        }
        assert.ok(untilAnswer < 6, `${name}, ${path}: ${untilAnswer.toFixed(1)} CPU s until the answer`);
        assert.ok(after < 1, `${name}, ${path}: the server still ran ${after.toFixed(2)} CPU s in the 2 s after the answer`);
        assert.ok(growth < 500, `${name}, ${path}: RSS grew ${growth.toFixed(0)} MB`);
      }
    }
  } finally {
    await patient.stop();
  }
});

test('abandoned, text that normalises to almost nothing stops using CPU; then a non-ASCII embedding, a small rerank and a gzip body are answered', async () => {
  for (const [name, text] of vanishingTexts) {
    // Left after 2 s (when the body has long arrived and is being tokenised), unless answered by then: either way the server is idle a second later.
    await post('/v1/embeddings', { model: 'e5', input: text }, { signal: AbortSignal.timeout(2000) }).then((response) => response.text()).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleFrom = await cpu();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const used = (await cpu()) - idleFrom;
    console.log(`abandoned ${name}: ${used.toFixed(2)} CPU s in the 2 s from 1 s after the client left`);
    assert.ok(used < 0.5, `${name}: the server still ran ${used.toFixed(2)} CPU s in 2 s`);
    await othersAnswer();
  }
});
