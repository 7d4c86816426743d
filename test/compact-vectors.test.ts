import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { calibrationRanges, quantize, quantizedValues, dtypeBytes, type CompactDtype } from '../src/inference/output/quantize.ts';

/** sentence-transformers' quantize_embeddings over seeded vectors (test/fixtures/make-quantize-reference.py). */
const reference = JSON.parse(readFileSync(new URL('fixtures/quantize-reference.json', import.meta.url), 'utf8')) as Record<string, number[][]> & {
  odd: number[];
  odd_binary: number[];
  odd_ubinary: number[];
  starts: number[];
  steps: number[];
};
const calibration = reference.calibration!.map((row) => Float32Array.from(row));
const embeddings = reference.embeddings!.map((row) => Float32Array.from(row));

const values = (vector: Float32Array, dtype: CompactDtype, ranges = calibrationRanges(calibration, vector.length)) =>
  Array.from(quantizedValues(quantize(vector, dtype, ranges, new Uint8Array(dtypeBytes(dtype, vector.length))), dtype));

test('int8, uint8, binary and ubinary bytes equal quantize_embeddings with the same calibration vectors', () => {
  for (const dtype of ['int8', 'uint8', 'binary', 'ubinary'] as const) {
    assert.deepEqual(embeddings.map((vector) => values(vector, dtype)), reference[dtype], dtype);
  }
});

test('the ranges are the calibration vectors\' per-dimension minimum and float32 step, as numpy computes them', () => {
  const ranges = calibrationRanges(calibration, 24);
  assert.deepEqual(Array.from(ranges.starts), reference.starts);
  assert.deepEqual(Array.from(ranges.steps), reference.steps);
});

test('binary of a vector whose length is not a multiple of 8 is padded with 0 bits, as packbits pads one vector', () => {
  const odd = Float32Array.from(reference.odd);
  assert.equal(dtypeBytes('binary', odd.length), 2);
  assert.deepEqual(values(odd, 'binary'), reference.odd_binary);
  assert.deepEqual(values(odd, 'ubinary'), reference.odd_ubinary);
});

test('int8 and uint8 clamp values outside the calibration ranges to the ends (numpy would wrap around); a one-value range splits at its value', () => {
  const ranges = { starts: Float32Array.of(-1, -1), steps: Float32Array.of(Math.fround(2 / 255), 0) };
  assert.deepEqual(values(Float32Array.of(5, -1), 'int8', ranges), [127, -128]);
  assert.deepEqual(values(Float32Array.of(-5, 0), 'uint8', ranges), [0, 255]);
  assert.deepEqual(values(Float32Array.of(1.5, -3), 'uint8', ranges), [255, 0]);
});
