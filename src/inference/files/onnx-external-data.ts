/**
 * The external-data files an ONNX graph names (`TensorProto.external_data` entries with key
 * `location`), read from the graph's protobuf rather than guessed: exports name them `model.onnx_data`,
 * `model.onnx.data`, `model_fp16.onnx_data`, or one file per tensor. A minimal walk of the wire
 * format: ModelProto.graph (7) → GraphProto.initializer (5) and node attributes' tensors and
 * subgraphs → TensorProto.external_data (13) → StringStringEntryProto {key (1), value (2)}.
 * The walk skips every field it does not descend into (protobuf-fields.ts): a 1 GB graph with its
 * weights inside costs the structure's few reads, not 1 GB of memory at the start.
 */
import { closeSync, openSync } from 'node:fs';
import { leavesFolder } from './folder-path.ts';
import { FileBytes, fields } from './protobuf-fields.ts';

function tensorLocation(file: FileBytes, start: number, end: number, found: Set<string>) {
  for (const entry of fields(file, start, end)) {
    if (entry.field !== 13 || entry.start === undefined) continue;
    let key = '';
    let value = '';
    for (const part of fields(file, entry.start, entry.end!)) {
      if (part.field === 1 && part.start !== undefined) key = file.text(part.start, part.end!);
      if (part.field === 2 && part.start !== undefined) value = file.text(part.start, part.end!);
    }
    if (key === 'location' && value) found.add(value);
  }
}

function graphLocations(file: FileBytes, start: number, end: number, found: Set<string>) {
  for (const { field, start: at, end: until } of fields(file, start, end)) {
    if (at === undefined) continue;
    if (field === 5) tensorLocation(file, at, until!, found); // initializer
    if (field === 1) nodeLocations(file, at, until!, found); // node
  }
}

/** NodeProto.attribute (5) → AttributeProto.t (5), .g (6), .tensors (11), .graphs (12). */
function nodeLocations(file: FileBytes, start: number, end: number, found: Set<string>) {
  for (const { field, start: at, end: until } of fields(file, start, end)) {
    if (field !== 5 || at === undefined) continue;
    for (const attribute of fields(file, at, until!)) {
      if (attribute.start === undefined) continue;
      if (attribute.field === 5 || attribute.field === 11) tensorLocation(file, attribute.start, attribute.end!, found);
      if (attribute.field === 6 || attribute.field === 12) graphLocations(file, attribute.start, attribute.end!, found);
    }
  }
}

/** The external-data files the graph in `onnxFile` names, relative to the graph's folder. */
export async function externalDataFilesOf(onnxFile: string): Promise<string[]> {
  const fd = openSync(onnxFile, 'r');
  try {
    const file = new FileBytes(fd);
    const found = new Set<string>();
    try {
      for (const { field, start, end } of fields(file, 0, file.size)) if (field === 7 && start !== undefined) graphLocations(file, start, end!, found);
    } catch (error) {
      throw new Error(`${onnxFile} is not an ONNX graph (${(error as Error).message})`);
    }
    // ONNX Runtime refuses them too, but only in the worker, after the primary has sized (or the downloader fetched) them.
    const outside = [...found].find(leavesFolder);
    if (outside !== undefined) throw new Error(`${onnxFile} keeps weights in ${JSON.stringify(outside)}, outside its folder: external data must lie beside the graph`);
    return [...found];
  } finally {
    closeSync(fd);
  }
}

/** The names of the graph's outputs (ModelProto.graph (7) → GraphProto.output (12) → ValueInfoProto.name (1)), by the same walk. */
export function graphOutputNames(onnxFile: string): string[] {
  const fd = openSync(onnxFile, 'r');
  try {
    const file = new FileBytes(fd);
    const names: string[] = [];
    try {
      for (const model of fields(file, 0, file.size)) {
        if (model.field !== 7 || model.start === undefined) continue;
        for (const graph of fields(file, model.start, model.end!)) {
          if (graph.field !== 12 || graph.start === undefined) continue;
          for (const part of fields(file, graph.start, graph.end!)) if (part.field === 1 && part.start !== undefined) names.push(file.text(part.start, part.end!));
        }
      }
    } catch (error) {
      throw new Error(`${onnxFile} is not an ONNX graph (${(error as Error).message})`);
    }
    return names;
  } finally {
    closeSync(fd);
  }
}
