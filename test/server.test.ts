import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';

const SERVER = new URL('../src/server.ts', import.meta.url).pathname;
let workDir: string;

before(async () => {
  workDir = await tempDir('server');
  await writeFixtureModel(join(workDir, 'artifacts'), 'acme/tiny');
  await writeFixtureModel(join(workDir, 'artifacts'), 'acme/wide', { shape: { layers: 1, hidden: 256, heads: 4, intermediate: 256 } });
  await writeFixtureModel(join(workDir, 'artifacts'), 'acme/ce', { crossEncoder: {} });
});
after(() => rm(workDir, { recursive: true, force: true }));

/** Starts `npm start`'s entry point; resolves with its exit code and output once it exits. */
function startServer(env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, ...args], {
    env: { ...process.env, ARTIFACTS_DIR: join(workDir, 'artifacts'), HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.on('exit', (code) => resolve({ code, output })));
  return { child, exited, output: () => output };
}

async function modelsFile(name: string, text: string) {
  const path = join(workDir, name);
  await writeFile(path, text);
  return path;
}

test('a model missing from ARTIFACTS_DIR stops startup naming the model, the file and the fetch command', async () => {
  const server = startServer({ MODELS_FILE: await modelsFile('missing.txt', 'acme/tiny\nacme/absent alias=gone\n') });
  const { code, output } = await server.exited;
  assert.equal(code, 1);
  assert.match(output, /model "gone" \(.*missing\.txt:2\): .*acme\/absent\/config\.json is missing\. Fetch it with `npm run download`/);
});

test('a malformed models.txt stops startup with file:line', async () => {
  const server = startServer({ MODELS_FILE: await modelsFile('bad.txt', 'acme/tiny\n\nacme/tiny alias=\n') });
  const { code, output } = await server.exited;
  assert.equal(code, 1);
  assert.match(output, /bad\.txt:3: option "alias" has no value/);
});

