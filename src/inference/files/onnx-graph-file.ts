/**
 * An ONNX file's graph as the ranges of its protobuf fields (protobuf-fields.ts), for edits made on the wire format
 * at load: the nodes' ops and names, the initializers', inputs' and outputs' names, the default domain's opset.
 * An edit keeps the file's bytes where it can and assembles the new model in one buffer (assembleModel), which
 * ONNX Runtime loads from memory (external data from the graph's folder).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readValueInfo, type GraphOutput } from './onnx-graph-outputs.ts';
import { FileBytes, fields, lengthFieldHeader, packedVarints, type Field } from './protobuf-fields.ts';

export interface NodeInfo {
  range: Field;
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Integer and integer-list attributes (Transpose's perm; MatMulNBits' K, N, bits, block_size). */
  ints: Map<string, number[]>;
}

export interface NamedField {
  range: Field;
  name: string;
}

export interface GraphFile {
  file: FileBytes;
  /** ModelProto's fields, the graph (7) among them. */
  modelFields: Field[];
  graphField: Field;
  /** GraphProto's fields, in order. */
  graphFields: Field[];
  nodes: NodeInfo[];
  initializers: NamedField[];
  inputs: NamedField[];
  outputs: (NamedField & GraphOutput)[];
  /** The opset version of the default ('' or 'ai.onnx') domain. */
  opset: number;
}

export const fieldText = (file: FileBytes, { start, end }: Field) => file.text(start!, end);

function readNode(file: FileBytes, range: Field): NodeInfo {
  const node: NodeInfo = { range, opType: '', inputs: [], outputs: [], ints: new Map() };
  for (const part of fields(file, range.start!, range.end)) {
    if (part.start === undefined) continue;
    if (part.field === 1) node.inputs.push(fieldText(file, part));
    else if (part.field === 2) node.outputs.push(fieldText(file, part));
    else if (part.field === 4) node.opType = fieldText(file, part);
    else if (part.field === 5) {
      let name = '';
      const values: number[] = [];
      for (const attribute of fields(file, part.start, part.end)) {
        if (attribute.field === 1 && attribute.start !== undefined) name = fieldText(file, attribute);
        if (attribute.field === 3) values.push(attribute.value!);
        if (attribute.field === 8) values.push(...(attribute.start !== undefined ? packedVarints(file, attribute.start, attribute.end) : [attribute.value!]));
      }
      node.ints.set(name, values);
    }
  }
  return node;
}

/** The name of a message whose name is field `nameField`. */
function nameOf(file: FileBytes, range: Field, nameField: number): string {
  for (const part of fields(file, range.start!, range.end)) if (part.field === nameField && part.start !== undefined) return fieldText(file, part);
  return '';
}

/** OperatorSetIdProto {domain (1), version (2)}: the default domain's version. */
function defaultOpset(file: FileBytes, modelFields: Field[]): number {
  for (const range of modelFields) {
    if (range.field !== 8 || range.start === undefined) continue;
    let domain = '';
    let version = 0;
    for (const part of fields(file, range.start, range.end)) {
      if (part.field === 1 && part.start !== undefined) domain = fieldText(file, part);
      if (part.field === 2) version = part.value!;
    }
    if (domain === '' || domain === 'ai.onnx') return version;
  }
  throw new Error('it imports no default opset');
}

function readGraphFile(fd: number): GraphFile {
  const file = new FileBytes(fd);
  const modelFields = [...fields(file, 0, file.size)];
  const graphField = modelFields.find(({ field, start }) => field === 7 && start !== undefined);
  if (!graphField) throw new Error('it has no graph');
  const graphFields = [...fields(file, graphField.start!, graphField.end)];
  const of = (field: number) => graphFields.filter((range) => range.field === field && range.start !== undefined);
  return {
    file,
    modelFields,
    graphField,
    graphFields,
    nodes: of(1).map((range) => readNode(file, range)),
    initializers: of(5).map((range) => ({ range, name: nameOf(file, range, 8) })),
    inputs: of(11).map((range) => ({ range, name: nameOf(file, range, 1) })),
    outputs: of(12).map((range) => ({ range, ...readValueInfo(file, range.start!, range.end) })),
    opset: defaultOpset(file, modelFields),
  };
}

/** Runs `edit` on the graph of `onnxFile`; its errors are prefixed with the file's name. */
export function editGraphFile<T>(onnxFile: string, edit: (graph: GraphFile) => T): T {
  const fd = openSync(onnxFile, 'r');
  try {
    return edit(readGraphFile(fd));
  } catch (error) {
    throw new Error(`${onnxFile}: ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** A piece of a new message: a range of the file's bytes, or new bytes. */
export type Piece = Field | Uint8Array;
const pieceBytes = (piece: Piece) => (piece instanceof Uint8Array ? piece.length : piece.end - piece.from);

/** The model's bytes with its graph's fields replaced by `graphPieces`, in one buffer. */
export function assembleModel({ file, modelFields, graphField }: GraphFile, graphPieces: Piece[]): Buffer {
  const graphBytes = graphPieces.reduce((sum, piece) => sum + pieceBytes(piece), 0);
  const pieces: Piece[] = [...modelFields.filter((range) => range !== graphField), lengthFieldHeader(7, graphBytes), ...graphPieces];
  const model = Buffer.allocUnsafe(pieces.reduce((sum, piece) => sum + pieceBytes(piece), 0));
  let at = 0;
  for (const piece of pieces) {
    if (piece instanceof Uint8Array) model.set(piece, at);
    else readSync(file.fd, model, at, piece.end - piece.from, piece.from);
    at += pieceBytes(piece);
  }
  return model;
}
