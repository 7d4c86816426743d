import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { loadHeadLinear, readBgeM3Heads, type BgeM3Heads } from '../../src/inference/files/bge-m3.ts';
import { colbertRows, sparseFromTokenStates, sparseFromTokenWeights } from '../../src/inference/heads/bge-m3.ts';
import { linearGraph } from '../../src/inference/onnx/linear-graph.ts';
import { SparseBlobWriter } from '../../src/inference/heads/bge-m3-heads.ts';
import { DROPPED_IDS, referenceBgeM3, writeBgeM3Fixture, type BgeM3Reference } from '../helpers/bge-m3-fixture.ts';
import { writeFixtureModel } from '../helpers/fixture-model.ts';
import { rustTokenizer } from '../helpers/reference.ts';

const { onnx } = onnxProto;
const TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello world, embeddings for everyone!', 'Der schnelle braune Fuchs', '', 'the the the fox fox'];
const PAD = 1;

let artifacts: string;
before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), 'bge-m3-'));
});
after(() => rm(artifacts, { recursive: true }));

/** Every value within 1e-5 of the reference, relative to the larger of 1 and its size. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const headLinears = async (heads: BgeM3Heads, hidden: number, colbertWidth: number) => ({
  sparse: await loadHeadLinear(heads.sparseFile!, hidden, 1),
  colbert: await loadHeadLinear(heads.colbertFile!, hidden, colbertWidth),
});

/** Runs the texts through the graph as one padded batch; returns the outputs and each text's ids. */
async function runBatch(dir: string, maxTokens: number, names: string[]) {
  const tokenize = rustTokenizer(dir, maxTokens);
  const ids = await Promise.all(TEXTS.map(tokenize));
  const seqLen = Math.max(...ids.map((row) => row.length));
  const padded = new BigInt64Array(ids.length * seqLen).fill(BigInt(PAD));
  const mask = new BigInt64Array(ids.length * seqLen);
  ids.forEach((row, r) => row.forEach((id, t) => ((padded[r * seqLen + t] = BigInt(id)), (mask[r * seqLen + t] = 1n))));
  const session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'));
  try {
    const outputs = await session.run({ input_ids: new ort.Tensor('int64', padded, [ids.length, seqLen]), attention_mask: new ort.Tensor('int64', mask, [ids.length, seqLen]) }, names);
    return { ids, seqLen, outputs };
  } finally {
    await session.release();
  }
}

function assertMatches(reference: BgeM3Reference, got: { dense: ArrayLike<number>; sparse: { indices: Int32Array; values: Float32Array }; colbert: Float32Array }, width: number, text: string) {
  assertClose(got.dense, reference.dense, `${text} dense`);
  assert.deepEqual([...got.sparse.indices], reference.sparse.indices, `${text}: the same non-zero token ids`);
  assertClose(got.sparse.values, reference.sparse.values, `${text} sparse`);
  assert.equal(got.colbert.length / width, reference.colbert.length, `${text}: one ColBERT vector per token after CLS`);
  assertClose(got.colbert, reference.colbert.flat(), `${text} colbert`);
}

test('bge-m3 as published: recognised by its .pt heads, which read as the float16 values torch saved', async () => {
  const fixture = await writeBgeM3Fixture(artifacts, 'BAAI/bge-m3', { layout: 'files', colbertWidth: 24 });
  const heads = await readBgeM3Heads(fixture.dir, join(fixture.dir, 'onnx/model.onnx'), 32);
  assert.deepEqual(heads, {
    source: 'files',
    graphOutputs: undefined,
    sparseFile: join(fixture.dir, 'sparse_linear.pt'),
    colbertFile: join(fixture.dir, 'colbert_linear.pt'),
    colbertWidth: 24,
    droppedTokenIds: DROPPED_IDS,
  });
  assert.deepEqual(await headLinears(heads!, 32, 24), {
    sparse: { weight: fixture.sparseWeight, bias: Float32Array.of(fixture.sparseBias) },
    colbert: { weight: fixture.colbertWeight, bias: fixture.colbertBias },
  });
});

