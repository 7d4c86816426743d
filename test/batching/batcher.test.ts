import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher, type BatchBackend } from '../../src/batching/batcher.ts';
import { RunMemory } from '../../src/batching/run-memory.ts';
import type { BatchTexts, RunRows } from '../../src/inference/onnx/protocol.ts';
import { VectorJsonWriter } from '../../src/inference/output/vector-text.ts';

const parse = (json: Uint8Array) => JSON.parse(Buffer.from(json).toString());
/** A request's blobs of the one head it wants (the first, by default). */
const firstHead = ([blobs]: Uint8Array[][]) => blobs!;

/** A deterministic stand-in for the inference workers: each vector is [first id, length]. */
class FakeBackend implements BatchBackend {
  readonly batches: number[][] = [];
  /** Each batch's texts by their first token id, in row order. */
  readonly firstIds: number[][] = [];
  inFlight = 0;
  capacity = 1;
  failNext = false;

  async run({ ids, lengths }: BatchTexts, onRows: (rows: RunRows) => void) {
    this.inFlight++;
    this.batches.push(Array.from(lengths));
    const firsts: number[] = [];
    for (let row = 0, offset = 0; row < lengths.length; offset += lengths[row]!, row++) firsts.push(ids[offset]!);
    this.firstIds.push(firsts);
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.inFlight--;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('worker died');
    }
    const texts = new VectorJsonWriter();
    firsts.forEach((first, row) => texts.add(Float32Array.of(first, lengths[row]!), 'float'));
    const { bytes, ends } = texts.take();
    onRows({ outputs: [{ head: 0, rows: Int32Array.from(lengths, (_, row) => row), bytes, ends }], paddedTokens: lengths.length * Math.max(...lengths), runSeconds: 0 });
  }
}

const sequence = (first: number, length: number) => Int32Array.from({ length }, (_, i) => (i === 0 ? first : 7));

test('vectors come back in request order, whatever the batches were', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 64, maxBatchSize: 4 });
  const lengths = [9, 1, 5, 3, 8, 2, 7, 4, 6];
  const embeddings = await batcher.submit(lengths.map((length, i) => sequence(100 + i, length))).then(firstHead);
  assert.deepEqual(embeddings.map(parse), lengths.map((length, i) => [100 + i, length]));
});

test('batches respect the padded-token budget and the size cap, and group similar lengths', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 40, maxBatchSize: 4 });
  const lengths = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 20));
  await Promise.all([batcher.submit(lengths.slice(0, 20).map((l) => sequence(1, l))).then(firstHead), batcher.submit(lengths.slice(20).map((l) => sequence(2, l))).then(firstHead)]);
  let padded = 0;
  for (const batch of backend.batches) {
    assert.ok(batch.length <= 4, `size ${batch.length}`);
    assert.ok(batch.length * Math.max(...batch) <= 40 || batch.length === 1, `padded ${batch.length * Math.max(...batch)}`);
    padded += batch.length * Math.max(...batch);
  }
  const real = lengths.reduce((a, b) => a + b, 0);
  assert.ok(padded / real < 1.25, `padding overhead ${padded / real}`);
});

test('requests arriving while the executor is busy, or in the same turn, share the next batch', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 512, maxBatchSize: 16 });
  const first = [batcher.submit([sequence(1, 4)]).then(firstHead), batcher.submit([sequence(2, 4)]).then(firstHead)];
  await new Promise((resolve) => setImmediate(resolve));
  // The executor is busy with the first two: the next three wait for it, then go together.
  const rest = [3, 4, 5].map((id) => batcher.submit([sequence(id, 4)]).then(firstHead));
  await Promise.all([...first, ...rest]);
  assert.deepEqual(backend.batches, [[4, 4], [4, 4, 4]]);
});

