import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { keepLargest, spladeRow, type SpladeOptions } from '../../src/inference/heads/splade.ts';
import { SparseBlobWriter } from '../../src/inference/output/sparse-blob.ts';
import { decodeSparse } from '../../src/model/head-output.ts';
import { staticSparse } from '../../src/inference/heads/sparse-static.ts';
import { tempDir } from '../helpers/app.ts';
import { assertSparseEqual, referenceSplade, referenceStatic, writeSparseModel, type SparseFixture } from '../helpers/sparse-fixture.ts';

/** Texts as token ids ([CLS] … [SEP]) of different lengths, so that a batch pads. */
const TEXTS = [
  [2, 5, 9, 13, 3],
  [2, 40, 41, 42, 43, 44, 45, 46, 47, 48, 3],
  [2, 100, 3],
  [2, 7, 7, 7, 20, 21, 3],
];

/** The graph's logits for a padded batch of `texts`. */
async function logitsOf(fixture: SparseFixture, texts: number[][]) {
  const session = await ort.InferenceSession.create(join(fixture.dir, fixture.onnxPath));
  const seqLen = Math.max(...texts.map((ids) => ids.length));
  const ids = new BigInt64Array(texts.length * seqLen);
  const mask = new BigInt64Array(texts.length * seqLen);
  texts.forEach((text, row) => text.forEach((id, t) => ((ids[row * seqLen + t] = BigInt(id)), (mask[row * seqLen + t] = 1n))));
  const dims = [texts.length, seqLen];
  const { logits } = await session.run({
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), dims),
  });
  await session.release();
  return { data: logits!.data as Float32Array, seqLen, vocab: logits!.dims[2]! };
}

const VARIANTS: SpladeOptions[] = [
  { pooling: 'max', activation: 'relu' },
  { pooling: 'sum', activation: 'relu' },
  { pooling: 'max', activation: 'log1p_relu' },
  { pooling: 'sum', activation: 'log1p_relu' },
];

test('SpladePooling over a tied-embedding MLM graph equals the float64 reference, alone and padded in a batch, for each pooling and activation', async () => {
  const dir = await tempDir('splade');
  try {
    const fixture = await writeSparseModel(dir, 'test/splade', { layout: 'st5' });
    const batched = await logitsOf(fixture, TEXTS);
    for (const options of VARIANTS) {
      for (const [row, ids] of TEXTS.entries()) {
        const reference = referenceSplade(fixture, ids, options);
        assert.ok(reference.indices.length > 3 && reference.indices.length < 100, `a sparse vector: ${reference.indices.length} non-zeros of 128`);
        const alone = await logitsOf(fixture, [ids]);
        assertSparseEqual(spladeRow(alone.data, 0, alone.seqLen, alone.vocab, ids.length, options), reference, `${options.pooling}/${options.activation}, text ${row} alone`);
        assertSparseEqual(spladeRow(batched.data, row, batched.seqLen, batched.vocab, ids.length, options), reference, `${options.pooling}/${options.activation}, text ${row} batched`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('max_active_dims keeps the k weights largest in magnitude, ids ascending; 0 or k past the non-zeros keeps all', async () => {
  const dir = await tempDir('splade');
  try {
    const fixture = await writeSparseModel(dir, 'test/splade', { layout: 'st5' });
    const { data, seqLen, vocab } = await logitsOf(fixture, [TEXTS[1]!]);
    const full = spladeRow(data, 0, seqLen, vocab, TEXTS[1]!.length, VARIANTS[0]!);
    for (const k of [1, 3, 10]) assertSparseEqual(keepLargest(full, k), referenceSplade(fixture, TEXTS[1]!, { maxActiveDims: k }), `k=${k}`);
    assert.equal(keepLargest(full, 0), full);
    assert.equal(keepLargest(full, full.indices.length), full);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const tie = { indices: Int32Array.of(4, 9, 12), values: Float32Array.of(2, 1, 2) };
  assert.deepEqual(Array.from(keepLargest(tie, 1).indices), [4]);
});

test('SparseStaticEmbedding: each distinct token once, times its weight; tokens of weight 0 are left out', () => {
  const weights = Float32Array.of(0, 0, 0, 1.5, 0, 2.25, 0.5, 0);
  const ids = [5, 3, 5, 4, 6, 7, 3];
  const vector = staticSparse(Int32Array.from(ids), weights);
  assert.deepEqual({ indices: Array.from(vector.indices), values: Array.from(vector.values) }, referenceStatic(weights, ids));
  assert.deepEqual(Array.from(vector.indices), [3, 5, 6]);
  assert.deepEqual(Array.from(staticSparse(Int32Array.of(9), weights).indices), [], 'a token past the weights weighs 0');
});

test('sparse blobs (int32 ids, then float32 weights) written back to back decode to the same numbers', () => {
  const writer = new SparseBlobWriter();
  const vector = { indices: Int32Array.of(3, 70, 30000), values: Float32Array.of(0.25, 1.5, 3.0000001) };
  writer.add(vector);
  writer.add({ indices: new Int32Array(0), values: new Float32Array(0) });
  writer.add({ indices: Int32Array.of(9), values: Float32Array.of(-2) });
  const { bytes, ends } = writer.take();
  assert.deepEqual(Array.from(ends), [24, 24, 32]);
  assert.deepEqual(decodeSparse(bytes.subarray(0, 24)), { indices: [3, 70, 30000], values: Array.from(vector.values) });
  assert.deepEqual(decodeSparse(bytes.subarray(24, 24)), { indices: [], values: [] });
  assert.deepEqual(decodeSparse(bytes.subarray(24, 32)), { indices: [9], values: [-2] });
  const unaligned = new Uint8Array(25);
  unaligned.set(bytes.subarray(0, 24), 1);
  assert.deepEqual(decodeSparse(unaligned.subarray(1)), decodeSparse(bytes.subarray(0, 24)));
});
