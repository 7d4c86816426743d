/**
 * ONNX's protobuf messages written field by field (protobuf-fields.ts), for the small graphs and graph edits the
 * server makes itself (linear-graph.ts, lm-head-graph.ts, splade-max-graph.ts), so it needs no ONNX library.
 */
import { lengthField, varintField } from './protobuf-fields.ts';

/** TensorProto.DataType values. */
export const ONNX_FLOAT = 1;
export const ONNX_FLOAT16 = 10;

/** A message from its fields, in order. */
const message = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
const text = (field: number, value: string) => lengthField(field, Buffer.from(value, 'utf8'));

/** TensorProto: dims (1), data_type (2), name (8), raw_data (9); float32 values. */
export function floatTensor(name: string, dims: number[], values: Float32Array): Uint8Array {
  return message(...dims.map((dim) => varintField(1, dim)), varintField(2, ONNX_FLOAT), text(8, name), lengthField(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)));
}

/** ValueInfoProto {name (1), type (2)}: TypeProto.tensor_type (1) {elem_type (1), shape (2) {dim (1) {dim_value (1) | dim_param (2)}}}. */
export function valueInfo(name: string, elemType: number, dims: (number | string)[]): Uint8Array {
  const shape = message(...dims.map((dim) => lengthField(1, typeof dim === 'number' ? varintField(1, dim) : text(2, dim))));
  return message(text(1, name), lengthField(2, lengthField(1, message(varintField(1, elemType), lengthField(2, shape)))));
}

/** AttributeProto {name (1), i (3) | ints (8), type (20): INT 2, INTS 7}. */
export type Attribute = Uint8Array;
export const intAttribute = (name: string, value: number): Attribute => message(text(1, name), varintField(3, value), varintField(20, 2));
export const intsAttribute = (name: string, values: number[]): Attribute => message(text(1, name), ...values.map((value) => varintField(8, value)), varintField(20, 7));

/** NodeProto: input (1), output (2), op_type (4), attribute (5). */
export function node(opType: string, inputs: string[], output: string, attributes: Attribute[] = []): Uint8Array {
  return message(...inputs.map((input) => text(1, input)), text(2, output), text(4, opType), ...attributes.map((attribute) => lengthField(5, attribute)));
}

/** GraphProto fields: node (1), name (2), initializer (5), input (11), output (12). */
export const graphField = { node: 1, name: 2, initializer: 5, input: 11, output: 12 } as const;

/** A graph from its fields' contents, each as `[field, bytes]`. */
export const graph = (parts: [number, Uint8Array][]): Uint8Array => message(...parts.map(([field, content]) => lengthField(field, content)));

/** ModelProto: ir_version (1) 8, graph (7), opset_import (8) {domain (1) '', version (2)}. */
export const model = (graphBytes: Uint8Array, opset: number): Uint8Array =>
  message(varintField(1, 8), lengthField(7, graphBytes), lengthField(8, message(text(1, ''), varintField(2, opset))));

/** TensorProto of int64 values (data_type 7, raw little-endian). */
export function int64Tensor(name: string, dims: number[], values: number[]): Uint8Array {
  const raw = new BigInt64Array(values.map(BigInt));
  return message(...dims.map((dim) => varintField(1, dim)), varintField(2, 7), text(8, name), lengthField(9, new Uint8Array(raw.buffer)));
}
