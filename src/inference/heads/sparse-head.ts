/**
 * SPLADE in the inference worker: SpladePooling over the graph's masked-language logits
 * [batch, tokens, vocabulary], then the row's max_active_dims. Max pooling reads the graph's own
 * pooled maxima [batch, vocabulary] (the worker edits it in: splade-max-graph.ts); sum pooling, and a
 * graph without an attention mask, the logits. Each row's blob is its non-zeros only (output/sparse-blob.ts).
 */
import type ort from 'onnxruntime-node';
import type { SparseHeadSpec } from './head-spec.ts';
import { floats, type Head } from './head.ts';
import { mlmLogitsOf, SPLADE_MAX_OUTPUT } from '../files/splade-max-graph.ts';
import { keepLargest, spladeFromMaxLogits, spladeRow } from './splade.ts';
import { SparseBlobWriter } from '../output/sparse-blob.ts';

/** The graph's MLM logits (mlmLogitsOf, on the session's outputs). */
const logitsOutput = (session: ort.InferenceSession, vocab: number): string =>
  mlmLogitsOf(session.outputMetadata.map((meta) => ({ name: meta.name, dims: meta.isTensor ? meta.shape : [] })), vocab).name;

export function sparseHead(session: ort.InferenceSession, spec: SparseHeadSpec): Head {
  const pooledInGraph = session.outputNames.includes(SPLADE_MAX_OUTPUT);
  const outputName = pooledInGraph ? SPLADE_MAX_OUTPUT : logitsOutput(session, spec.vocab);
  const writer = new SparseBlobWriter();
  // One decoded copy per run (an fp16 graph's), however many rows read it.
  let decoded: { tensor: ort.Tensor; data: Float32Array } | undefined;
  return {
    outputNames: [outputName],
    writer,
    write(outputs, r, row, length, _skip, { maxActiveDims }) {
      const output = outputs[outputName]!;
      if (decoded?.tensor !== output) decoded = { tensor: output, data: floats(output) };
      const vocab = output.dims.at(-1)!;
      if (vocab !== spec.vocab) throw new Error(`the graph's ${outputName} is ${vocab} wide; the vocabulary has ${spec.vocab} tokens`);
      const vector = pooledInGraph
        ? spladeFromMaxLogits(decoded.data, r, vocab, spec.splade.activation)
        : spladeRow(decoded.data, r, output.dims[1]!, vocab, length, spec.splade);
      writer.add(keepLargest(vector, maxActiveDims?.[row] ?? 0));
    },
  };
}