test("the heads on the graph's token states (colbert_linear as a one-layer ONNX graph) equal FlagEmbedding's encode (float64 reference), texts batched with padding", async () => {
  const fixture = await writeBgeM3Fixture(artifacts, 'published', { layout: 'files' });
  const heads = (await readBgeM3Heads(fixture.dir, join(fixture.dir, 'onnx/model.onnx'), 32))!;
  const weights = await headLinears(heads, 32, 32);
  const { ids, seqLen, outputs } = await runBatch(fixture.dir, 24, ['last_hidden_state']);
  const states = outputs.last_hidden_state!.data as Float32Array;
  // colbert_linear as the worker runs it: a one-layer graph in ONNX Runtime.
  const projection = await ort.InferenceSession.create(linearGraph(weights.colbert.weight, weights.colbert.bias, 32));
  const projected = (await projection.run({ input: outputs.last_hidden_state! })).output!;
  assert.deepEqual(projected.dims, [TEXTS.length, seqLen, 32]);
  await projection.release();
  const dropped = new Set(heads.droppedTokenIds);
  let withDropped = 0;
  ids.forEach((row, r) => {
    const dense = states.slice(r * seqLen * 32, r * seqLen * 32 + 32);
    const norm = Math.hypot(...dense);
    const got = {
      dense: dense.map((x) => x / norm),
      sparse: sparseFromTokenStates(states, r, seqLen, 32, row, row.length, weights.sparse, dropped),
      colbert: colbertRows(projected.data as Float32Array, r, seqLen, 32, 1, row.length - 1),
    };
    const reference = referenceBgeM3(fixture, row);
    withDropped += row.filter((id) => !DROPPED_IDS.includes(id)).length - reference.sparse.indices.length;
    assertMatches(reference, got, 32, TEXTS[r]!);
  });
  assert.ok(withDropped > 3, 'relu and the max per id leave tokens out, so the test sees both');
});

test('an all-in-one export is recognised by its outputs (sparse_vecs or sparse_weights), and its outputs give the same three', async () => {
  for (const sparseName of ['sparse_vecs', 'sparse_weights']) {
    const fixture = await writeBgeM3Fixture(artifacts, `all-in-one-${sparseName}`, { layout: 'graph', sparseName, colbertWidth: 16 });
    const heads = (await readBgeM3Heads(fixture.dir, join(fixture.dir, 'onnx/model.onnx'), 32))!;
    assert.deepEqual(heads, {
      source: 'graph',
      graphOutputs: { dense: 'dense_vecs', sparse: sparseName, colbert: 'colbert_vecs' },
      sparseFile: undefined,
      colbertFile: undefined,
      colbertWidth: 16,
      droppedTokenIds: DROPPED_IDS,
    });
    const { ids, seqLen, outputs } = await runBatch(fixture.dir, 24, ['dense_vecs', sparseName, 'colbert_vecs']);
    const tokenWeights = outputs[sparseName]!.data as Float32Array;
    assert.deepEqual(outputs.colbert_vecs!.dims, [TEXTS.length, seqLen - 1, 16]);
    ids.forEach((row, r) => {
      const got = {
        dense: (outputs.dense_vecs!.data as Float32Array).slice(r * 32, (r + 1) * 32),
        sparse: sparseFromTokenWeights(row, (token) => tokenWeights[r * seqLen + token]!, row.length, new Set(heads.droppedTokenIds)),
        colbert: colbertRows(outputs.colbert_vecs!.data as Float32Array, r, seqLen - 1, 16, 0, row.length - 1),
      };
      assertMatches(referenceBgeM3(fixture, row), got, 16, TEXTS[r]!);
    });
  }
});

test('a repo without either head is not bge-m3; one with only one is refused, naming the missing file', async () => {
  const plain = await writeFixtureModel(artifacts, 'plain', {});
  assert.equal(await readBgeM3Heads(plain.dir, join(plain.dir, 'onnx/model.onnx'), 32), undefined);
  const fixture = await writeBgeM3Fixture(artifacts, 'half-published', { layout: 'files' });
  await rm(join(fixture.dir, 'colbert_linear.pt'));
  await assert.rejects(readBgeM3Heads(fixture.dir, join(fixture.dir, 'onnx/model.onnx'), 32), {
    message: `it has bge-m3's sparse_linear head but not ${join(fixture.dir, 'colbert_linear.pt')}: fetch it with \`npm run download\``,
  });
});