test('a lone request on idle workers is spread over them; with one worker free, its inputs go in one batch', async () => {
  const backend = new FakeBackend();
  backend.capacity = 2;
  const batcher = new Batcher(backend, { maxBatchTokens: 4096, maxBatchSize: 32 });
  const lengths = Array.from({ length: 20 }, (_, i) => 10 + (i % 5));
  const embeddings = await batcher.submit(lengths.map((length, i) => sequence(100 + i, length))).then(firstHead);
  assert.deepEqual(embeddings.map(parse), lengths.map((length, i) => [100 + i, length]));
  assert.deepEqual(backend.batches.map((batch) => batch.length), [10, 10], 'two idle workers: half each');
  // A worker busy: what waits goes to the other one whole.
  backend.batches.length = 0;
  backend.inFlight = 1;
  await batcher.submit(lengths.map((length, i) => sequence(200 + i, length))).then(firstHead);
  assert.deepEqual(backend.batches.map((batch) => batch.length), [20]);
});

test('single-text requests anchor batches in arrival order: one of an unusual length is not passed over', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 512, maxBatchSize: 2 });
  const busy = batcher.submit([sequence(1, 4)]).then(firstHead);
  await new Promise((resolve) => setImmediate(resolve));
  // While the executor is busy: a long text first, then twenty short ones that pair up with each other.
  const long = batcher.submit([sequence(2, 30)]).then(firstHead);
  const short = Array.from({ length: 20 }, (_, i) => batcher.submit([sequence(10 + i, 5)]).then(firstHead));
  await Promise.all([busy, long, ...short]);
  assert.equal(backend.firstIds[1]![0], 2, `batches by first id: ${JSON.stringify(backend.firstIds)}`);
  // The short ones anchor in the order they came.
  const anchors = backend.firstIds.slice(2).map((ids) => ids[0]!);
  assert.deepEqual(anchors, [...anchors].sort((a, b) => a - b));
});

test('a single-text request is not held up behind a 2048-input request', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 512, maxBatchSize: 16 });
  const big = batcher.submit(Array.from({ length: 2048 }, (_, i) => sequence(1, 8 + (i % 50)))).then(firstHead);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const batchesBefore = backend.batches.length;
  const [embedding] = await batcher.submit([sequence(42, 10)]).then(firstHead);
  assert.deepEqual(parse(embedding!), [42, 10]);
  const waited = backend.batches.length - batchesBefore;
  assert.ok(waited <= 4, `the query waited for ${waited} batches`);
  // It anchored its batch, and the anchor is row 0: the worker runs its run first.
  assert.equal(backend.firstIds.find((ids) => ids.includes(42))![0], 42);
  assert.equal((await big).length, 2048);
});

test('a failed batch rejects every request in it; the others still complete', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 1000, maxBatchSize: 2 });
  backend.failNext = true;
  const results = await Promise.allSettled([
    batcher.submit([sequence(1, 5), sequence(1, 5)]).then(firstHead),
    batcher.submit([sequence(2, 5)]).then(firstHead),
    batcher.submit([sequence(3, 30)]).then(firstHead),
  ]);
  assert.equal(results[0]!.status, 'rejected');
  assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
  assert.ok(results.slice(1).every((r) => r.status === 'fulfilled'));
});

test('an aborted request is dropped from the queue, not computed', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 64, maxBatchSize: 2 });
  const controller = new AbortController();
  const blocked = batcher.submit([sequence(1, 4), sequence(1, 4)]).then(firstHead);
  const dropped = batcher.submit(Array.from({ length: 50 }, () => sequence(9, 4)), { signal: controller.signal }).then(firstHead);
  controller.abort(new Error('client went away'));
  await assert.rejects(dropped, /client went away/);
  await blocked;
  const computed = backend.batches.flat().length;
  assert.ok(computed <= 2 + 4, `${computed} sequences computed`);
  assert.equal(batcher.queuedSequences, 0);
});

test('admission keeps a quarter of the queue for small requests: bulk requests fill three quarters, a query still gets in', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 64, maxBatchSize: 4, maxQueued: 400 });
  const releases = [batcher.admit(150), batcher.admit(150)];
  assert.throws(() => batcher.admit(100), /already waiting/, 'a large request past three quarters of the queue');
  assert.equal(batcher.wouldAdmit(33), false);
  releases.push(batcher.admit(32), batcher.admit(32), batcher.admit(32), batcher.admit(1));
  assert.throws(() => batcher.admit(4), /already waiting/, 'a small request past the whole queue');
  for (const release of releases) release();
  assert.equal(batcher.wouldAdmit(2048), true, 'any request fits an empty queue');
});

