import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { listen, startTestApp, type TestServer } from './helpers/app.ts';

let server: TestServer;
let port: number;
before(async () => {
  server = await startTestApp({ 'test/mean': {} }, 'test/mean alias=tiny', {
    connections: { headersTimeoutMs: 1000, requestTimeoutMs: 1500, maxConnections: 3 },
  });
  port = Number(new URL(await listen(server)).port);
});
after(() => server.close());

/** Sends raw bytes (optionally more later) and returns everything the server wrote before closing. */
function raw(first: string | Buffer, rest?: { after: number; data: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve(text) : reject(error)));
    socket.write(first);
    if (rest) setTimeout(() => socket.writable && socket.write(rest.data), rest.after);
  });
}

function assertOpenAiError(response: string, status: number, code: string) {
  assert.match(response, new RegExp(`^HTTP/1.1 ${status} `), response.slice(0, 200));
  const { error } = errorResponseSchema.strict().parse(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)));
  assert.equal(error.code, code);
}

test("what the HTTP parser refuses is answered in OpenAI's shape: a 100 kB URL, 10 000 headers, Content-Length with Transfer-Encoding", async () => {
  assertOpenAiError(await raw(`GET /v1/models?${'x'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`), 431, 'headers_too_large');
  const headers = Array.from({ length: 10_000 }, (_, i) => `x-h${i}: v`).join('\r\n');
  assertOpenAiError(await raw(`GET /v1/models HTTP/1.1\r\nHost: a\r\n${headers}\r\n\r\n`), 431, 'headers_too_large');
  const body = JSON.stringify({ model: 'tiny', input: 'x' });
  assertOpenAiError(
    await raw(`POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`),
    400,
    'invalid_http_request',
  );
});

test('gzip, deflate and br bodies are decoded; an unknown Content-Encoding gets 415; a corrupt one 400', async () => {
  const body = JSON.stringify({ model: 'tiny', input: 'hello world' });
  const plain = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: body });
  for (const [encoding, bytes] of [['gzip', gzipSync(body)], ['br', brotliCompressSync(body)]] as const) {
    const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: bytes, headers: { 'content-encoding': encoding } });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json().data, plain.json().data);
  }
  const unknown = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: body, headers: { 'content-encoding': 'zstd' } });
  assert.equal(unknown.statusCode, 415);
  assert.equal(errorResponseSchema.parse(unknown.json()).error.code, 'unsupported_content_encoding');
  // A list of codings is undone in reverse order; a coding listed twice is applied twice.
  for (const [encoding, bytes] of [['gzip, br', brotliCompressSync(gzipSync(body))], ['gzip, gzip', gzipSync(gzipSync(body))], ['identity, gzip', gzipSync(body)]] as const) {
    const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: bytes, headers: { 'content-encoding': encoding } });
    assert.equal(response.statusCode, 200, `${encoding}: ${response.body}`);
    assert.deepEqual(response.json().data, plain.json().data);
  }
  const tooMany = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: body, headers: { 'content-encoding': 'gzip, gzip, gzip' } });
  assert.equal(tooMany.statusCode, 415);
  const corrupt = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: Buffer.from('not gzip at all'), headers: { 'content-encoding': 'gzip' } });
  assert.equal(corrupt.statusCode, 400);
  assert.doesNotMatch(corrupt.body, /not gzip/);
});

test('a body over 1 MB (parsed on the JSON thread) embeds like a small one, gzipped too; broken, it is a 400 invalid_json', async () => {
  const input = Array.from({ length: 600 }, (_, i) => `the quick brown fox ${i} `.repeat(100));
  const large = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: JSON.stringify({ model: 'tiny', input }) });
  assert.equal(large.statusCode, 200, large.body.slice(0, 300));
  assert.equal(large.json().data.length, 600);
  const one = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model: 'tiny', input: input[599] } });
  assert.deepEqual(large.json().data[599].embedding, one.json().data[0].embedding);
  // Gzipped, its decoded length is unknown until the end: the parse thread gets it from the chunks.
  const zipped = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: gzipSync(JSON.stringify({ model: 'tiny', input })), headers: { 'content-encoding': 'gzip' } });
  assert.equal(zipped.statusCode, 200, zipped.body.slice(0, 300));
  assert.deepEqual(zipped.json().data[599].embedding, one.json().data[0].embedding);
  const broken = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: JSON.stringify({ model: 'tiny', input }).slice(0, -2) });
  assert.equal(broken.statusCode, 400);
  assert.equal(errorResponseSchema.parse(broken.json()).error.code, 'invalid_json');
});

test('a client that dribbles its headers or body is cut off with a 408 once the timeouts pass', async () => {
  const started = performance.now();
  assertOpenAiError(await raw('POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{"model":'), 408, 'request_timeout');
  assert.ok(performance.now() - started < 4000, `${performance.now() - started} ms`);
  assertOpenAiError(await raw('GET /v1/models HTTP/1.1\r\nHost: a\r\n', { after: 200, data: 'x-slow: 1\r\n' }), 408, 'request_timeout');
});

test('a client that sends its request and then closes its side (half-close) still gets the answer', async () => {
  const body = JSON.stringify({ model: 'tiny', input: 'hello' });
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1.1 200 /);
  assert.match(answer, /"object":"list"/);
});

/** Opens `count` connections; each resolves once connected, and reports when the server closes it. */
async function openConnections(count: number) {
  return Promise.all(
    Array.from({ length: count }, () => new Promise<{ socket: ReturnType<typeof connect>; closed: Promise<void> }>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve({ socket, closed }));
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      socket.on('error', () => undefined);
    })),
  );
}

test('past MAX_CONNECTIONS a new connection evicts the one idle longest, so idle clients cannot lock anyone out', async () => {
  const idle = await openConnections(3);
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Idle since they connected (a keep-alive client between requests looks the same): the probe still gets in.
  assert.match(await raw('GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200/);
  await idle[0]!.closed; // the one idle longest made room
  for (const { socket } of idle) socket.destroy();
});

test('past MAX_CONNECTIONS with every connection mid-request, a new connection is closed at once', async () => {
  const busy = await openConnections(3);
  // Each has a request in progress: headers sent, body still to come.
  for (const { socket } of busy) socket.write('POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await raw('GET /health HTTP/1.1\r\nHost: a\r\n\r\n'), '', 'the fourth connection is closed without an answer');
  for (const { socket } of busy) socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.match(await raw('GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200/);
});
