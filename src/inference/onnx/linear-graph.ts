/**
 * A one-layer ONNX graph, `output = input × weightᵀ + bias` over the last axis of a [batch, tokens, in] float input:
 * a head's Linear (bge-m3's colbert_linear) run by ONNX Runtime rather than in JavaScript, where it cost as much as
 * the whole encoder. Written field by field (ModelProto → GraphProto: nodes, initializers, inputs,
 * outputs: protobuf-fields.ts), so the server needs no ONNX library.
 */
import { lengthField, varintField } from '../files/protobuf-fields.ts';

const FLOAT = 1;

/** A message from its fields, in order; a string field as its UTF-8 bytes. */
const message = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
const text = (field: number, value: string) => lengthField(field, Buffer.from(value, 'utf8'));

/** TensorProto: dims (1), data_type (2), name (8), raw_data (9). */
function tensor(name: string, dims: number[], values: Float32Array): Uint8Array {
  return message(...dims.map((dim) => varintField(1, dim)), varintField(2, FLOAT), text(8, name), lengthField(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)));
}

/** ValueInfoProto {name (1), type (2)}: TypeProto.tensor_type (1) {elem_type (1), shape (2) {dim (1) {dim_value (1) | dim_param (2)}}}. */
function valueInfo(name: string, dims: (number | string)[]): Uint8Array {
  const shape = message(...dims.map((dim) => lengthField(1, typeof dim === 'number' ? varintField(1, dim) : text(2, dim))));
  return message(text(1, name), lengthField(2, lengthField(1, message(varintField(1, FLOAT), lengthField(2, shape)))));
}

/** NodeProto: input (1), output (2), op_type (4). */
function node(opType: string, inputs: string[], output: string): Uint8Array {
  return message(...inputs.map((input) => text(1, input)), text(2, output), text(4, opType));
}

/** The graph's bytes: input `input` [batch, tokens, inFeatures], output `output` [batch, tokens, outFeatures]; `weight` is [out, in] as torch's Linear. */
export function linearGraph(weight: Float32Array, bias: Float32Array, inFeatures: number): Uint8Array {
  const outFeatures = bias.length;
  const transposed = new Float32Array(weight.length);
  for (let o = 0; o < outFeatures; o++) for (let i = 0; i < inFeatures; i++) transposed[i * outFeatures + o] = weight[o * inFeatures + i]!;
  const graph = message(
    lengthField(1, node('MatMul', ['input', 'weight'], 'product')),
    lengthField(1, node('Add', ['product', 'bias'], 'output')),
    text(2, 'linear'),
    lengthField(5, tensor('weight', [inFeatures, outFeatures], transposed)),
    lengthField(5, tensor('bias', [outFeatures], bias)),
    lengthField(11, valueInfo('input', ['batch', 'tokens', inFeatures])),
    lengthField(12, valueInfo('output', ['batch', 'tokens', outFeatures])),
  );
  // ir_version (1) 8, graph (7), opset_import (8) {domain (1) '', version (2) 17}.
  return message(varintField(1, 8), lengthField(7, graph), lengthField(8, message(text(1, ''), varintField(2, 17))));
}