test('a corrupt ONNX file or tokenizer stops startup with one line naming the model and the file, no stack trace', async () => {
  for (const [file, content] of [['onnx/model.onnx', Buffer.from('not a protobuf')], ['tokenizer.json', '{"broken": ']] as const) {
    await writeFixtureModel(join(workDir, 'artifacts'), 'acme/corrupt');
    await writeFile(join(workDir, 'artifacts', 'acme/corrupt', file), content);
    const server = startServer({ MODELS_FILE: await modelsFile('corrupt.txt', 'acme/corrupt\n') });
    const { code, output } = await server.exited;
    assert.equal(code, 1, file);
    // The primary finds a graph that is not one before it starts anything; a bad tokenizer shows when the model loads.
    assert.match(output, /model \\?"acme\/corrupt\\?" \(.*corrupt\.txt:1.*(failed to load: |model\.onnx is not an ONNX graph)/, file);
    assert.doesNotMatch(output, /\n\s+at /, `${file}: a stack trace was printed`);
  }
});

test('a port in use stops startup naming PORT and what to do', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as AddressInfo;
  try {
    const server = startServer({ MODELS_FILE: await modelsFile('port.txt', 'acme/tiny\n'), PORT: String(port) });
    const { code, output } = await server.exited;
    assert.equal(code, 1);
    assert.match(output, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(PORT=${port}, HOST=127\\.0\\.0\\.1\\\): another process is using that port`));
  } finally {
    taken.close();
  }
});

test('an unknown flag stops npm start pointing to --help; --port, --host and --models stand for PORT, HOST and MODELS_FILE', async () => {
  const refused = startServer({ MODELS_FILE: await modelsFile('flags.txt', 'acme/tiny\n') }, ['--prot', '9000']);
  const { code, output } = await refused.exited;
  assert.equal(code, 1);
  assert.match(output, /^error: unknown option '--prot'\. `npm start -- --help` says what it takes \(flags: --help, --port, --host, --models\)\.$/m);
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const server = startServer({ MODELS_FILE: 'nowhere.txt', HOST: '::1' }, ['--port', String(port), '--host=127.0.0.1', '--models', await modelsFile('flags.txt', 'acme/tiny alias=flagged\n')]);
  try {
    assert.equal(await startReady(server), `http://127.0.0.1:${port}`);
    const models = await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json();
    assert.deepEqual(models.data.map((model: { id: string }) => model.id), ['flagged']);
  } finally {
    server.child.kill('SIGTERM');
  }
  assert.equal((await server.exited).code, 0);
});

test('invalid configuration stops startup with the variable named', async () => {
  const server = startServer({ MODELS_FILE: await modelsFile('ok.txt', 'acme/tiny\n'), MAX_BATCH_SIZE: 'lots' });
  const { code, output } = await server.exited;
  assert.equal(code, 1);
  assert.match(output, /invalid configuration: MAX_BATCH_SIZE/);
});

test('starts, logs one line per model by its kind and one ready line once every HTTP process serves, serves, and exits 0 on SIGTERM', async () => {
  const server = startServer({ MODELS_FILE: await modelsFile('serve.txt', 'acme/tiny alias=tiny\nacme/ce alias=ce\n'), HTTP_PROCESSES: '2', INFERENCE_WORKERS: '2' });
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline) {
    url = server.output().match(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(url, server.output());
  let ready = 0;
  while (ready !== 200 && Date.now() < deadline) {
    ready = (await fetch(`${url}/ready`)).status;
    if (ready !== 200) assert.equal(ready, 503);
  }
  const response = await fetch(`${url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'tiny', input: 'hello' }) });
  assert.equal(response.status, 200);
  assert.match(server.output(), /loaded tiny: embedding model, 32 dimensions, 24 max tokens, mean pooling, normalized, \d+ ms/);
  assert.match(server.output(), /loaded ce: reranker \(cross-encoder\), 64 max tokens per query–document pair, sigmoid scores, \d+ ms/);
  assert.doesNotMatch(server.output(), /loaded ce: .*(dimensions|pooling|normalized)/);
  const port = new URL(url!).port;
  const readyLine = `ready: serving tiny (embedding), ce (reranker) with 2 HTTP process(es) and 2 inference worker(s) per model in all at http://127.0.0.1:${port} ` +
    `(API docs: http://127.0.0.1:${port}/docs; metrics off: set METRICS_PORT to serve them)`;
  while (!server.output().includes(readyLine) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  server.child.kill('SIGTERM');
  const { code, output } = await server.exited;
  assert.equal(code, 0);
  assert.equal(output.split(readyLine).length - 1, 1, output);
  // The processes' lines interleave on the one stdout as each flushes; their times say what came first.
  const lines = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { time: number; msg: string });
  const readyTime = lines.find((line) => line.msg === readyLine)!.time;
  const loadedTimes = lines.filter((line) => /^loaded (tiny|ce):/.test(line.msg)).map((line) => line.time);
  assert.equal(loadedTimes.length, 4, 'both processes loaded both models');
  assert.ok(loadedTimes.every((time) => time <= readyTime), 'the ready line came after every loaded line');
});

test('SIGTERM during a large request: the request completes with 200, then the process exits 0', async () => {
  const server = startServer({ MODELS_FILE: await modelsFile('drain.txt', 'acme/tiny alias=tiny\n') });
  let url: string | undefined;
  while (!url) {
    url = server.output().match(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  while ((await fetch(`${url}/ready`)).status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  const input = Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i} jumps over the lazy dog`);
  const big = fetch(`${url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'tiny', input }) });
  await new Promise((resolve) => setTimeout(resolve, 30));
  server.child.kill('SIGTERM');
  const response = await big;
  assert.equal(response.status, 200);
  assert.equal((await response.json()).data.length, 2048);
  const { code, output } = await server.exited;
  assert.equal(code, 0, output.slice(-3000));
  assert.match(server.output(), /SIGTERM received; draining/);
});

/** Starts the server and waits until it is ready; returns its URL. */
async function startReady(server: ReturnType<typeof startServer>) {
  let url: string | undefined;
  while (!url) {
    url = server.output().match(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  while ((await fetch(`${url}/ready`)).status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  return url;
}

test('SIGTERM while a 10 MB answer is read by a slow client: the whole body arrives, then the process exits 0', async () => {
  const server = startServer({ MODELS_FILE: await modelsFile('slow.txt', 'acme/wide alias=wide\n') });
  const url = await startReady(server);
  const input = Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i} jumps over the lazy dog`);
  const body = await new Promise<string>((resolve, reject) => {
    const outgoing = request(`${url}/v1/embeddings`, { method: 'POST' }, (response) => {
      assert.equal(response.statusCode, 200);
      // Read nothing until the server has been told to stop, then read slowly.
      response.pause();
      server.child.kill('SIGTERM');
      let text = '';
      response.setEncoding('utf8');
      setTimeout(() => {
        response.on('data', (chunk: string) => {
          text += chunk;
          response.pause();
          setTimeout(() => response.resume(), 2);
        });
        response.resume();
      }, 500);
      response.on('end', () => resolve(text));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(JSON.stringify({ model: 'wide', input }));
  });
  assert.ok(body.length > 5_000_000, `${body.length} bytes`);
  assert.equal(JSON.parse(body).data.length, 2048);
  const { code, output } = await server.exited;
  assert.equal(code, 0, output.slice(-2000));
});

test('SIGTERM with an open connection that never sent a request: the process exits 0 at once', async () => {
  const server = startServer({ MODELS_FILE: await modelsFile('silent.txt', 'acme/tiny alias=tiny\n'), DRAIN_TIMEOUT_MS: '20000' });
  const url = await startReady(server);
  const silent = connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise((resolve) => silent.once('connect', resolve));
  silent.on('error', () => undefined);
  const started = performance.now();
  server.child.kill('SIGTERM');
  const { code, output } = await server.exited;
  silent.destroy();
  assert.equal(code, 0, output.slice(-2000));
  assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
  assert.doesNotMatch(output, /still running/);
});

test("METRICS_PORT serves every HTTP process's metrics with no key; the public port serves none; a client that hangs up is counted as 499", async () => {
  const metricsPort = String(await new Promise<number>((resolve) => {
    const listener = createServer().listen(0, '127.0.0.1', () => {
      const { port } = listener.address() as { port: number };
      listener.close(() => resolve(port));
    });
  }));
  const server = startServer({
    MODELS_FILE: await modelsFile('metrics.txt', 'acme/wide alias=wide\n'), API_KEYS: 'k1', METRICS_PORT: metricsPort, HTTP_PROCESSES: '2', INFERENCE_WORKERS: '2',
  });
  try {
    const url = await startReady(server);
    const auth = { authorization: 'Bearer k1' };
    // Before any request: each worker's busy series exists at 0 (once both processes have loaded), and the warm-up is no served batch.
    let fresh = '';
    for (let tries = 0; tries < 100 && !(/worker="1\.0"\} 0$/m.test(fresh) && /worker="0\.0"\} 0$/m.test(fresh)); tries++) {
      fresh = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(fresh, /^embeddings_worker_busy_seconds_total\{model="wide",worker="0\.0"\} 0$/m);
    assert.match(fresh, /^embeddings_worker_busy_seconds_total\{model="wide",worker="1\.0"\} 0$/m);
    assert.doesNotMatch(fresh, /^embeddings_batch_size_count\{model="wide"\} [1-9]/m);
    const embedded = await fetch(`${url}/v1/embeddings`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'wide', input: ['hello', 'world'] }) });
    assert.equal(embedded.status, 200);
    // A client that gives up on a large request.
    const input = Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i} jumps over the lazy dog`);
    const leaving = new AbortController();
    const abandoned = fetch(`${url}/v1/embeddings`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'wide', input }), signal: leaving.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    leaving.abort();
    await abandoned.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const onApiPort = await fetch(`${url}/metrics`, { headers: auth });
    assert.equal(onApiPort.status, 404);
    assert.equal((await onApiPort.json()).error.message, `Metrics are not served on the API's port: they are at http://127.0.0.1:${metricsPort}/metrics (METRICS_PORT), with no API key.`);
    const docsOnMetricsPort = await fetch(`http://127.0.0.1:${metricsPort}/docs`);
    assert.equal(docsOnMetricsPort.status, 404);
    assert.equal(
      (await docsOnMetricsPort.json()).error.message,
      `Invalid URL (GET /docs). This port (METRICS_PORT) serves only GET /metrics; the API is at ${url}, described at ${url}/docs.`,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^embeddings_inputs_total\{model="wide"\} 2$/m);
    assert.match(metrics, /^embeddings_http_requests_total\{route="\/v1\/embeddings",method="POST",status="499",model=""\} 1$/m);
    assert.match(metrics, /^embeddings_worker_busy_seconds_total\{model="wide",worker="[01]\.0"\} [0-9.e-]+$/m);
    assert.match(metrics, /^embeddings_queue_wait_seconds_count\{model="wide"\} \d+$/m);
  } finally {
    server.child.kill('SIGTERM');
  }
  const { code, output } = await server.exited;
  assert.equal(code, 0, 'both HTTP processes drained and the primary exited 0');
  assert.equal(output.match(/drained; exiting/g)?.length, 2);
  // Request lines are written a few KiB at a time; what is left goes out before the process exits.
  assert.match(output, /"status":499/);
});
