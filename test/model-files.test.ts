/**
 * Model files that lie (a Dense module's model.safetensors, modules.json, an ONNX graph's
 * external-data names) are refused at start, naming the model and the file, rather than served
 * as vectors of null (float) or NaN (base64), or read from outside the model's folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { describeModel } from '../src/inference/files/model-files.ts';
import { externalDataFilesOf } from '../src/inference/files/onnx-external-data.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { Registry } from '../src/registry.ts';
import { tempDir } from './helpers/app.ts';
import { safetensorsFile, writeFixtureModel } from './helpers/fixture-model.ts';

const { onnx } = onnxProto;

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;

/** A safetensors file's header and data, to tamper with. */
function parts(file: Buffer): { header: Header; data: Buffer } {
  const length = Number(file.readBigUInt64LE(0));
  return { header: JSON.parse(file.subarray(8, 8 + length).toString('utf8')) as Header, data: file.subarray(8 + length) };
}

let dir: string;
before(async () => {
  dir = await tempDir('model-files');
});
after(() => rm(dir, { recursive: true, force: true }));

const spec = (repo: string) => parseModelsFile(`${repo} alias=${repo.split('/')[1]}`, 'models.txt')[0]!;

/** Opens the models as the server does; the first load's error, or none. */
async function loadError(repos: string[]): Promise<Error | undefined> {
  const registry = await Registry.open(repos.map(spec), { artifactsDir: dir, workersPerModel: 1, intraOpThreads: 1, batching: { maxBatchTokens: 512, maxBatchSize: 8 } });
  const error = await registry.ready.then(() => undefined, (failure: Error) => failure);
  await registry.close();
  return error;
}

/** A model with a 32 → 16 Dense layer (linear.weight at [0, 2048), linear.bias at [2048, 2112)) whose weights file is rewritten by `tamper`. */
async function denseModel(repo: string, tamper: (file: Buffer) => Uint8Array): Promise<string> {
  const { dir: modelDir } = await writeFixtureModel(dir, repo, { dense: [{ out: 16 }] });
  const file = join(modelDir, '2_Dense/model.safetensors');
  await writeFile(file, tamper(await readFile(file)));
  return file;
}

const header = (change: (header: Header, data: Buffer) => Buffer | void) => (file: Buffer) => {
  const { header, data } = parts(file);
  return safetensorsFile(header, change(header, data) ?? data);
};