test("a head converted to safetensors is read in the .pt's place; one of the wrong width is refused", async () => {
  const fixture = await writeBgeM3Fixture(artifacts, 'converted', { layout: 'files' });
  const { safetensorsFile } = await import('../helpers/fixture-model.ts');
  const weight = Float32Array.from({ length: 32 }, (_, i) => i / 64);
  const data = Buffer.concat([Buffer.from(weight.buffer), Buffer.from(Float32Array.of(0.5).buffer)]);
  await writeFile(join(fixture.dir, 'sparse_linear.safetensors'), safetensorsFile({ weight: { dtype: 'F32', shape: [1, 32], data_offsets: [0, 128] }, bias: { dtype: 'F32', shape: [1], data_offsets: [128, 132] } }, data));
  const heads = (await readBgeM3Heads(fixture.dir, join(fixture.dir, 'onnx/model.onnx'), 32))!;
  assert.equal(heads.sparseFile, join(fixture.dir, 'sparse_linear.safetensors'));
  const weights = await headLinears(heads, 32, 32);
  assert.deepEqual(weights.sparse, { weight, bias: Float32Array.of(0.5) });
  await assert.rejects(readBgeM3Heads(fixture.dir, join(fixture.dir, 'onnx/model.onnx'), 48), /colbert_linear\.pt: weight 32x32 and bias 32 are not a Linear from the token width 48/);
});

test("the sparse blob is the sparse kind's format: n int32 ids, then n float32 weights", () => {
  const writer = new SparseBlobWriter();
  writer.addSparse({ indices: Int32Array.of(5, 17, 250001), values: Float32Array.of(0.25, 0.5, 1.5) });
  writer.addSparse({ indices: new Int32Array(0), values: new Float32Array(0) });
  writer.addSparse({ indices: Int32Array.of(9), values: Float32Array.of(2) });
  const { bytes, ends } = writer.take();
  assert.deepEqual([...ends], [24, 24, 32]);
  assert.deepEqual([...new Int32Array(bytes.buffer, bytes.byteOffset, 3)], [5, 17, 250001]);
  assert.deepEqual([...new Float32Array(bytes.buffer, bytes.byteOffset + 12, 3)], [0.25, 0.5, 1.5]);
  assert.deepEqual([...new Int32Array(bytes.buffer, bytes.byteOffset + 24, 1)], [9]);
  assert.deepEqual([...new Float32Array(bytes.buffer, bytes.byteOffset + 28, 1)], [2]);
});

test("an export whose three outputs are not bge-m3's shapes (a vocabulary-wide sparse vector) is refused, naming them", async () => {
  const fixture = await writeBgeM3Fixture(artifacts, 'odd-export', { layout: 'files' });
  await rm(join(fixture.dir, 'sparse_linear.pt'));
  await rm(join(fixture.dir, 'colbert_linear.pt'));
  const output = (name: string, dims: (string | number)[]) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((dim) => (typeof dim === 'string' ? { dimParam: dim } : { dimValue: dim })) } } } });
  const graph = onnx.GraphProto.create({ name: 'odd', output: [output('dense_vecs', ['batch', 32]), output('sparse_vecs', ['batch', 320]), output('colbert_vecs', ['batch', 'tokens', 32])] });
  const onnxFile = join(fixture.dir, 'onnx/odd.onnx');
  await writeFile(onnxFile, onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, graph })).finish());
  await assert.rejects(readBgeM3Heads(fixture.dir, onnxFile, 32), {
    message: 'its graph outputs dense_vecs [batch, 32], sparse_vecs [batch, 320], colbert_vecs [batch, tokens, 32]; an all-in-one bge-m3 export outputs [batch, width], [batch, tokens, 1] (each token\'s weight) and [batch, tokens - 1, width]',
  });
});
