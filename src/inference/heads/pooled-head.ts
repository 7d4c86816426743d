/**
 * How a run's output becomes each text's vector: the graph's token vectors through sentence-transformers' Pooling
 * and Dense modules (modules.ts), or, when the graph computes them itself and this server cannot (a Dense layer
 * whose weights it cannot read), the graph's own `sentence_embedding`; then truncated to the row's `dimensions`,
 * normalised if the model normalises, and written as JSON text (numbers or base64).
 */
import type ort from 'onnxruntime-node';
import { applyDense, loadDense } from './dense.ts';
import type { PooledHeadSpec } from './head-spec.ts';
import { floats, type Head, type RunOutputs } from './head.ts';
import { normalizeInPlace, poolText } from './pooling.ts';
import { VectorJsonWriter } from '../output/vector-text.ts';

const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const SENTENCE_OUTPUT = 'sentence_embedding';

/** Row `row`'s vector from a run's outputs (`length` real tokens, the first `skip` left out of the pooling), before truncation. */
type VectorOf = (outputs: RunOutputs, row: number, length: number, skip: number) => Float32Array;

async function vectorOf(session: ort.InferenceSession, spec: PooledHeadSpec): Promise<{ outputName: string; vector: VectorOf }> {
  const outputs = session.outputNames;
  const tokenOutput =
    TOKEN_OUTPUTS.find((name) => outputs.includes(name)) ??
    session.outputMetadata.find((meta) => meta.isTensor && meta.shape.length === 3 && !meta.name.startsWith('present'))?.name;
  if (tokenOutput && !spec.unrunnable) {
    const dense = await Promise.all(spec.dense.map(loadDense));
    // One decoded copy per run, however many rows read it.
    let decoded: { tensor: ort.Tensor; data: Float32Array } | undefined;
    return {
      outputName: tokenOutput,
      vector(runOutputs, row, length, skip) {
        const output = runOutputs[tokenOutput]!;
        if (decoded?.tensor !== output) decoded = { tensor: output, data: floats(output) };
        const [, seqLen, width] = output.dims as [number, number, number];
        const pooled = new Float32Array(width * spec.poolingModes.length);
        poolText(decoded.data, row, seqLen, width, length, spec.poolingModes, pooled, skip);
        return dense.length > 0 ? applyDense(dense, pooled) : pooled;
      },
    };
  }
  if (outputs.includes(SENTENCE_OUTPUT)) {
    return {
      outputName: SENTENCE_OUTPUT,
      vector(runOutputs, row) {
        const output = runOutputs[SENTENCE_OUTPUT]!;
        const [, width] = output.dims as [number, number];
        return floats(output).slice(row * width, (row + 1) * width);
      },
    };
  }
  throw new Error(
    spec.unrunnable
      ? `${spec.unrunnable}; or use an ONNX export whose graph outputs sentence_embedding`
      : `the ONNX graph has no token output (${TOKEN_OUTPUTS.join(', ')}) and no ${SENTENCE_OUTPUT}; its outputs: ${outputs.join(', ')}`,
  );
}

export async function pooledHead(session: ort.InferenceSession, spec: PooledHeadSpec): Promise<Head> {
  const { outputName, vector } = await vectorOf(session, spec);
  const writer = new VectorJsonWriter();
  return {
    outputNames: [outputName],
    writer,
    write(outputs, r, row, length, skip, { dimensions, base64 }) {
      const full = vector(outputs, r, length, skip);
      const kept = full.subarray(0, dimensions[row] || full.length);
      writer.add(spec.normalize ? normalizeInPlace(kept) : kept, base64[row] === 1 ? 'base64' : 'float');
    },
  };
}
