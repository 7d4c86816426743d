import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

let workDir: string;
let server: ServerProcess;
before(async () => {
  workDir = await tempDir('event-loop');
  // Big enough that embedding 2048 texts takes seconds of CPU.
  await writeFixtureModel(workDir, 'test/medium', { shape: { layers: 4, hidden: 128, heads: 4, intermediate: 512, maxPositions: 128 }, maxSeqLength: 128 });
  await writeFile(join(workDir, 'models.txt'), 'test/medium\n');
  // The real server in its own process, so the CPU time measured is its own, not this test's.
  server = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, INFERENCE_WORKERS: '1', LOG_LEVEL: 'warn' });
});
after(async () => {
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
});

/**
 * CPU time, so the machine's load does not change the share (measured 1-3 %: the HTTP thread receives the texts
 * and writes the answer's vectors); the time /health waits meanwhile counts the time the thread waits for a core.
 */
test('a 2048-input request is computed off the HTTP thread: it runs under 15 % of the CPU the request costs', async () => {
  const input = Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i} jumps over the lazy dog `.repeat(1 + (i % 4)));
  const before = await server.cpuSeconds();
  const response = await fetch(`${server.url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'test/medium', input }),
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).data.length, 2048);
  const after = await server.cpuSeconds();
  const mainThreads = after.mainThreads - before.mainThreads;
  const otherThreads = after.otherThreads - before.otherThreads;
  const share = mainThreads / (mainThreads + otherThreads);
  console.log(`a 2048-input request: the processes' main threads ran ${(mainThreads * 1000).toFixed(0)} ms of CPU, the other threads ${(otherThreads * 1000).toFixed(0)} ms (${(share * 100).toFixed(1)} %)`);
  assert.ok(otherThreads > 1, `the request cost the other threads only ${otherThreads.toFixed(2)} s of CPU: too little to tell`);
  assert.ok(share < 0.15, `the main threads ran ${(share * 100).toFixed(1)} % of the request's CPU`);
});
