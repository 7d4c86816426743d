import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnnxBackend } from '../../src/inference/onnx-backend.ts';

const FAKE = new URL('./crashing-worker.ts', import.meta.url).href;
const setup = { onnxPath: 'unused', intraOpThreads: 1, poolingModes: ['mean' as const], padId: 0 };

test('a worker that dies fails the batches it held at once, and is replaced', async () => {
  const backend = await OnnxBackend.start(setup, 1, FAKE);
  try {
    const fine = await backend.embed(Int32Array.of(5, 6), Int32Array.of(2));
    assert.deepEqual(Array.from(fine.embeddings), [5, 2]);
    const started = performance.now();
    await assert.rejects(backend.embed(new Int32Array(999), Int32Array.of(999)), /inference worker exited with code 3/);
    assert.ok(performance.now() - started < 1000);
    let replaced;
    for (let attempt = 0; attempt < 100 && !replaced; attempt++) {
      replaced = await backend.embed(Int32Array.of(7), Int32Array.of(1)).catch(() => undefined);
      if (!replaced) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(Array.from(replaced!.embeddings), [7, 1]);
  } finally {
    await backend.close();
  }
});
