import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { CALIBRATION_TEXTS } from '../src/inference/output/calibration-texts.ts';
import { calibrationRanges, quantize, quantizedValues, dtypeBytes, type CompactDtype, type Int8Ranges } from '../src/inference/output/quantize.ts';
import { startTestApp, type TestServer } from './helpers/app.ts';

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

describe('compact vectors on the routes', () => {
  const MODELS = { 'test/unit': {}, 'test/raw': { normalize: false } };
  let server: TestServer;
  before(async () => {
    server = await startTestApp(MODELS);
  });
  after(() => server.close());

  const post = async (url: string, payload: Record<string, unknown>) => {
    const response = await server.app.inject({ method: 'POST', url, payload });
    assert.equal(response.statusCode, 200, response.body);
    return response.json();
  };
  const openAi = async (model: string, input: string[], extra: Record<string, unknown> = {}) =>
    ((await post('/v1/embeddings', { model, input, ...extra })) as { data: { embedding: unknown }[] }).data.map((item) => item.embedding);
  const ranges = async (model: string): Promise<Int8Ranges> => {
    const { int8_ranges } = (await server.app.inject({ url: `/v1/models/${model}` })).json() as { int8_ranges: { starts: number[]; steps: number[] } };
    return { starts: Float32Array.from(int8_ranges.starts), steps: Float32Array.from(int8_ranges.steps) };
  };

  /** quantize_embeddings' ubinary, written out independently: a bit per value > 0, most significant first. */
  const ubinaryOf = (vector: number[]) => Array.from({ length: Math.ceil(vector.length / 8) }, (_, byte) => vector.slice(byte * 8, byte * 8 + 8).reduce((bits, value, bit) => bits | (value > 0 ? 0x80 >> bit : 0), 0));

  test('GET /models/{id} shows the int8 ranges: the minimum and (max − min) / 255 of the calibration texts\' vectors', async () => {
    for (const model of Object.keys(MODELS)) {
      const { starts, steps } = await ranges(model);
      const vectors = (await openAi(model, CALIBRATION_TEXTS)) as number[][];
      assert.equal(starts.length, 32);
      for (let dimension = 0; dimension < 32; dimension++) {
        const column = vectors.map((vector) => vector[dimension]!);
        const [low, high] = [Math.min(...column), Math.max(...column)];
        assert.ok(Math.abs(starts[dimension]! - low) < 1e-6, `${model} ${dimension}: ${starts[dimension]} vs ${low}`);
        assert.ok(Math.abs(steps[dimension]! - (high - low) / 255) < 1e-7, `${model} ${dimension}`);
      }
    }
    // The list stays small: the ranges are on the model's own page.
    const list = (await server.app.inject({ url: '/v1/models' })).json() as { data: Record<string, unknown>[] };
    assert.ok(list.data.every((model) => !('int8_ranges' in model)));
  });

  test('Cohere embedding_types: every type of the same vectors from one submission, binary/ubinary bit-exact, int8/uint8 by the shown ranges', async () => {
    const texts = ['hello world', 'the quick brown fox jumps over the lazy dog', 'a'];
    const served = await server.registry.resolve('test/unit')!.loaded;
    const submit = served.runtime.submit.bind(served.runtime);
    let submissions = 0;
    served.runtime.submit = (...args) => (submissions++, submit(...args));
    const types = ['float', 'int8', 'uint8', 'binary', 'ubinary', 'base64'];
    const body = (await post('/v2/embed', { model: 'test/unit', texts, input_type: 'search_document', embedding_types: types })) as { embeddings: Record<string, unknown[]> };
    served.runtime.submit = submit;
    assert.equal(submissions, 1);
    assert.deepEqual(Object.keys(body.embeddings), types);
    const floats = body.embeddings.float as number[][];
    assert.deepEqual(floats, await openAi('test/unit', texts));
    const unit = await ranges('test/unit');
    floats.forEach((vector, index) => {
      const ubinary = ubinaryOf(vector);
      assert.deepEqual(body.embeddings.ubinary![index], ubinary);
      assert.deepEqual(body.embeddings.binary![index], ubinary.map((byte) => byte - 128));
      const float32 = Float32Array.from(vector);
      for (const dtype of ['int8', 'uint8'] as const) {
        assert.deepEqual(body.embeddings[dtype]![index], Array.from(quantizedValues(quantize(float32, dtype, unit, new Uint8Array(32)), dtype)), dtype);
      }
    });
  });

  test('int8 and binary bytes of a text are the same whatever else is in its batch', async () => {
    const text = 'the lazy dog sat on the mat';
    const others = Array.from({ length: 40 }, (_, index) => `${'vector search query document '.repeat(1 + (index % 5))}${index}`);
    const alone = await openAi('test/unit', [text], { encoding_format: 'int8' });
    const [withOthers, ...rest] = await Promise.all([
      openAi('test/unit', [...others.slice(0, 20), text, ...others.slice(20)], { encoding_format: 'int8' }),
      openAi('test/unit', others, { encoding_format: 'int8' }),
      openAi('test/unit', others.slice(5), { encoding_format: 'binary' }),
    ]);
    assert.equal(rest.length, 2);
    assert.deepEqual(withOthers![20], alone[0]);
    const binaryAlone = await openAi('test/unit', [text], { encoding_format: 'binary' });
    const binaryWithOthers = await openAi('test/unit', [...others, text], { encoding_format: 'binary' });
    assert.deepEqual(binaryWithOthers[40], binaryAlone[0]);
  });

  test('OpenAI route: encoding_format int8 (extension); Voyage output_dtype with base64 bytes; Jina embedding_type list; after dimensions', async () => {
    const texts = ['hello world', 'a'];
    const floats = (await openAi('test/unit', texts, { dimensions: 12 })) as number[][];
    const ubinary = (await openAi('test/unit', texts, { dimensions: 12, encoding_format: 'ubinary' })) as number[][];
    assert.deepEqual(ubinary, floats.map(ubinaryOf));
    assert.equal(ubinary[0]!.length, 2);
    const voyage = (await openAi('test/unit', texts, { output_dimension: 12, output_dtype: 'binary', encoding_format: 'base64' })) as string[];
    assert.deepEqual(voyage.map((text) => Array.from(new Int8Array(Buffer.from(text, 'base64')))), ubinary.map((bytes) => bytes.map((byte) => byte - 128)));
    const int8 = (await openAi('test/unit', texts, { dimensions: 12, encoding_format: 'int8' })) as number[][];
    assert.ok(int8.every((vector) => vector.length === 12 && vector.every((value) => Number.isInteger(value) && value >= -128 && value <= 127)));
    const jina = (await openAi('test/unit', texts, { dimensions: 12, embedding_type: ['float', 'ubinary', 'int8'] })) as Record<string, number[]>[];
    assert.deepEqual(jina, floats.map((vector, index) => ({ float: vector, ubinary: ubinary[index], int8: int8[index] })));
  });

  test("Jina's normalized: true normalises a model's raw vectors, false gives a normalising model's raw ones", async () => {
    const norm = (vector: number[]) => Math.hypot(...vector);
    const [raw] = (await openAi('test/raw', ['hello world'])) as number[][];
    const [normalised] = (await openAi('test/raw', ['hello world'], { normalized: true })) as number[][];
    assert.notEqual(norm(raw!).toFixed(3), '1.000');
    assert.ok(Math.abs(norm(normalised!) - 1) < 1e-6);
    normalised!.forEach((value, index) => assert.ok(Math.abs(value - raw![index]! / norm(raw!)) < 1e-6));
    const [unit] = (await openAi('test/unit', ['hello world'])) as number[][];
    const [unnormalised] = (await openAi('test/unit', ['hello world'], { normalized: false })) as number[][];
    assert.ok(Math.abs(norm(unnormalised!) - 1) > 1e-3);
    unit!.forEach((value, index) => assert.ok(Math.abs(value - unnormalised![index]! / norm(unnormalised!)) < 1e-6));
  });
});
