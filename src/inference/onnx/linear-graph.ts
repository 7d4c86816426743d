/**
 * A one-layer ONNX graph, `output = input × weightᵀ + bias` over the last axis of a [batch, tokens, in] float input:
 * a head's Linear (bge-m3's colbert_linear) run by ONNX Runtime rather than in JavaScript, where it cost as much as
 * the whole encoder. Written with a minimal protobuf encoder (ModelProto → GraphProto: nodes, initializers, inputs,
 * outputs), so the server needs no ONNX library.
 */

const FLOAT = 1;

/** A protobuf message: its fields, in order, as bytes. */
class Message {
  private readonly parts: Uint8Array[] = [];

  private varint(value: number) {
    const bytes: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
      bytes.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    bytes.push(rest);
    this.parts.push(Uint8Array.from(bytes));
  }

  int(field: number, value: number): this {
    this.varint(field * 8);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array | Message | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value instanceof Message ? value.finish() : value;
    this.varint(field * 8 + 2);
    this.varint(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

/** TensorProto: dims (1), data_type (2), name (8), raw_data (9). */
function tensor(name: string, dims: number[], values: Float32Array): Message {
  const message = new Message();
  for (const dim of dims) message.int(1, dim);
  return message.int(2, FLOAT).bytes(8, name).bytes(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** ValueInfoProto {name (1), type (2)}: TypeProto.tensor_type (1) {elem_type (1), shape (2) {dim (1) {dim_value (1) | dim_param (2)}}}. */
function valueInfo(name: string, dims: (number | string)[]): Message {
  const shape = new Message();
  for (const dim of dims) shape.bytes(1, typeof dim === 'number' ? new Message().int(1, dim) : new Message().bytes(2, dim));
  return new Message().bytes(1, name).bytes(2, new Message().bytes(1, new Message().int(1, FLOAT).bytes(2, shape)));
}

/** NodeProto: input (1), output (2), op_type (4). */
function node(opType: string, inputs: string[], output: string): Message {
  const message = new Message();
  for (const input of inputs) message.bytes(1, input);
  return message.bytes(2, output).bytes(4, opType);
}

/** The graph's bytes: input `input` [batch, tokens, inFeatures], output `output` [batch, tokens, outFeatures]; `weight` is [out, in] as torch's Linear. */
export function linearGraph(weight: Float32Array, bias: Float32Array, inFeatures: number): Uint8Array {
  const outFeatures = bias.length;
  const transposed = new Float32Array(weight.length);
  for (let o = 0; o < outFeatures; o++) for (let i = 0; i < inFeatures; i++) transposed[i * outFeatures + o] = weight[o * inFeatures + i]!;
  const graph = new Message()
    .bytes(1, node('MatMul', ['input', 'weight'], 'product'))
    .bytes(1, node('Add', ['product', 'bias'], 'output'))
    .bytes(2, 'linear')
    .bytes(5, tensor('weight', [inFeatures, outFeatures], transposed))
    .bytes(5, tensor('bias', [outFeatures], bias))
    .bytes(11, valueInfo('input', ['batch', 'tokens', inFeatures]))
    .bytes(12, valueInfo('output', ['batch', 'tokens', outFeatures]));
  // ir_version (1) 8, graph (7), opset_import (8) {domain (1) '', version (2) 17}.
  return new Message().int(1, 8).bytes(7, graph).bytes(8, new Message().bytes(1, '').int(2, 17)).finish();
}
