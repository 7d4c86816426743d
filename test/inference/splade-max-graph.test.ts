import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { SPLADE_MAX_OUTPUT, spladeMaxGraph } from '../../src/inference/files/splade-max-graph.ts';
import { spladeFromMaxLogits, spladeRow } from '../../src/inference/heads/splade.ts';
import { tempDir } from '../helpers/app.ts';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;
const VOCAB = 50;

/** A stand-in MLM graph at `opset`: `logits` = the input `states` as they are, beside an attention mask it ignores. */
function identityGraph(opset: number, withMask = true, typedOutput = true): Uint8Array {
  const valueInfo = (name: string, elemType: number, dims: (string | number)[]) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((dim) => (typeof dim === 'string' ? { dimParam: dim } : { dimValue: dim })) } } } });
  const graph = onnx.GraphProto.create({
    name: 'mlm',
    node: [onnx.NodeProto.create({ opType: 'Identity', input: ['states'], output: ['logits'] })],
    input: [valueInfo('states', FLOAT, ['batch', 'tokens', VOCAB]), ...(withMask ? [valueInfo('attention_mask', INT64, ['batch', 'tokens'])] : [])],
    output: [typedOutput ? valueInfo('logits', FLOAT, ['batch', 'tokens', VOCAB]) : onnx.ValueInfoProto.create({ name: 'logits' })],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph })).finish();
}

test('SPLADE max pooling edited into the graph: per text each entry’s largest logit over its attended tokens, as the worker’s own loop finds it, at every opset', async () => {
  const dir = await tempDir('splade-max');
  try {
    const lengths = [5, 2, 7];
    const seqLen = 7;
    const logits = Float32Array.from({ length: lengths.length * seqLen * VOCAB }, (_, i) => Math.sin(i * 12.9898) * 4 - 3.8);
    const mask = BigInt64Array.from({ length: lengths.length * seqLen }, (_, i) => (i % seqLen < lengths[Math.floor(i / seqLen)]! ? 1n : 0n));
    // Padding holds the largest logits: pooled with it, every vector would differ.
    for (let i = 0; i < mask.length; i++) if (mask[i] === 0n) logits.fill(9, i * VOCAB, (i + 1) * VOCAB);
    for (const opset of [11, 13, 17, 18, 21]) {
      const file = join(dir, `mlm-${opset}.onnx`);
      await writeFile(file, identityGraph(opset));
      const session = await ort.InferenceSession.create(spladeMaxGraph(file, VOCAB)!);
      assert.deepEqual(session.outputNames, [SPLADE_MAX_OUTPUT], `opset ${opset}: the logits are no longer an output`);
      const { [SPLADE_MAX_OUTPUT]: pooled } = await session.run({
        states: new ort.Tensor('float32', logits, [lengths.length, seqLen, VOCAB]),
        attention_mask: new ort.Tensor('int64', mask, [lengths.length, seqLen]),
      });
      assert.deepEqual(pooled!.dims, [lengths.length, VOCAB]);
      for (const activation of ['relu', 'log1p_relu'] as const) {
        for (const [row, length] of lengths.entries()) {
          const expected = spladeRow(logits, row, seqLen, VOCAB, length, { pooling: 'max', activation });
          const actual = spladeFromMaxLogits(pooled!.data as Float32Array, row, VOCAB, activation);
          assert.ok(expected.indices.length > 2 && expected.indices.length < VOCAB, `row ${row} is sparse: ${expected.indices.length} non-zeros`);
          assert.deepEqual(actual, expected, `opset ${opset}, ${activation}, row ${row}`);
        }
      }
      await session.release();
    }
    // No attention mask to pool by: the graph is left as it is (the worker pools the logits itself).
    await writeFile(join(dir, 'no-mask.onnx'), identityGraph(17, false));
    assert.equal(spladeMaxGraph(join(dir, 'no-mask.onnx'), VOCAB), undefined);
    // Logits the graph does not declare float: left as they are too.
    await writeFile(join(dir, 'untyped.onnx'), identityGraph(17, true, false));
    assert.equal(spladeMaxGraph(join(dir, 'untyped.onnx'), VOCAB), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
