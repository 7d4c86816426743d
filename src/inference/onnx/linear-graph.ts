/**
 * A one-layer ONNX graph, `output = input × weightᵀ + bias` over the last axis of a [batch, tokens, in] float input:
 * a head's Linear (bge-m3's colbert_linear) run by ONNX Runtime rather than in JavaScript, where it cost as much as
 * the whole encoder.
 */
import { floatTensor, graph, graphField, model, node, ONNX_FLOAT, valueInfo } from '../files/onnx-messages.ts';

/** The graph's bytes: input `input` [batch, tokens, inFeatures], output `output` [batch, tokens, outFeatures]; `weight` is [out, in] as torch's Linear. */
export function linearGraph(weight: Float32Array, bias: Float32Array, inFeatures: number): Uint8Array {
  const outFeatures = bias.length;
  const transposed = new Float32Array(weight.length);
  for (let o = 0; o < outFeatures; o++) for (let i = 0; i < inFeatures; i++) transposed[i * outFeatures + o] = weight[o * inFeatures + i]!;
  return model(
    graph([
      [graphField.node, node('MatMul', ['input', 'weight'], 'product')],
      [graphField.node, node('Add', ['product', 'bias'], 'output')],
      [graphField.name, Buffer.from('linear')],
      [graphField.initializer, floatTensor('weight', [inFeatures, outFeatures], transposed)],
      [graphField.initializer, floatTensor('bias', [outFeatures], bias)],
      [graphField.input, valueInfo('input', ONNX_FLOAT, ['batch', 'tokens', inFeatures])],
      [graphField.output, valueInfo('output', ONNX_FLOAT, ['batch', 'tokens', outFeatures])],
    ]),
    17,
  );
}
