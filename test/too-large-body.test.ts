/**
 * A body over BODY_LIMIT reaches every client as a readable 413 naming the limit (issue 32, item 8):
 * the server answers, then keeps reading and discarding the body (lingering close) before closing,
 * so a client still sending gets the answer rather than a reset, and the openai SDK does not send
 * the body again. A real listening server, with a 1 MiB limit to keep the bodies small.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { LINGER_BYTES } from '../src/http/linger.ts';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

const LIMIT = 1024 * 1024;
const MESSAGE = `The request body is larger than the limit of ${LIMIT} bytes.`;
const TRIES = 5;
/** 32 times the limit: far more than the socket buffers hold, so a server that closes at once resets the upload. */
const INPUT = 'word '.repeat((32 * LIMIT) / 5);

let workDir: string;
let server: ServerProcess;
before(async () => {
  workDir = await tempDir('too-large');
  await writeFixtureModel(workDir, 'test/mean');
  await writeFile(join(workDir, 'models.txt'), 'test/mean alias=tiny\n');
  server = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, INFERENCE_WORKERS: '1', HTTP_PROCESSES: '1', LOG_LEVEL: 'warn', BODY_LIMIT: String(LIMIT) });
});
after(async () => {
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** 413s the server has answered, from its metrics. */
async function answered413(): Promise<number> {
  const metrics = await (await fetch(server.metricsUrl)).text();
  return [...metrics.matchAll(/^embeddings_http_requests_total\{[^}]*status="413"[^}]*\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

test(`Node's fetch reads the 413 and its message ${TRIES} times of ${TRIES}, with Connection: close; the body of a known length or chunked`, async () => {
  const body = JSON.stringify({ model: 'tiny', input: INPUT });
  const chunked = () =>
    new ReadableStream({
      start(controller) {
        for (let offset = 0; offset < body.length; offset += LIMIT) controller.enqueue(Buffer.from(body.slice(offset, offset + LIMIT)));
        controller.close();
      },
    });
  for (const [name, send] of [
    ['known length', () => body],
    ['chunked', chunked],
  ] as const) {
    for (let i = 0; i < TRIES; i++) {
      const response = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: send(), duplex: 'half' } as RequestInit);
      assert.equal(response.status, 413, name);
      assert.equal(response.headers.get('connection'), 'close', name);
      assert.deepEqual(await response.json(), { error: { message: MESSAGE, type: 'invalid_request_error', param: null, code: 'request_too_large' } });
    }
  }
});

test(`the openai SDK reads the 413 ${TRIES} times of ${TRIES} and sends each body once`, async () => {
  const before = await answered413();
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none' });
  for (let i = 0; i < TRIES; i++) {
    const error = await client.embeddings.create({ model: 'tiny', input: INPUT }).then(
      () => assert.fail('answered'),
      (error: unknown) => error,
    );
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, 413);
    assert.match(error.message, new RegExp(`limit of ${LIMIT} bytes`));
  }
  assert.equal((await answered413()) - before, TRIES);
});

test(`after its 413 the server discards at most LINGER_BYTES (${LINGER_BYTES / 1024 / 1024} MiB) of a body that never ends, then closes`, async () => {
  const socket = connect({ port: Number(new URL(server.url).port), host: '127.0.0.1', allowHalfOpen: true });
  socket.write(`POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * LINGER_BYTES}\r\n\r\n`);
  let answer = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
  const zeros = Buffer.alloc(1024 * 1024);
  let sent = 0;
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.on('error', () => undefined);
    const write = () => {
      while (!socket.destroyed) {
        sent += zeros.length;
        if (!socket.write(zeros)) return void socket.once('drain', write);
      }
    };
    write();
  });
  assert.match(answer, /^HTTP\/1.1 413 /);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.ok(answer.includes(MESSAGE));
  // Within what the sockets' buffers hold of the bound.
  assert.ok(sent > LINGER_BYTES && sent < LINGER_BYTES + 64 * 1024 * 1024, `${sent / 1024 / 1024} MiB sent`);
});
