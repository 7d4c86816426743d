/**
 * The outputs an ONNX graph declares, with their shapes, read from the protobuf before any session
 * exists (what a model serves depends on them: an all-in-one bge-m3 export outputs its three heads):
 * ModelProto.graph (7) → GraphProto.output (12) → ValueInfoProto {name (1), type (2) → TypeProto.tensor_type (1)
 * → shape (2) → dim (1) → {dim_value (1), dim_param (2)}}.
 */
import { closeSync, openSync } from 'node:fs';
import { fields, FileBytes } from './protobuf-fields.ts';

export interface GraphOutput {
  name: string;
  /** TensorProto.DataType of its elements (1 float, 10 float16); 0 when not a tensor. */
  elemType: number;
  /** Each axis's size, or its symbolic name (`batch_size`), or undefined when the graph leaves it unnamed. */
  dims: (number | string | undefined)[];
}

function within(file: FileBytes, start: number, end: number, field: number): { start: number; end: number } | undefined {
  for (const entry of fields(file, start, end)) if (entry.field === field && entry.start !== undefined) return { start: entry.start, end: entry.end! };
  return undefined;
}

/** A ValueInfoProto at [start, end): its name, element type and shape. */
export function readValueInfo(file: FileBytes, start: number, end: number): GraphOutput {
  let name = '';
  let elemType = 0;
  const dims: GraphOutput['dims'] = [];
  for (const entry of fields(file, start, end)) {
    if (entry.field === 1 && entry.start !== undefined) name = file.text(entry.start, entry.end!);
    if (entry.field !== 2 || entry.start === undefined) continue;
    const tensor = within(file, entry.start, entry.end!, 1);
    if (tensor) for (const part of fields(file, tensor.start, tensor.end)) if (part.field === 1 && part.value !== undefined) elemType = part.value;
    const shape = tensor && within(file, tensor.start, tensor.end, 2);
    if (!shape) continue;
    for (const dim of fields(file, shape.start, shape.end)) {
      if (dim.field !== 1 || dim.start === undefined) continue;
      let size: number | string | undefined;
      for (const part of fields(file, dim.start, dim.end!)) {
        if (part.field === 1) size = part.value;
        if (part.field === 2 && part.start !== undefined) size = file.text(part.start, part.end!);
      }
      dims.push(size);
    }
  }
  return { name, elemType, dims };
}

export function graphOutputsOf(onnxFile: string): GraphOutput[] {
  const fd = openSync(onnxFile, 'r');
  try {
    const file = new FileBytes(fd);
    const graph = within(file, 0, file.size, 7);
    if (!graph) throw new Error('it has no graph');
    const outputs: GraphOutput[] = [];
    for (const entry of fields(file, graph.start, graph.end)) if (entry.field === 12 && entry.start !== undefined) outputs.push(readValueInfo(file, entry.start, entry.end!));
    return outputs;
  } catch (error) {
    throw new Error(`${onnxFile} is not an ONNX graph (${(error as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

/** The names of the graph's outputs. */
export const graphOutputNames = (onnxFile: string): string[] => graphOutputsOf(onnxFile).map(({ name }) => name);
