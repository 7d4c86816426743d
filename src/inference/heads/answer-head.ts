/**
 * An LLM reranker's logit from its last hidden state, as the reference code computes it. Qwen3-Reranker (its card,
 * vLLM): at the pair's last token, the LM head's "yes" and "no" logits; P(yes) is their two-way softmax,
 * softmax([no, yes])[1] = sigmoid(yes − no): the head gives yes − no as the pair's one logit, its score the sigmoid
 * of it, as for a seq-cls conversion (whose score row is the "yes" row less the "no" row).
 * bge-reranker-v2-gemma (FlagLLMReranker): the "Yes" logit itself. Only the last position is multiplied, by one
 * or two rows: the graph no longer computes the vocabulary-wide logits (lm-head-graph.ts).
 */
import type ort from 'onnxruntime-node';
import type { LmHeadRows } from '../files/lm-head-graph.ts';
import { BlobWriter } from '../output/blob-writer.ts';
import { floats, type Head } from './head.ts';

/** yes · h − no · h for the hidden state h at `offset` (yes · h without a "no" row). */
export function yesNoLogit(hidden: Float32Array, offset: number, yes: Float32Array, no: Float32Array | undefined): number {
  let yesLogit = 0;
  let noLogit = 0;
  for (let i = 0; i < yes.length; i++) {
    const value = hidden[offset + i]!;
    yesLogit += value * yes[i]!;
    if (no) noLogit += value * no[i]!;
  }
  return yesLogit - noLogit;
}

/** One float32 per row, yes − no (or yes) at its last token (right padding: token `length` − 1). */
export function answerHead(graph: LmHeadRows): Head {
  const [yes, no] = graph.rows as [Float32Array, Float32Array | undefined];
  const logit = new Float32Array(1);
  // One decoded copy per run (an fp16 export's hidden state), however many rows read it.
  let decoded: { tensor: ort.Tensor; data: Float32Array } | undefined;
  return {
    outputNames: [graph.outputName],
    writer: new BlobWriter(),
    write(outputs, r, _row, length) {
      const output = outputs[graph.outputName]!;
      if (decoded?.tensor !== output) decoded = { tensor: output, data: floats(output) };
      const [, seqLen, width] = output.dims as [number, number, number];
      logit[0] = yesNoLogit(decoded.data, (r * seqLen + length - 1) * width, yes, no);
      this.writer.addFloat32(logit);
    },
  };
}
