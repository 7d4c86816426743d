import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTorchStateDict } from '../../src/inference/files/torch-state-dict.ts';
import { asHalf, torchSaveBytes } from '../helpers/torch-pt.ts';

const FIXTURES = new URL('../fixtures/torch/', import.meta.url).pathname;
const expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, Record<string, { shape: number[]; values: number[] }>>;

const plain = (tensors: Map<string, { shape: number[]; data: Float32Array }>) =>
  Object.fromEntries([...tensors].map(([name, { shape, data }]) => [name, { shape, values: [...data] }]));

test("a Linear's float16 state dict written by torch.save (as bge-m3's heads are) reads as torch.load gives it", async () => {
  const tensors = await readTorchStateDict(join(FIXTURES, 'linear-f16.pt'));
  assert.deepEqual(plain(tensors), expected['linear-f16.pt']);
});

test('float32, bfloat16 and float64 tensors, a strided view into a shared storage and a 0-d tensor read exactly', async () => {
  const tensors = await readTorchStateDict(join(FIXTURES, 'mixed.pt'));
  assert.deepEqual(plain(tensors), expected['mixed.pt']);
});

test('what the reader cannot read is refused with the command that converts it to safetensors', async () => {
  for (const [file, why] of [
    ['legacy.pt', /not torch's ZIP format/],
    ['not-tensors.pt', /entry steps is not a tensor/],
    ['int64.pt', /holds a torch\.LongStorage; this reader reads FloatStorage, HalfStorage, BFloat16Storage, DoubleStorage/],
  ] as const) {
    const path = join(FIXTURES, file);
    await assert.rejects(readTorchStateDict(path), (error: Error) => {
      assert.match(error.message, why);
      assert.ok(error.message.startsWith(`${path}: `), error.message);
      assert.ok(error.message.includes(`save_file({k: v.float().contiguous() for k, v in torch.load('${path}'`), error.message);
      assert.ok(error.message.endsWith(`'${join(FIXTURES, file.replace('.pt', '.safetensors'))}')"`), error.message);
      return true;
    });
  }
});

test('a pickle that calls anything but the rebuild of a tensor is refused, never run', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'torch-pt-'));
  try {
    const path = join(dir, 'evil.pt');
    await writeFile(path, torchSaveBytes({ weight: { shape: [2], data: Float32Array.of(1, 2) } }, 'archive', ['os', 'system']));
    await assert.rejects(readTorchStateDict(path), /evil\.pt: its pickle calls os\.system, which a plain state dict of float tensors does not; convert it/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a file cut short or with a storage of the wrong size is an error naming it, not a read past its end', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'torch-pt-'));
  try {
    const bytes = torchSaveBytes({ weight: { shape: [2, 3], data: new Float32Array(6).fill(0.5) } });
    const cut = join(dir, 'cut.pt');
    await writeFile(cut, bytes.subarray(0, bytes.length - 30));
    await assert.rejects(readTorchStateDict(cut), /cut\.pt: it is not a ZIP archive|cut\.pt: its central directory/);
    const short = join(dir, 'short.pt');
    await writeFile(short, torchSaveBytes({ weight: { shape: [2, 3], data: new Float32Array(4).fill(0.5) } }));
    await assert.rejects(readTorchStateDict(short), /short\.pt: tensor weight reads past its storage \(4 elements\)/);
    const infinite = join(dir, 'infinite.pt');
    await writeFile(infinite, torchSaveBytes({ weight: { shape: [2], data: Float32Array.of(1, Infinity) } }));
    await assert.rejects(readTorchStateDict(infinite), /infinite\.pt: tensor weight holds Infinity at index 1 of 2: weights must be finite numbers/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("the test helper's torch.save files read back as written, float16 rounded as torch rounds it", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'torch-pt-'));
  try {
    const weight = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) / 3);
    const path = join(dir, 'colbert_linear.pt');
    await writeFile(path, torchSaveBytes({ weight: { shape: [3, 4], data: weight, half: true }, bias: { shape: [3], data: Float32Array.of(0.25, -1, 3) } }, 'colbert_linear'));
    const tensors = await readTorchStateDict(path);
    assert.deepEqual(plain(tensors), { weight: { shape: [3, 4], values: [...asHalf(weight)] }, bias: { shape: [3], values: [0.25, -1, 3] } });
  } finally {
    await rm(dir, { recursive: true });
  }
});
