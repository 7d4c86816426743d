/**
 * bge-m3's sparse and ColBERT heads in the inference worker (the math: bge-m3.ts). On a published
 * bge-m3 they run their Linear (sparse_linear.pt, colbert_linear.pt) on the graph's token states; on
 * an all-in-one export they read the graph's own outputs.
 */
import ort from 'onnxruntime-node';
import { loadHeadLinear } from '../files/bge-m3.ts';
import { BlobWriter } from '../output/blob-writer.ts';
import { SparseBlobWriter } from '../output/sparse-blob.ts';
import { linearGraph } from '../onnx/linear-graph.ts';
import { sessionOptions } from '../onnx/session-options.ts';
import { colbertRows, sparseFromTokenStates, sparseFromTokenWeights } from './bge-m3.ts';
import type { BgeM3ColbertHeadSpec, BgeM3SparseHeadSpec } from './head-spec.ts';
import { floats, type Head } from './head.ts';
import { keepLargest } from './splade.ts';
import { tokenOutputOf } from './pooled-head.ts';

/** An output's values as float32, decoded once per run however many rows read it (float16 graphs). */
function decodedOnce(): (output: ort.Tensor) => Float32Array {
  let decoded: { tensor: ort.Tensor; data: Float32Array } | undefined;
  return (output) => {
    if (decoded?.tensor !== output) decoded = { tensor: output, data: floats(output) };
    return decoded.data;
  };
}

/** The output a head reads: the all-in-one graph's, else the token states (refused if the graph has none). */
function inputOf(session: ort.InferenceSession, spec: BgeM3SparseHeadSpec | BgeM3ColbertHeadSpec): string {
  if (spec.graphOutput) return spec.graphOutput;
  const tokenOutput = tokenOutputOf(session);
  if (!tokenOutput) throw new Error(`the ONNX graph has no token states for bge-m3's ${spec.kind} head; its outputs: ${session.outputNames.join(', ')}`);
  return tokenOutput;
}

export async function bgeM3SparseHead(session: ort.InferenceSession, spec: BgeM3SparseHeadSpec): Promise<Head> {
  const outputName = inputOf(session, spec);
  const linear = spec.weightsFile ? await loadHeadLinear(spec.weightsFile, spec.hidden, 1) : undefined;
  const dropped = new Set(spec.droppedTokenIds);
  const values = decodedOnce();
  const writer = new SparseBlobWriter();
  return {
    outputNames: [outputName],
    writer,
    write(outputs, r, row, length, _skip, { maxActiveDims }, ids, offset) {
      const output = outputs[outputName]!;
      const data = values(output);
      const seqLen = output.dims[1]!;
      const tokens = ids.subarray(offset, offset + length);
      const vector = linear
        ? sparseFromTokenStates(data, r, seqLen, output.dims[2]!, tokens, length, linear, dropped)
        : sparseFromTokenWeights(tokens, (token) => data[r * seqLen + token]!, length, dropped);
      writer.add(keepLargest(vector, maxActiveDims?.[row] ?? 0));
    },
  };
}

/** Where the ColBERT head puts its projection of a run's token states among the run's outputs. */
const PROJECTED = 'bge-m3 colbert_linear';

export async function bgeM3ColbertHead(session: ort.InferenceSession, spec: BgeM3ColbertHeadSpec): Promise<Head> {
  const outputName = inputOf(session, spec);
  const linear = spec.weightsFile ? await loadHeadLinear(spec.weightsFile, spec.hidden, spec.width) : undefined;
  // colbert_linear on every token, in JavaScript, took about as long as the encoder itself (bench: all three outputs 2.6x slower than dense).
  const projection = linear && (await ort.InferenceSession.create(linearGraph(linear.weight, linear.bias, spec.hidden), sessionOptions(1)));
  const values = decodedOnce();
  const writer = new BlobWriter();
  return {
    outputNames: [outputName],
    writer,
    async prepare(outputs) {
      if (projection) outputs[PROJECTED] = (await projection.run({ input: outputs[outputName]! })).output!;
    },
    write(outputs, r, _row, length) {
      const output = outputs[projection ? PROJECTED : outputName]!;
      const [, perRow, width] = output.dims as [number, number, number];
      if (width !== spec.width) throw new Error(`the graph's ${outputName} vectors are ${width} wide; the description says ${spec.width}`);
      // The projection covers every token (CLS first); the all-in-one graph's output starts after CLS.
      writer.addFloat32(colbertRows(values(output), r, perRow, width, projection ? 1 : 0, length - 1));
    },
  };
}
