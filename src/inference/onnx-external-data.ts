/**
 * The external-data files an ONNX graph names (`TensorProto.external_data` entries with key
 * `location`), read from the graph's protobuf rather than guessed: exports name them `model.onnx_data`,
 * `model.onnx.data`, `model_fp16.onnx_data`, or one file per tensor. A minimal walk of the wire
 * format: ModelProto.graph (7) → GraphProto.initializer (5) and node attributes' tensors and
 * subgraphs → TensorProto.external_data (13) → StringStringEntryProto {key (1), value (2)}.
 */
import { readFile } from 'node:fs/promises';

const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_LENGTH = 2;
const WIRE_32BIT = 5;

/** Each field of a message: its number, wire type and, for length-delimited ones, its bytes. */
function* fields(bytes: Uint8Array): Generator<{ field: number; wire: number; value: Uint8Array | undefined }> {
  let at = 0;
  const varint = () => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[at++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
      if (at >= bytes.length) throw new Error('truncated varint');
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === WIRE_VARINT) {
      varint();
      yield { field, wire, value: undefined };
    } else if (wire === WIRE_64BIT) {
      at += 8;
      yield { field, wire, value: undefined };
    } else if (wire === WIRE_32BIT) {
      at += 4;
      yield { field, wire, value: undefined };
    } else if (wire === WIRE_LENGTH) {
      const length = varint();
      if (at + length > bytes.length) throw new Error('a field runs past the end');
      const value = bytes.subarray(at, at + length);
      at += length;
      yield { field, wire, value };
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

function tensorLocation(tensor: Uint8Array, found: Set<string>) {
  for (const { field, value } of fields(tensor)) {
    if (field !== 13 || !value) continue;
    let key = '';
    let entryValue = '';
    for (const entry of fields(value)) {
      if (entry.field === 1 && entry.value) key = text(entry.value);
      if (entry.field === 2 && entry.value) entryValue = text(entry.value);
    }
    if (key === 'location' && entryValue) found.add(entryValue);
  }
}

function graphLocations(graph: Uint8Array, found: Set<string>) {
  for (const { field, value } of fields(graph)) {
    if (!value) continue;
    if (field === 5) tensorLocation(value, found); // initializer
    if (field === 1) nodeLocations(value, found); // node
  }
}

/** NodeProto.attribute (5) → AttributeProto.t (5), .g (6), .tensors (11), .graphs (12). */
function nodeLocations(node: Uint8Array, found: Set<string>) {
  for (const { field, value } of fields(node)) {
    if (field !== 5 || !value) continue;
    for (const attribute of fields(value)) {
      if (!attribute.value) continue;
      if (attribute.field === 5 || attribute.field === 11) tensorLocation(attribute.value, found);
      if (attribute.field === 6 || attribute.field === 12) graphLocations(attribute.value, found);
    }
  }
}

/** The external-data files a graph's bytes name, relative to the graph's folder. */
export function externalDataFiles(model: Uint8Array): string[] {
  const found = new Set<string>();
  for (const { field, value } of fields(model)) if (field === 7 && value) graphLocations(value, found);
  return [...found];
}

export async function externalDataFilesOf(onnxFile: string): Promise<string[]> {
  try {
    return externalDataFiles(await readFile(onnxFile));
  } catch (error) {
    throw new Error(`${onnxFile} is not an ONNX graph (${(error as Error).message})`);
  }
}
