import type ort from 'onnxruntime-node';
import { BlobWriter } from '../output/blob-writer.ts';
import type { LogitsHeadSpec } from './head-spec.ts';
import { floats, type Head } from './head.ts';

/** A sequence classifier's `logits` [batch, labels], raw (the activation is applied by the caller): `labels` float32s per row. */
export function logitsHead(session: ort.InferenceSession, spec: LogitsHeadSpec): Head {
  const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
  return {
    outputNames: [outputName],
    writer: new BlobWriter(),
    write(outputs, r) {
      const output = outputs[outputName]!;
      const [, labels] = output.dims as [number, number];
      if (labels !== spec.labels) throw new Error(`the graph's ${outputName} has ${labels} labels per pair; ${spec.labels === 1 ? 'a reranker has one' : `the configs say ${spec.labels}`}`);
      this.writer.addFloat32(floats(output).subarray(r * labels, (r + 1) * labels));
    },
  };
}
