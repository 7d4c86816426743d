import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxBackend } from '../../src/inference/onnx/onnx-backend.ts';
import { tempDir } from '../helpers/app.ts';
import { referenceForward } from '../helpers/bert-reference.ts';
import { writeFixtureModel } from '../helpers/fixture-model.ts';

const FAKE = new URL('./crashing-worker.ts', import.meta.url).href;
const meanHead = { kind: 'pooled' as const, poolingModes: ['mean' as const], dense: [], normalize: false, unrunnable: undefined, dimensions: 32 };
const setup = { onnxPath: 'unused', intraOpThreads: 1, heads: [meanHead], memoryArena: true, padId: 0 };
/** Per text: the one head, default options. */
const rowsOf = (count: number) => ({ heads: new Uint8Array(count).fill(1), options: { dimensions: new Int32Array(count), base64: new Uint8Array(count) } });

/** Embeds a batch and gathers what the worker sent, run by run: each text's vector, and the rows of each run in order. */
async function embed(backend: OnnxBackend, ids: Int32Array, lengths: Int32Array) {
  const vectors: number[][] = [];
  const runs: number[][] = [];
  let paddedTokens = 0;
  const texts = { ids, lengths, ...rowsOf(lengths.length) };
  await backend.run(texts, ({ outputs: [{ rows, bytes: json, ends }], paddedTokens: computed }) => {
    rows.forEach((row, r) => (vectors[row] = JSON.parse(Buffer.from(json.subarray(r === 0 ? 0 : ends[r - 1], ends[r])).toString())));
    runs.push(Array.from(rows));
    paddedTokens += computed;
  });
  return { vectors, runs, paddedTokens };
}

