/**
 * Issue 32's tokenizer attacks at full size, against a running server (real models: a multilingual-e5-, bge-m3- or
 * paraphrase-multilingual-shaped embedding model and a cross-encoder). Prints each attack's answer and time, the
 * HTTP process's RSS before and after (with --pid, from /proc), and how long a non-ASCII embedding, a small rerank and
 * a gzip body then take (the issue asks for 2 s):
 *   1. a rerank with a 2 MB query and 1000 tiny documents, abandoned after 3 s (and once answered in full);
 *   2. U+FDFA (NFKC: 18 characters, ~15 tokens) without spaces: 3 MB and 9 MB embedding bodies (the issue: 10 s, RSS +500 MB).
 *   node --import tsx bench/tokenizing-attacks.ts --url http://127.0.0.1:8000 --model intfloat/multilingual-e5-small --reranker cross-encoder/ms-marco-MiniLM-L6-v2 --pid 1234
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8000' },
    model: { type: 'string' },
    reranker: { type: 'string' },
    pid: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.model || !values.reranker) {
  console.log('usage: node --import tsx bench/tokenizing-attacks.ts --model EMBEDDING_ID --reranker RERANKER_ID [--url URL] [--pid HTTP_PROCESS_PID]');
  process.exit(values.help ? 0 : 1);
}
const { url, model, reranker, pid } = values;
const MB = 1024 * 1024;

const rssMb = () => (pid ? Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024 : NaN);

async function timed(label: string, path: string, body: object | Buffer, options: { abortAfterMs?: number; headers?: Record<string, string> } = {}) {
  const started = performance.now();
  const rssBefore = rssMb();
  const outcome = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    signal: AbortSignal.timeout(options.abortAfterMs ?? 600_000),
  }).then(
    async (response) => `${response.status} ${(await response.text()).slice(0, 120)}`,
    (error: Error) => `no answer (${error.name})`,
  );
  console.log(`${label}: ${outcome} after ${((performance.now() - started) / 1000).toFixed(2)} s, RSS ${rssBefore.toFixed(0)} -> ${rssMb().toFixed(0)} MB`);
}

async function othersAnswer() {
  await Promise.all([
    timed('  non-ASCII embedding', '/v1/embeddings', { model, input: 'Grüße aus München, 東京の天気' }),
    timed('  small rerank', '/v1/rerank', { model: reranker, query: 'what does the fox do', documents: ['the fox jumps', 'hello world'] }),
    timed('  gzip body', '/v1/embeddings', gzipSync(JSON.stringify({ model, input: ['héllo wörld'] })), { headers: { 'content-encoding': 'gzip' } }),
  ]);
}

const query = 'the quick brown fox jumps over the lazy dog '.repeat(Math.ceil((2 * MB) / 44));
const documents = Array.from({ length: 1000 }, (_, i) => `document ${i} about a fox`);
await timed('rerank, 2 MB query x 1000 documents, abandoned after 3 s', '/v1/rerank', { model: reranker, query, documents }, { abortAfterMs: 3000 });
await othersAnswer();
await timed('rerank, 2 MB query x 1000 documents', '/v1/rerank', { model: reranker, query, documents });
for (const megabytes of [3, 9]) {
  await timed(`${megabytes} MB of U+FDFA, no spaces`, '/v1/embeddings', { model, input: '\ufdfa'.repeat(megabytes * (MB / 3)) });
  await othersAnswer();
}
