import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_FLOAT_TEXT_BYTES, writeFloatText } from '../../src/inference/output/float-text.ts';
import { VectorJsonWriter } from '../../src/inference/output/vector-text.ts';
import { floatTextMismatch } from '../helpers/float-text.ts';

const out = new Uint8Array(64);
const textOf = (value: number) => Buffer.from(out.subarray(0, writeFloatText(value, out, 0))).toString('latin1');
const floatOfBits = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

/** Deterministic pseudo-random 32-bit values. */
function* randomBits(count: number, seed: number) {
  for (let index = 0; index < count; index++) yield (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
}

test('a float32 is written as JSON.stringify writes it: edge values', () => {
  const edges = [
    0, -0, NaN, Infinity, -Infinity, 1, -1, 0.5, 0.1, 0.2, 0.3, 1.5, 3, 10, 100, 1e6, 123456.789, -0.007614332251250744,
    2 ** -19, 2 ** -19 * 1.0000001, 2 ** 20, 2 ** 20 * 0.9999999, 1e-6, 1.5e-6, 2e-6, 9.999e-7, 0.000123, 0.9999999, 1.0000001,
    floatOfBits(1), floatOfBits(0x007fffff), floatOfBits(0x00800000), floatOfBits(0x7f7fffff), floatOfBits(0x7fc00000),
  ];
  for (let exponent = -30; exponent <= 30; exponent++) edges.push(2 ** exponent, 10 ** exponent, 2 ** exponent * 1.75, 10 ** exponent * 1.5);
  for (const edge of edges) {
    const value = Math.fround(edge);
    assert.equal(textOf(value), JSON.stringify(value), `bits ${new Uint32Array(Float32Array.of(value).buffer)[0]!.toString(16)}`);
    assert.equal(textOf(-value), JSON.stringify(-value));
  }
});

test('a float32 is written as JSON.stringify writes it: 2 million bit patterns', () => {
  const mismatches: string[] = [];
  const check = (bits: number) => {
    const mismatch = floatTextMismatch(bits);
    if (mismatch !== undefined && mismatches.length < 5) mismatches.push(mismatch);
  };
  for (const bits of randomBits(1_000_000, 1)) check(bits);
  // Normalised embeddings live in 2^-12 < |x| < 1: the same bits, in that range.
  for (const bits of randomBits(1_000_000, 2)) check((bits & 0x807fffff) | ((115 + (bits % 12)) << 23));
  assert.deepEqual(mismatches, []);
});

test('no float32 text is longer than MAX_FLOAT_TEXT_BYTES, counting the digits written past its end', () => {
  const guarded = new Uint8Array(MAX_FLOAT_TEXT_BYTES + 8).fill(255);
  for (const bits of randomBits(200_000, 3)) writeFloatText(floatOfBits(bits), guarded, 0);
  for (const value of [-1.2345678e-6, -0.0000019999999, -1.1754943508222875e-38, -3.4028234663852886e38]) writeFloatText(value, guarded, 0);
  assert.ok(guarded.subarray(MAX_FLOAT_TEXT_BYTES).every((byte) => byte === 255));
});

test('vectors come out as JSON arrays or base64 strings, back to back, with where each ends', () => {
  const writer = new VectorJsonWriter();
  const vectors = [Float32Array.of(0.25, -0.1, 3e-7), new Float32Array(2000).map((_, index) => Math.sin(index) / 7), Float32Array.of(1, 2)];
  writer.add(vectors[0]!, 'float');
  writer.add(vectors[1]!, 'float'); // past the first scratch buffer's size: it grows
  writer.add(vectors[2]!, 'base64');
  const { bytes: json, ends } = writer.take();
  const texts = Array.from(ends, (end, index) => Buffer.from(json.subarray(index === 0 ? 0 : ends[index - 1], end)).toString('latin1'));
  assert.equal(texts[0], JSON.stringify(Array.from(vectors[0]!)));
  assert.equal(texts[1], JSON.stringify(Array.from(vectors[1]!)));
  assert.equal(texts[2], JSON.stringify(Buffer.from(vectors[2]!.buffer).toString('base64')));
  assert.equal(json.byteLength, ends[2]);

  writer.add(Float32Array.of(0.5), 'float'); // a take starts afresh
  const next = writer.take();
  assert.equal(Buffer.from(next.bytes).toString(), '[0.5]');
  assert.deepEqual(Array.from(next.ends), [5]);
});
