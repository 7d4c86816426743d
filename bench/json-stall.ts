/**
 * Bodies of many small JSON values against a real server, /health probed from another process
 * (issue 32, item 3). Each scenario runs `CLIENTS` clients posting in a loop for `SECONDS`; prints
 * the probe's longest /health wait, the HTTP thread's longest event-loop stall, and its CPU time
 * per request (the probe's own /health requests included). Waits include time the thread waited
 * for a CPU: compare with the 18 MB string scenario of the same run.
 *
 *   node --import tsx bench/json-stall.ts [CLIENTS=3] [SECONDS=20]
 */
import { request } from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../test/helpers/app.ts';
import { writeFixtureModel } from '../test/helpers/fixture-model.ts';
import { probeHealth } from '../test/helpers/health-probe.ts';
import { startServer } from '../test/helpers/server-process.ts';

const CLIENTS = Number(process.argv[2] ?? 3);
const SECONDS = Number(process.argv[3] ?? 20);
const MB = 1024 * 1024;

/** `unit` repeated to about `bytes` of JSON, joined by commas. */
const many = (unit: string, bytes: number) => `[${Array.from({ length: Math.floor(bytes / (unit.length + 1)) }, () => unit).join(',')}]`;
const nestedDocument = (i: number, tags: number) => ({ text: `document ${i}`, meta: { tags: Array.from({ length: tags }, (_, j) => [j]) } });

const SCENARIOS: Record<string, { path: string; body: () => string }> = {
  'embeddings, 18 MB ignored field of tiny arrays': { path: '/v1/embeddings', body: () => `{"model":"tiny","input":"hello","extra":${many('[]', 18 * MB)}}` },
  'embeddings, 18 MB one string (baseline)': { path: '/v1/embeddings', body: () => JSON.stringify({ model: 'tiny', input: 'hello', extra: 'x'.repeat(18 * MB) }) },
  'rerank, 1000 object documents of 99 values, returned': {
    path: '/v1/rerank',
    body: () => JSON.stringify({ model: 'ce', query: 'q', return_documents: true, documents: Array.from({ length: 1000 }, (_, i) => nestedDocument(i, 48)) }),
  },
  'rerank, 1000 object documents of 4000 values (refused)': { path: '/v1/rerank', body: () => JSON.stringify({ model: 'ce', query: 'q', documents: Array.from({ length: 1000 }, (_, i) => nestedDocument(i, 2000)) }) },
  'rerank, 18 MB ignored field': { path: '/v1/rerank', body: () => `{"model":"ce","query":"q","documents":["a"],"extra":${many('{}', 18 * MB)}}` },
  'rerank, 1000 documents of 18 kB': { path: '/v1/rerank', body: () => JSON.stringify({ model: 'ce', query: 'q', documents: Array.from({ length: 1000 }, () => 'word '.repeat(3600)) }) },
};

function post(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const outgoing = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume().on('end', () => resolve(response.statusCode!));
    });
    outgoing.on('error', () => resolve(0));
    outgoing.end(body);
  });
}

const workDir = await tempDir('json-stall');
await writeFixtureModel(workDir, 'test/mean');
await writeFixtureModel(workDir, 'test/ce', { crossEncoder: {}, modelMaxLength: 32 });
await writeFile(join(workDir, 'models.txt'), 'test/mean alias=tiny\ntest/ce alias=ce\n');
const server = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, INFERENCE_WORKERS: '1', LOG_LEVEL: 'warn', HTTP_PROCESSES: '1' });
const only = process.env.SCENARIO;
try {
  for (const [name, { path, body }] of Object.entries(SCENARIOS)) {
    if (only && !name.includes(only)) continue;
    const bytes = Buffer.from(body());
    await fetch(server.metricsUrl);
    const probe = await probeHealth(server.url);
    const cpuBefore = (await server.cpuSeconds()).mainThreads;
    const statuses = new Map<number, number>();
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < end) {
          const status = await post(`${server.url}${path}`, bytes);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    const seen = await probe.stop();
    const metrics = await (await fetch(server.metricsUrl)).text();
    const stallMs = Number(metrics.match(/^nodejs_eventloop_lag_max_seconds (\S+)$/m)![1]) * 1000;
    const cpu = (await server.cpuSeconds()).mainThreads - cpuBefore;
    const requests = [...statuses.values()].reduce((a, b) => a + b, 0);
    console.log(
      `${name} (${(bytes.length / MB).toFixed(1)} MB): statuses ${JSON.stringify(Object.fromEntries(statuses))}; /health max ${seen.maxMs.toFixed(0)} ms (${seen.failed} failed); longest stall ${stallMs.toFixed(0)} ms; HTTP threads' CPU ${((cpu / requests) * 1000).toFixed(0)} ms a request`,
    );
  }
} finally {
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
}
