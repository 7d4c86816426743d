/**
 * How a run's output becomes each text's vector: the graph's token vectors through sentence-transformers' Pooling
 * and Dense modules (modules.ts), or, when the graph computes them itself and this server cannot (a Dense layer
 * whose weights it cannot read), the graph's own `sentence_embedding`; then truncated to the row's `dimensions`,
 * normalised if the model normalises (or as the row asks), and written as JSON text (numbers or base64). A row with
 * spans (late chunking) gets one vector per span, its tokens pooled alone, in one blob.
 */
import type ort from 'onnxruntime-node';
import { applyDense, loadDense } from './dense.ts';
import type { PooledHeadSpec } from './head-spec.ts';
import { floats, type Head, type RunOutputs } from './head.ts';
import { normalizeInPlace, poolText } from './pooling.ts';
import { VectorJsonWriter } from '../output/vector-text.ts';
import { CalibratedRanges } from '../output/quantize.ts';
import { NORMALIZE_AS_MODEL, NORMALIZE_ON } from '../onnx/protocol.ts';

const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const SENTENCE_OUTPUT = 'sentence_embedding';

/** Row `row`'s vector from a run's outputs (`length` real tokens, the first `skip` left out of the pooling), before truncation. */
type VectorOf = (outputs: RunOutputs, row: number, length: number, skip: number) => Float32Array;

/** The graph's token states: a known name, else its first 3-d output (past key/values aside). */
export const tokenOutputOf = (session: ort.InferenceSession): string | undefined =>
  TOKEN_OUTPUTS.find((name) => session.outputNames.includes(name)) ??
  session.outputMetadata.find((meta) => meta.isTensor && meta.shape.length === 3 && !meta.name.startsWith('present'))?.name;

/** A graph output that is each row's vector, [batch, width]. */
function graphVector(outputName: string): { outputName: string; vector: VectorOf } {
  return {
    outputName,
    vector(runOutputs, row) {
      const output = runOutputs[outputName]!;
      const [, width] = output.dims as [number, number];
      return floats(output).slice(row * width, (row + 1) * width);
    },
  };
}

async function vectorOf(session: ort.InferenceSession, spec: PooledHeadSpec): Promise<{ outputName: string; vector: VectorOf }> {
  if (spec.vectorOutput) return graphVector(spec.vectorOutput);
  const outputs = session.outputNames;
  const tokenOutput = tokenOutputOf(session);
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
  if (outputs.includes(SENTENCE_OUTPUT)) return graphVector(SENTENCE_OUTPUT);
  throw new Error(
    spec.unrunnable
      ? `${spec.unrunnable}; or use an ONNX export whose graph outputs sentence_embedding`
      : `the ONNX graph has no token output (${TOKEN_OUTPUTS.join(', ')}) and no ${SENTENCE_OUTPUT}; its outputs: ${outputs.join(', ')}`,
  );
}

export async function pooledHead(session: ort.InferenceSession, spec: PooledHeadSpec): Promise<Head> {
  const { outputName, vector } = await vectorOf(session, spec);
  const writer = new VectorJsonWriter();
  let calibrated: CalibratedRanges | undefined;
  return {
    outputNames: [outputName],
    writer,
    write(outputs, r, row, length, skip, { dimensions, base64, formats, normalize, spanCounts, spanBounds }) {
      const asked = normalize?.[row] ?? NORMALIZE_AS_MODEL;
      const normalizes = asked === NORMALIZE_AS_MODEL ? spec.normalize : asked === NORMALIZE_ON;
      const finish = (full: Float32Array) => {
        const kept = full.subarray(0, dimensions[row] || full.length);
        return normalizes ? normalizeInPlace(kept) : kept;
      };
      const encoding = base64[row] === 1 ? 'base64' : 'float';
      const spans = spanCounts?.[row] ?? 0;
      if (spans === 0) {
        const final = finish(vector(outputs, r, length, skip));
        const bits = formats?.[row] ?? 0;
        if (bits === 0) return writer.add(final, encoding);
        return writer.addFormats(final, bits, () => {
          if (!calibrated) throw new Error('int8/uint8 vectors need the ranges of a calibration run, which this worker did not make');
          return calibrated.get(final.length, normalizes);
        });
      }
      if (outputName === SENTENCE_OUTPUT) throw new Error(`late chunking pools token vectors; this graph gives only ${SENTENCE_OUTPUT}`);
      // Late chunking: each span of the row's token vectors pooled on its own (the tokens after `skip` up to `length`).
      let first = 0;
      for (let before = 0; before < row; before++) first += 2 * spanCounts![before]!;
      const vectors = Array.from({ length: spans }, (_, k) => finish(vector(outputs, r, spanBounds![first + 2 * k + 1]!, spanBounds![first + 2 * k]!)));
      writer.addAll(vectors, encoding);
    },
    calibrate(outputs, lengths) {
      calibrated ??= new CalibratedRanges([], normalizeInPlace);
      lengths.forEach((length, r) => calibrated!.add(vector(outputs, r, length, 0).slice()));
    },
    int8Ranges: () => calibrated?.get(spec.dimensions, spec.normalize),
  };
}