test('a worker that dies fails the batches it held at once, and is replaced', async () => {
  const backend = await OnnxBackend.start(setup, 1, { entry: FAKE });
  try {
    const fine = await embed(backend, Int32Array.of(5, 6), Int32Array.of(2));
    assert.deepEqual(fine.vectors[0], [5, 2]);
    const started = performance.now();
    await assert.rejects(embed(backend, new Int32Array(999), Int32Array.of(999)), /inference worker exited with code 3/);
    assert.ok(performance.now() - started < 1000);
    let replaced;
    for (let attempt = 0; attempt < 100 && !replaced; attempt++) {
      replaced = await embed(backend, Int32Array.of(7), Int32Array.of(1)).catch(() => undefined);
      if (!replaced) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(replaced!.vectors[0], [7, 1]);
  } finally {
    await backend.close();
  }
});

test('a worker on its last short run is free for the next batch before the batch settles', async () => {
  const backend = await OnnxBackend.start(setup, 1, { entry: FAKE });
  try {
    const texts = { ids: new Int32Array(777).fill(4), lengths: Int32Array.of(777), ...rowsOf(1) };
    let freed = false;
    let settled = false;
    const batch = backend.run(texts, () => undefined, () => (freed = true)).then(() => (settled = true));
    assert.equal(backend.inFlight, 1);
    while (!freed) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(settled, false, 'freed while its batch is still running');
    assert.equal(backend.inFlight, 0, 'free for another batch');
    const next = await embed(backend, Int32Array.of(6), Int32Array.of(1));
    assert.deepEqual(next.vectors[0], [6, 1]);
    await batch;
    assert.equal(backend.inFlight, 0);
  } finally {
    await backend.close();
  }
});

test('while a dead worker is replaced, its sibling takes the batches', async () => {
  const backend = await OnnxBackend.start(setup, 2, { entry: FAKE });
  try {
    await assert.rejects(embed(backend, new Int32Array(999), Int32Array.of(999)), /exited with code 3/);
    const next = await embed(backend, Int32Array.of(8, 9), Int32Array.of(2));
    assert.deepEqual(next.vectors[0], [8, 2]);
  } finally {
    await backend.close();
  }
});

test('a batch split into runs by length gives each text the vector of the reference forward pass; the first text runs first', async (t) => {
  const artifacts = await tempDir('backend');
  t.after(() => rm(artifacts, { recursive: true, force: true }));
  const { dir, weights } = await writeFixtureModel(artifacts, 'test/split');
  const texts = [[2, 9, 3], Array.from({ length: 60 }, (_, t) => 5 + (t % 40)), [2, 17, 18, 3], [2, 3], [2, 40, 41, 42, 43, 3]];
  const expected = texts.map((ids) => {
    const rows = referenceForward(weights, ids);
    return rows[0]!.map((_, d) => rows.reduce((sum, row) => sum + row[d]!, 0) / rows.length);
  });
  // No overhead: every length runs on its own; a huge one: everything in one padded run.
  for (const overheadTokens of [0, 1e9]) {
    const backend = await OnnxBackend.start({ ...setup, onnxPath: join(dir, 'onnx/model.onnx'), overheadTokens }, 1);
    try {
      const { vectors, runs, paddedTokens } = await embed(backend, Int32Array.from(texts.flat()), Int32Array.from(texts, (ids) => ids.length));
      // Lengths 3, 60, 4, 2, 6: run apart, no padding (75 tokens), text 0 first, then by length; in one run, 5 × 60.
      assert.equal(paddedTokens, overheadTokens === 0 ? 75 : 300);
      assert.deepEqual(runs, overheadTokens === 0 ? [[0], [3], [2], [4], [1]] : [[3, 0, 2, 4, 1]]);
      expected.forEach((vector, row) => {
        const actual = vectors[row]!;
        assert.ok(Math.max(...vector.map((value, d) => Math.abs(value - actual[d]!))) < 1e-4, `overhead ${overheadTokens}, text ${row}`);
      });
    } finally {
      await backend.close();
    }
  }
});

test('closing during a long batch ends after the run in progress: the rest fails at once, and the process lives on', async (t) => {
  const artifacts = await tempDir('backend-close');
  t.after(() => rm(artifacts, { recursive: true, force: true }));
  const { dir } = await writeFixtureModel(artifacts, 'test/long', { shape: { layers: 4, hidden: 256, heads: 4, intermediate: 1024, maxPositions: 512 } });
  // No overhead: each of the 400 lengths is a run of its own, seconds in all.
  const backend = await OnnxBackend.start({ ...setup, onnxPath: join(dir, 'onnx/model.onnx'), overheadTokens: 0 }, 1);
  const lengths = Int32Array.from({ length: 400 }, (_, i) => i + 2);
  const running = assert.rejects(embed(backend, new Int32Array(lengths.reduce((a, b) => a + b, 0)).fill(5), lengths), /shutting down/);
  const queued = assert.rejects(embed(backend, Int32Array.of(2, 3), Int32Array.of(2)), /shutting down/);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  await backend.close();
  assert.ok(performance.now() - started < 2000, `close took ${performance.now() - started} ms`);
  await running;
  await queued;
});

test("each text gets the heads it asks for, from one run that fetches what they all read", async (t) => {
  const artifacts = await tempDir('backend-heads');
  t.after(() => rm(artifacts, { recursive: true, force: true }));
  const { dir, weights } = await writeFixtureModel(artifacts, 'test/heads');
  const texts = [[2, 9, 3], [2, 17, 18, 3], [2, 40, 41, 42, 43, 3]];
  const reference = texts.map((ids) => {
    const rows = referenceForward(weights, ids);
    return { mean: rows[0]!.map((_, d) => rows.reduce((sum, row) => sum + row[d]!, 0) / rows.length), cls: rows[0]! };
  });
  const clsHead = { ...meanHead, poolingModes: ['cls' as const] };
  // A huge overhead: the three texts run together.
  const backend = await OnnxBackend.start({ ...setup, heads: [meanHead, clsHead], onnxPath: join(dir, 'onnx/model.onnx'), overheadTokens: 1e9 }, 1);
  try {
    const runs: { head: number; rows: number[]; vectors: number[][] }[][] = [];
    const lengths = Int32Array.from(texts, (ids) => ids.length);
    // Text 0 wants the mean head, text 1 the cls head, text 2 both.
    const wanted = { heads: Uint8Array.of(0b01, 0b10, 0b11), options: { dimensions: new Int32Array(3), base64: new Uint8Array(3) } };
    await backend.run({ ids: Int32Array.from(texts.flat()), lengths, ...wanted }, ({ outputs }) => {
      runs.push(outputs.map(({ head, rows, bytes, ends }) => ({
        head,
        rows: Array.from(rows),
        vectors: Array.from(rows, (_, r) => JSON.parse(Buffer.from(bytes.subarray(r === 0 ? 0 : ends[r - 1], ends[r])).toString()) as number[]),
      })));
    });
    assert.equal(runs.length, 1, 'one run');
    assert.deepEqual(runs[0]!.map(({ head, rows }) => [head, rows]), [[0, [0, 2]], [1, [1, 2]]]);
    const close = (actual: number[], expected: ArrayLike<number>, what: string) => assert.ok(Math.max(...Array.from(expected, (value, d) => Math.abs(value - actual[d]!))) < 1e-4, what);
    const [mean, cls] = runs[0]!;
    close(mean!.vectors[0]!, reference[0]!.mean, 'text 0, mean');
    close(mean!.vectors[1]!, reference[2]!.mean, 'text 2, mean');
    close(cls!.vectors[0]!, reference[1]!.cls, 'text 1, cls');
    close(cls!.vectors[1]!, reference[2]!.cls, 'text 2, cls');
  } finally {
    await backend.close();
  }
});
