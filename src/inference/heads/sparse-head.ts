/**
 * SPLADE in the inference worker: SpladePooling over the graph's masked-language logits
 * [batch, tokens, vocabulary], then the row's max_active_dims. The logits never leave the worker:
 * each row's blob is its non-zeros only (output/sparse-blob.ts).
 */
import type ort from 'onnxruntime-node';
import type { SparseHeadSpec } from './head-spec.ts';
import { floats, type Head } from './head.ts';
import { keepLargest, spladeRow } from './splade.ts';
import { SparseBlobWriter } from '../output/sparse-blob.ts';

/** The graph's MLM logits: `logits`, else its one output [batch, tokens, vocabulary] as wide as the vocabulary. */
function logitsOutput(session: ort.InferenceSession, vocab: number): string {
  if (session.outputNames.includes('logits')) return 'logits';
  const wide = session.outputMetadata.find((meta) => meta.isTensor && meta.shape.length === 3 && meta.shape[2] === vocab);
  if (wide) return wide.name;
  throw new Error(`the ONNX graph has no masked-language logits (an output "logits" or [batch, tokens, ${vocab}]) for SPLADE; its outputs: ${session.outputNames.join(', ')}`);
}

export function sparseHead(session: ort.InferenceSession, spec: SparseHeadSpec): Head {
  const outputName = logitsOutput(session, spec.vocab);
  const writer = new SparseBlobWriter();
  // One decoded copy per run (an fp16 graph's), however many rows read it.
  let decoded: { tensor: ort.Tensor; data: Float32Array } | undefined;
  return {
    outputNames: [outputName],
    writer,
    write(outputs, r, row, length, _skip, { maxActiveDims }) {
      const output = outputs[outputName]!;
      if (decoded?.tensor !== output) decoded = { tensor: output, data: floats(output) };
      const [, seqLen, vocab] = output.dims as [number, number, number];
      if (vocab !== spec.vocab) throw new Error(`the graph's ${outputName} is ${vocab} wide; the vocabulary has ${spec.vocab} tokens`);
      writer.add(keepLargest(spladeRow(decoded.data, r, seqLen, vocab, length, spec.splade), maxActiveDims?.[row] ?? 0));
    },
  };
}
