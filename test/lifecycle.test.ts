/**
 * The cluster's faults and signals, against the real server: replacements that die, a primary that
 * disappears, signals during the start or with requests in flight, scrapes during a restart.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

let workDir: string;
let modelsFile: string;
before(async () => {
  workDir = await tempDir('lifecycle');
  await writeFixtureModel(workDir, 'test/mean');
  modelsFile = join(workDir, 'models.txt');
  await writeFile(modelsFile, 'test/mean alias=tiny\n');
});
after(() => rm(workDir, { recursive: true, force: true }));

const settings = (extra: Record<string, string> = {}) => ({ MODELS_FILE: modelsFile, ARTIFACTS_DIR: workDir, INFERENCE_WORKERS: '2', LOG_LEVEL: 'info', ...extra });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exited = (server: ServerProcess) =>
  new Promise<number | null>((resolve) => (server.child.exitCode !== null ? resolve(server.child.exitCode) : server.child.once('exit', (code) => resolve(code))));

/** 2048-input requests, long enough to be in flight when a signal comes. */
const bulkRequests = (url: string, count: number) =>
  Array.from({ length: count }, () =>
    fetch(`${url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'tiny', input: Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i}`) }) }).then(
      (response) => response.status,
      (error: Error) => error.message,
    ),
  );

/** Both HTTP processes have loaded their models (startServer returns once one answers /ready). */
const bothLoaded = (server: ServerProcess) => until(() => (server.startupLog().match(/"msg":"loaded tiny/g) ?? []).length >= 2, 'both HTTP processes to load');

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('a replacement that dies while starting is started again, and the healthy sibling is never stopped', async () => {
  const server = await startServer(settings({ HTTP_PROCESSES: '2' }));
  try {
    await bothLoaded(server);
    await sleep(200);
    const [first, sibling] = (await server.httpPids()) as [number, number];
    process.kill(first, 'SIGKILL');
    await until(async () => (await server.httpPids()).some((pid) => pid !== sibling), 'a replacement');
    // Well inside its start (which takes ~1 s here).
    await sleep(300);
    const replacement = (await server.httpPids()).find((pid) => pid !== sibling)!;
    process.kill(replacement, 'SIGKILL');
    await until(async () => (await server.httpPids()).length === 2 && !(await server.httpPids()).includes(replacement), 'a second replacement');
    await until(async () => (await fetch(`${server.url}/ready`)).status === 200, '/ready');
    assert.ok(alive(sibling), 'the healthy sibling still runs');
    assert.ok(alive(server.child.pid!), 'the primary still runs');
    const response = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'tiny', input: 'after the restarts' }) });
    assert.equal(response.status, 200);
    await until(() => /before it was ready; starting a new one in 250 ms/.test(server.startupLog()), 'the log line of the second restart');
  } finally {
    await server.stop();
  }
});

test('a scrape while an HTTP process restarts answers at once with the live processes\' metrics', async () => {
  const server = await startServer(settings({ HTTP_PROCESSES: '2' }));
  try {
    await bothLoaded(server);
    await sleep(200);
    const [first] = await server.httpPids();
    process.kill(first!, 'SIGKILL');
    await until(async () => !(await server.httpPids()).includes(first!), 'the death to be seen');
    const started = performance.now();
    const scrape = await fetch(server.metricsUrl);
    const ms = performance.now() - started;
    assert.equal(scrape.status, 200);
    assert.match(await scrape.text(), /embeddings_http_requests_total/);
    assert.ok(ms < 2500, `the scrape took ${ms.toFixed(0)} ms`);
  } finally {
    await server.stop();
  }
});

/** Inputs the server has taken in: queued for a batch, or embedded (from its metrics, summed over the HTTP processes). */
async function inputsTakenIn(server: ServerProcess): Promise<number> {
  const text = await (await fetch(server.metricsUrl)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (/^embeddings_(queue_depth|inputs_total)\{/.test(line)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

for (const signal of ['SIGHUP', 'SIGINT'] as const) {
  test(`${signal} drains as SIGTERM does: requests in flight are answered, then exit 0`, async () => {
    const server = await startServer(settings());
    const requests = bulkRequests(server.url, 3);
    // The signal once the third request is in (its inputs queued), not after a fixed time a busy machine may not keep.
    await until(async () => (await inputsTakenIn(server)) > 2 * 2048, 'the three requests to be taken in');
    server.child.kill(signal);
    assert.deepEqual(await Promise.all(requests), [200, 200, 200]);
    assert.equal(await exited(server), 0);
  });
}

test('when the primary is killed outright, the HTTP process answers its requests in flight, then exits', async () => {
  const server = await startServer(settings());
  const [httpPid] = await server.httpPids();
  const requests = bulkRequests(server.url, 3);
  await sleep(150);
  server.child.kill('SIGKILL');
  assert.deepEqual(await Promise.all(requests), [200, 200, 200]);
  await until(() => !alive(httpPid!), 'the orphaned HTTP process to exit');
});

test('SIGTERM during the start stops it cleanly: exit 0 at any moment once the primary runs', async () => {
  // From the primary's first line (its plan) until the HTTP process is ready takes ~1.5 s here.
  for (const delayMs of [0, 400, 900, 1400]) {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('../src/server.ts', import.meta.url).pathname], {
      env: { ...process.env, ...settings(), HOST: '127.0.0.1', PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    child.stdout!.resume();
    await sleep(delayMs);
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `SIGTERM ${delayMs} ms after the primary's first line`);
  }
});

test('aliases of one repo share one loaded model: the same threads and memory as one id', async () => {
  const aliases = join(workDir, 'aliases.txt');
  await writeFile(aliases, Array.from({ length: 6 }, (_, i) => `test/mean alias=tiny-${i}`).join('\n'));
  const measure = async (file: string) => {
    const server = await startServer(settings({ MODELS_FILE: file, HTTP_PROCESSES: '1' }));
    try {
      const [pid] = await server.httpPids();
      return { threads: (await readdir(`/proc/${pid}/task`)).length, rssMb: await server.rssMb() };
    } finally {
      await server.stop();
    }
  };
  const one = await measure(modelsFile);
  const six = await measure(aliases);
  console.log(`one id: ${one.threads} threads, ${one.rssMb.toFixed(0)} MB; six aliases: ${six.threads} threads, ${six.rssMb.toFixed(0)} MB`);
  assert.ok(six.threads <= one.threads + 2, `six aliases run ${six.threads} threads, one id ${one.threads}`);
  assert.ok(six.rssMb < one.rssMb + 60, `six aliases hold ${six.rssMb} MB, one id ${one.rssMb}`);
});