test("a query anchors the next batch ahead of waiting bulk requests, in a batch of small requests' inputs only", async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 64, maxBatchSize: 4 });
  const bulk = [1, 2, 3].map((id) => batcher.submit(Array.from({ length: 100 }, () => sequence(id, 6))).then(firstHead));
  await new Promise((resolve) => setTimeout(resolve, 3));
  const queries = [batcher.submit([sequence(42, 6)]).then(firstHead), batcher.submit([sequence(43, 6)]).then(firstHead)];
  const started = backend.batches.length;
  await Promise.all(queries);
  const queryBatch = backend.firstIds.findIndex((ids) => ids.includes(42));
  assert.ok(queryBatch - started <= 1, `the queries waited for ${queryBatch - started} batches`);
  assert.deepEqual(backend.firstIds[queryBatch], [42, 43], 'their batch holds no bulk inputs');
  await Promise.all(bulk);
});

test('while queries keep coming, bulk batches are small; a flood of queries cannot starve a bulk request', async () => {
  const backend = new FakeBackend();
  const batcher = new Batcher(backend, { maxBatchTokens: 1024, maxBatchSize: 32 });
  const bulk = batcher.submit(Array.from({ length: 200 }, () => sequence(1, 16))).then(firstHead);
  let stop = false;
  const flood = (async () => {
    for (let i = 0; !stop; i++) await Promise.all(Array.from({ length: 8 }, (_, k) => batcher.submit([sequence(100 + k, 16)]).then(firstHead)));
  })();
  await bulk;
  stop = true;
  await flood;
  const bulkBatches = backend.firstIds.filter((ids) => ids[0] === 1);
  // Beside queries a bulk batch holds at most 128 padded tokens (8 inputs of 16), not the budget's 32.
  assert.ok(bulkBatches.slice(1).every((ids) => ids.length * 16 <= 128), `bulk batch sizes ${bulkBatches.map((ids) => ids.length)}`);
  assert.ok(bulkBatches.length >= 200 / 8, 'the bulk request finished while the flood went on');
});

test('runs wait while those in flight hold the memory for runs; shorter ones go meanwhile, and one larger than it all still runs alone', async () => {
  const backend = new FakeBackend();
  backend.capacity = 3;
  const starts: number[][] = [];
  let longInFlight = 0;
  let mostLongInFlight = 0;
  const run = backend.run.bind(backend);
  backend.run = async (texts, onRows) => {
    const long = Math.max(...texts.lengths) >= 100;
    starts.push(Array.from(texts.lengths));
    longInFlight += long ? 1 : 0;
    mostLongInFlight = Math.max(mostLongInFlight, longInFlight);
    try {
      await run(texts, onRows);
    } finally {
      longInFlight -= long ? 1 : 0;
    }
  };
  const budget = new RunMemory(15_000);
  // A run's peak here: batch × longest²; one 100-token input takes 10 000, two would take 20 000.
  const batcher = new Batcher(backend, { maxBatchTokens: 512, maxBatchSize: 16 }, undefined, { budget, peakBytes: (batch, longest) => batch * longest * longest });
  const answers = await Promise.all([batcher.submit([sequence(1, 100)]).then(firstHead), batcher.submit([sequence(2, 100)]).then(firstHead), batcher.submit([sequence(3, 4)]).then(firstHead)]);
  assert.deepEqual(answers.map(([json]) => parse(json!)), [[1, 100], [2, 100], [3, 4]]);
  assert.equal(mostLongInFlight, 1, 'the two long inputs never ran at once');
  assert.deepEqual(starts, [[100], [4], [100]], 'the short one went while the first long one ran');
  // A run larger than the whole budget runs, alone, rather than never.
  const huge = new Batcher(backend, { maxBatchTokens: 512, maxBatchSize: 16 }, undefined, { budget: new RunMemory(100), peakBytes: (batch, longest) => batch * longest * longest });
  assert.deepEqual((await huge.submit([sequence(4, 100)]).then(firstHead)).map(parse), [[4, 100]]);
});