describe("a Dense layer's model.safetensors that lies is refused at start, naming the model and the file", () => {
  const cases: Record<string, [tamper: (file: Buffer) => Uint8Array, says: RegExp]> = {
    'short': [header((_, data) => data.subarray(0, data.length - 1000)), /its tensors take 2112 bytes of data, but the file holds 1112 after the header \(is it cut short\?\)/],
    'f64': [header((h) => void (h['linear.weight']!.dtype = 'F64')), /tensor linear\.weight, F64 of shape \[16, 32\], takes 4096 bytes, but its data_offsets \[0, 2048\] hold 2048/],
    'bf16': [header((h) => void (h['linear.weight']!.dtype = 'BF16')), /tensor linear\.weight, BF16 of shape \[16, 32\], takes 1024 bytes, but its data_offsets \[0, 2048\] hold 2048/],
    'i32': [header((h) => void (h['linear.weight']!.dtype = 'I32')), /tensor linear\.weight is "I32"; this server reads F32, F16, BF16, F64/],
    'negative': [header((h) => void (h['linear.weight']!.data_offsets = [-2048, 0])), /tensor linear\.weight's data_offsets \[-2048,0\] are not a start and an end, 0 ≤ start ≤ end/],
    'overlap': [
      header((h, data) => {
        h['linear.bias']!.data_offsets = [0, 64];
        return data.subarray(0, 2048);
      }),
      /tensor linear\.weight's data_offsets \[0, 2048\] overlap another tensor \(the data before it ends at 64\)/,
    ],
    'gap': [header((h) => void (h['linear.bias']!.data_offsets = [2049, 2113])), /tensor linear\.bias's data_offsets \[2049, 2113\] leave a gap \(the data before it ends at 2048\)/],
    'negative-shape': [header((h) => void (h['linear.weight']!.shape = [16, -32])), /tensor linear\.weight's shape \[16,-32\] is not a list of sizes/],
    'huge-header': [
      (file) => {
        const copy = Buffer.from(file);
        copy.writeBigUInt64LE(1n << 40n, 0);
        return copy;
      },
      /its header length, 1099511627776 bytes, runs past the end of the file \(\d+ bytes\)/,
    ],
    'empty': [() => new Uint8Array(0), /it is 0 bytes long, too short for a safetensors file/],
    'cut-header': [(file) => file.subarray(0, 50), /its header length, \d+ bytes, runs past the end of the file \(50 bytes\)/],
    'garbage-header': [(file) => Buffer.concat([file.subarray(0, 8), Buffer.alloc(file.length - 8, '}')]), /its header is not JSON \(/],
  };
  for (const [name, [tamper, says]] of Object.entries(cases)) {
    test(name, async () => {
      const file = await denseModel(`acme/${name}`, tamper);
      const error = await describeModel(spec(`acme/${name}`), dir).then(() => assert.fail('it was described'), (failure: Error) => failure);
      assert.ok(error.message.startsWith(`model "${name}" (models.txt:1, ${join(dir, 'acme', name)}): ${file}: `), error.message);
      assert.match(error.message, says);
    });
  }

  test('a NaN weight: the load fails, naming the model, the file, the tensor and where', async () => {
    const file = await denseModel('acme/nan', (file) => {
      const copy = Buffer.from(file);
      copy.writeFloatLE(NaN, copy.length - 2112 + 4 * 5); // linear.weight's sixth value
      return copy;
    });
    const error = await loadError(['acme/nan']);
    assert.equal(error?.message, `model "nan" (models.txt:1, ${join(dir, 'acme/nan')}) failed to load: ${file}: tensor linear.weight holds NaN at index 5 of 512: weights must be finite numbers`);
  });

  test('an F64 weight beyond float32 is refused as infinite', async () => {
    await denseModel('acme/f64-overflow', (file) => {
      const { header: h, data } = parts(file);
      const weight = Float64Array.from(new Float32Array(new Uint8Array(data.subarray(0, 2048)).buffer));
      weight[7] = 1e39;
      h['linear.weight'] = { ...h['linear.weight']!, dtype: 'F64', data_offsets: [0, 4096] };
      h['linear.bias']!.data_offsets = [4096, 4160];
      return safetensorsFile(h, Buffer.concat([Buffer.from(weight.buffer), data.subarray(2048)]));
    });
    const error = await loadError(['acme/f64-overflow']);
    assert.match(error?.message ?? '', /model "f64-overflow" .* failed to load: .*acme\/f64-overflow\/2_Dense\/model\.safetensors: tensor linear\.weight holds Infinity \(beyond float32\) at index 7 of 512: weights must be finite numbers$/);
  });
});

describe('F16, BF16 and F64 weights are read as the values they hold', () => {
  /** Values every dtype here holds exactly: float32 cut to bfloat16's 7 fraction bits, with float16's exponent range (smaller ones 0). */
  function exactValues(values: Float32Array): Float32Array {
    const bits = new Uint32Array(Float32Array.from(values).buffer);
    for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i]! >>> 23) & 0xff) < 127 - 14 ? 0 : bits[i]! & 0xffff0000;
    return new Float32Array(bits.buffer);
  }
  const encoders: Record<string, (values: Float32Array) => Uint8Array> = {
    F32: (values) => new Uint8Array(values.buffer),
    F64: (values) => new Uint8Array(Float64Array.from(values).buffer),
    BF16: (values) => new Uint8Array(Uint16Array.from(new Uint32Array(values.buffer), (bits) => bits >>> 16).buffer),
    F16: (values) =>
      new Uint8Array(
        Uint16Array.from(new Uint32Array(values.buffer), (bits) => {
          const exponent = (bits >>> 23) & 0xff;
          return ((bits >>> 16) & 0x8000) | (exponent === 0 ? 0 : ((exponent - 127 + 15) << 10) | ((bits >>> 13) & 0x3ff));
        }).buffer,
      ),
  };

  test('each embeds exactly as the same values in F32', async () => {
    for (const dtype of Object.keys(encoders)) {
      await denseModel(`acme/dtype-${dtype.toLowerCase()}`, (file) => {
        const { header: h, data } = parts(file);
        const tensors = Object.entries(h).sort(([, a], [, b]) => a.data_offsets[0]! - b.data_offsets[0]!);
        const encoded = tensors.map(([, entry]) => encoders[dtype]!(exactValues(new Float32Array(new Uint8Array(data.subarray(entry.data_offsets[0], entry.data_offsets[1])).buffer))));
        let offset = 0;
        for (const [index, [, entry]] of tensors.entries()) {
          entry.dtype = dtype;
          entry.data_offsets = [offset, (offset += encoded[index]!.length)];
        }
        return safetensorsFile(h, Buffer.concat(encoded));
      });
    }
    const repos = Object.keys(encoders).map((dtype) => `acme/dtype-${dtype.toLowerCase()}`);
    const registry = await Registry.open(repos.map(spec), { artifactsDir: dir, workersPerModel: 1, intraOpThreads: 1, batching: { maxBatchTokens: 512, maxBatchSize: 8 } });
    try {
      await registry.ready;
      const [f32, ...others] = await Promise.all(
        repos.map(async (repo) => {
          const { embeddings } = await registry.loadedModel(repo)!.embedder!.embed({ texts: ['hello world', 'the weights, read'] }, { encoding: 'float' });
          return embeddings.map((json) => Buffer.from(json).toString()).join('|');
        }),
      );
      assert.match(f32!, /^\[-?\d/);
      for (const [index, other] of others.entries()) assert.equal(other, f32, `${repos[index + 1]} against acme/dtype-f32`);
    } finally {
      await registry.close();
    }
  });
});

test('a graph that computes NaN fails the warm-up, naming the model and the graph', async () => {
  const { dir: modelDir } = await writeFixtureModel(dir, 'acme/nan-graph');
  const onnxFile = join(modelDir, 'onnx/model.onnx');
  const model = onnx.ModelProto.decode(await readFile(onnxFile));
  // The last LayerNormalization's bias: every output value.
  const bias = model.graph!.node!.filter((node) => node.opType === 'LayerNormalization').at(-1)!.input![2]!;
  const initializer = model.graph!.initializer!.find((tensor) => tensor.name === bias)!;
  initializer.rawData = new Uint8Array(new Float32Array(initializer.rawData!.length / 4).fill(NaN).buffer);
  await writeFile(onnxFile, onnx.ModelProto.encode(model).finish());
  const error = await loadError(['acme/nan-graph']);
  assert.equal(
    error?.message,
    `model "nan-graph" (models.txt:1, ${modelDir}) failed to load: the warm-up's embedding has 32 of its 32 values NaN or infinite, as computed by ${onnxFile}`,
  );
});

test('finite Dense weights whose output overflows fail the warm-up, naming the graph and the weights', async () => {
  // Two layers of weights near float32's largest: the second's sums are ~1e77, infinite as float32 whatever the input.
  const { dir: modelDir } = await writeFixtureModel(dir, 'acme/overflow', { dense: [{ out: 16, activation: 'Identity' }, { out: 16, activation: 'Identity' }] });
  const files = ['2_Dense', '3_Dense'].map((module) => join(modelDir, module, 'model.safetensors'));
  for (const file of files) {
    const { header: h, data } = parts(await readFile(file));
    await writeFile(file, safetensorsFile(h, Buffer.from(new Float32Array(data.length / 4).fill(3e38).buffer)));
  }
  const error = await loadError(['acme/overflow']);
  assert.equal(
    error?.message,
    `model "overflow" (models.txt:1, ${modelDir}) failed to load: the warm-up's embedding has 16 of its 16 values NaN or infinite, as computed by ${join(modelDir, 'onnx/model.onnx')}, then ${files.join(', ')}`,
  );
});

describe('modules.json paths that leave the model folder are refused', () => {
  for (const path of ['../../x/2_Dense', '/etc/2_Dense', '2_Dense/../../../x/2_Dense', '..\\..\\x\\2_Dense']) {
    test(JSON.stringify(path), async () => {
      // A valid Dense module where the path leads, so only the check can refuse it.
      await writeFixtureModel(dir, 'x/outside', { dense: [{ out: 16 }] });
      const repo = `acme/escape-${path.length}`;
      const { dir: modelDir } = await writeFixtureModel(dir, repo, { dense: [{ out: 16 }] });
      const modules = JSON.parse(await readFile(join(modelDir, 'modules.json'), 'utf8')) as { path: string }[];
      modules[2]!.path = path;
      await writeFile(join(modelDir, 'modules.json'), JSON.stringify(modules));
      await assert.rejects(describeModel(spec(repo), dir), {
        message: `model "escape-${path.length}" (models.txt:1, ${modelDir}): modules.json's module sentence_transformers.models.Dense has the path ${JSON.stringify(path)}, which leaves the model's folder: a module's path is a folder inside it`,
      });
    });
  }
});

describe("an ONNX graph's external-data names that leave its folder are refused", () => {
  test('by the reader the start and the download use', async () => {
    const { dir: modelDir } = await writeFixtureModel(dir, 'acme/external-escape', { graph: { externalData: '../../shared.bin' } });
    const onnxFile = join(modelDir, 'onnx/model.onnx');
    await assert.rejects(externalDataFilesOf(onnxFile), { message: `${onnxFile} keeps weights in "../../shared.bin", outside its folder: external data must lie beside the graph` });
    const { dir: besideDir } = await writeFixtureModel(dir, 'acme/external-beside', { graph: { externalData: 'model.onnx_data' } });
    assert.deepEqual(await externalDataFilesOf(join(besideDir, 'onnx/model.onnx')), ['model.onnx_data']);
  });

  test('the server refuses to start, naming the model and the graph', async () => {
    const { dir: modelDir } = await writeFixtureModel(dir, 'acme/external-absolute', { graph: { externalData: join(dir, 'absolute.bin') } });
    const modelsFile = join(dir, 'models-external.txt');
    await writeFile(modelsFile, 'acme/external-absolute\n');
    const { code, stderr } = await failedStart({ MODELS_FILE: modelsFile, ARTIFACTS_DIR: dir, INFERENCE_WORKERS: '1', LOG_LEVEL: 'warn' });
    assert.equal(code, 1);
    assert.ok(stderr.includes(`model "acme/external-absolute" (${modelsFile}:1): ${join(modelDir, 'onnx/model.onnx')} keeps weights in "${join(dir, 'absolute.bin')}", outside its folder`), stderr);
  });
});

/** Runs the server as an operator does, for a start that must fail: its exit code and what it printed on stderr. */
async function failedStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../src/server.ts', import.meta.url).pathname], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 120_000, // a start that does not fail is ended (and the test fails on its code)
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}
