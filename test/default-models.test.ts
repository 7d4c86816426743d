import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { describeModel } from '../src/inference/files/model-files.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { startHubStandIn, type HubStandIn } from './helpers/hub-stand-in.ts';

const run = promisify(execFile);
const DOWNLOAD = new URL('../scripts/download.ts', import.meta.url).pathname;
const RERANKER = 'cross-encoder/ms-marco-MiniLM-L6-v2';

let workDir: string;
let hub: HubStandIn;
before(async () => {
  workDir = await tempDir('default-models');
  // Laid out as the Hub's repo is: a …ForSequenceClassification config, onnx/model.onnx beside other exports, torch weights.
  const fixture = await writeFixtureModel(join(workDir, 'source'), RERANKER, { crossEncoder: {} });
  const entries = await readdir(fixture.dir, { recursive: true, withFileTypes: true });
  const files: Record<string, Buffer | string> = {};
  for (const entry of entries.filter((each) => each.isFile())) {
    const path = join(entry.parentPath, entry.name);
    files[relative(fixture.dir, path)] = await readFile(path);
  }
  Object.assign(files, { 'onnx/model_qint8_avx512.onnx': 'x', 'onnx/model_O4.onnx': 'x', 'pytorch_model.bin': 'x', 'model.safetensors': 'x', 'README.md': '#' });
  hub = await startHubStandIn({ [RERANKER]: { files, lfs: ['onnx/model.onnx', 'pytorch_model.bin', 'model.safetensors'] } });
});
after(async () => {
  await hub.close();
  await rm(workDir, { recursive: true, force: true });
});

test("the shipped models.txt's reranker line downloads onnx/model.onnx and is served as a reranker", async () => {
  const line = (await readFile(new URL('../models.txt', import.meta.url), 'utf8')).split('\n').find((each) => each.startsWith(RERANKER))!;
  const [spec] = parseModelsFile(line, 'models.txt');
  assert.equal(spec!.onnxPath, 'onnx/model.onnx');
  const modelsFile = join(workDir, 'models.txt');
  await writeFile(modelsFile, `${line}\n`);
  const artifacts = join(workDir, 'artifacts');
  await run(process.execPath, ['--import', 'tsx', DOWNLOAD, '--models', modelsFile], { env: { ...process.env, ARTIFACTS_DIR: artifacts, HF_ENDPOINT: hub.url } });
  const fetched = await readdir(join(artifacts, RERANKER), { recursive: true });
  assert.ok(fetched.includes('onnx/model.onnx'));
  assert.ok(!fetched.some((path) => /model_qint8|model_O4|pytorch_model|safetensors/.test(path)), fetched.join(', '));
  const description = await describeModel(spec!, artifacts);
  assert.equal(description.kind, 'reranker');
  assert.deepEqual(description.heads, [{ kind: 'logits', labels: 1, activation: 'sigmoid' }]);
});
