import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listen, startTestApp, type TestServer } from './helpers/app.ts';

let server: TestServer;
let baseUrl: string;
before(async () => {
  // Big enough that embedding 2048 texts takes seconds on one thread.
  server = await startTestApp({
    'test/medium': { shape: { layers: 4, hidden: 128, heads: 4, intermediate: 512, maxPositions: 128 }, maxSeqLength: 128 },
  });
  baseUrl = await listen(server);
});
after(() => server.close());

test('/health answers within 100 ms (p95) while a 2048-input request is embedded', async () => {
  const input = Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i} jumps over the lazy dog `.repeat(1 + (i % 4)));
  let done = false;
  const big = fetch(`${baseUrl}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'test/medium', input }),
  }).then(async (response) => {
    done = true;
    assert.equal(response.status, 200);
    assert.equal((await response.json()).data.length, 2048);
  });
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${baseUrl}/health`);
    await response.text();
    if (!done) latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await big;
  latencies.sort((a, b) => a - b);
  const p95 = latencies[Math.floor(latencies.length * 0.95)]!;
  console.log(`health during a 2048-input request: ${latencies.length} probes, p50 ${latencies[latencies.length >> 1]!.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
  assert.ok(latencies.length >= 20, `the request finished too fast to measure (${latencies.length} probes)`);
  assert.ok(p95 <= 100, `p95 ${p95} ms`);
});
