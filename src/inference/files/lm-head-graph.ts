/**
 * A causal LM's graph with its LM head taken off, for a reranker that needs only two of its
 * logits ("yes" and "no") at one position. onnx-community-style decoder exports end in one MatMul
 * from the last hidden state to `logits` [batch, tokens, vocabulary]: 151 669 floats a token for
 * Qwen3, 5 GB for one 8k-token pair. Here that MatMul (and a Cast after it, and a Transpose of tied
 * embeddings before it) leaves the graph, its weight too where nothing else uses it, and the
 * hidden state becomes the output in `logits`' place; the `present.N.*` key/value outputs go as
 * well (the run keeps nothing for a next step). The rows of the LM head for the tokens asked for
 * are read from the weight (inline or external data) and returned, for the worker to multiply the
 * last position by (yes-no-head.ts).
 *
 * The edit is made on the wire format (protobuf-fields.ts), at load, in the worker: the new model
 * is the file's bytes less the removed fields plus the new output, assembled in one buffer of
 * about the graph file's size, which ONNX Runtime loads from memory (external data from the
 * graph's folder: sessionOptions' `model_external_initializers_file_folder_path`).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { float16ToFloat32 } from './half-float.ts';
import { leavesFolder } from './folder-path.ts';
import { FileBytes, fields, lengthField, lengthFieldHeader, packedVarints, varintField, type Field } from './protobuf-fields.ts';

export interface HiddenStateGraph {
  /** The model's bytes without the LM head, its output `outputName`. */
  model: Uint8Array;
  /** The last hidden state, [batch, tokens, width], in the weights' element type. */
  outputName: string;
  /** Per token asked for, its row of the LM head (`width` floats). */
  rows: Float32Array[];
  width: number;
}

const LOGITS = 'logits';
const PRESENT = /^present\.\d+\.(key|value)$/;
const TENSOR_FLOAT = 1;
const TENSOR_FLOAT16 = 10;
const ELEMENT_BYTES: Record<number, number> = { [TENSOR_FLOAT]: 4, [TENSOR_FLOAT16]: 2 };

interface NodeInfo {
  range: Field;
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Integer-list attributes (Transpose's perm). */
  ints: Map<string, number[]>;
}

interface NamedField {
  range: Field;
  name: string;
}

const text = (file: FileBytes, { start, end }: Field) => file.text(start!, end);

function readNode(file: FileBytes, range: Field): NodeInfo {
  const node: NodeInfo = { range, opType: '', inputs: [], outputs: [], ints: new Map() };
  for (const part of fields(file, range.start!, range.end)) {
    if (part.start === undefined) continue;
    if (part.field === 1) node.inputs.push(text(file, part));
    else if (part.field === 2) node.outputs.push(text(file, part));
    else if (part.field === 4) node.opType = text(file, part);
    else if (part.field === 5) {
      let name = '';
      const values: number[] = [];
      for (const attribute of fields(file, part.start, part.end)) {
        if (attribute.field === 1 && attribute.start !== undefined) name = text(file, attribute);
        if (attribute.field === 8) values.push(...(attribute.start !== undefined ? packedVarints(file, attribute.start, attribute.end) : [attribute.value!]));
      }
      node.ints.set(name, values);
    }
  }
  return node;
}

/** The name of a message whose name is field `nameField`. */
function nameOf(file: FileBytes, range: Field, nameField: number): string {
  for (const part of fields(file, range.start!, range.end)) if (part.field === nameField && part.start !== undefined) return text(file, part);
  return '';
}

interface TensorInfo {
  dims: number[];
  dataType: number;
  /** Where element 0 lies: in the graph file, or in an external-data file. */
  file: string;
  offset: number;
}

/** TensorProto: dims (1), data_type (2), float_data (4), raw_data (9), external_data (13). */
function readTensor(file: FileBytes, range: Field, graphFile: string): TensorInfo {
  const dims: number[] = [];
  let dataType = 0;
  let inline: number | undefined;
  const external = new Map<string, string>();
  for (const part of fields(file, range.start!, range.end)) {
    if (part.field === 1) dims.push(...(part.start !== undefined ? packedVarints(file, part.start, part.end) : [part.value!]));
    else if (part.field === 2) dataType = part.value!;
    else if ((part.field === 9 || part.field === 4) && part.start !== undefined) inline = part.start;
    else if (part.field === 13 && part.start !== undefined) {
      let key = '';
      let value = '';
      for (const entry of fields(file, part.start, part.end)) {
        if (entry.field === 1 && entry.start !== undefined) key = text(file, entry);
        if (entry.field === 2 && entry.start !== undefined) value = text(file, entry);
      }
      external.set(key, value);
    }
  }
  const location = external.get('location');
  if (location !== undefined) {
    if (leavesFolder(location)) throw new Error(`the LM head's weight lies in ${JSON.stringify(location)}, outside the graph's folder`);
    return { dims, dataType, file: join(dirname(graphFile), location), offset: Number(external.get('offset') ?? 0) };
  }
  if (inline === undefined) throw new Error("the LM head's weight holds no data");
  return { dims, dataType, file: graphFile, offset: inline };
}

/** Per token, its row of the LM head: a row of a [vocab, width] weight, or a column of a [width, vocab] one. */
function headRows(tensor: TensorInfo, layout: 'rows' | 'columns', tokenIds: number[]): { rows: Float32Array[]; width: number } {
  const size = ELEMENT_BYTES[tensor.dataType];
  if (!size) throw new Error(`the LM head's weight has ONNX element type ${tensor.dataType}; float32 and float16 are read`);
  if (tensor.dims.length !== 2) throw new Error(`the LM head's weight has shape [${tensor.dims.join(', ')}]; expected a matrix`);
  const [vocab, width] = layout === 'rows' ? tensor.dims : [tensor.dims[1]!, tensor.dims[0]!];
  const fd = openSync(tensor.file, 'r');
  try {
    const rows = tokenIds.map((id) => {
      if (id < 0 || id >= vocab!) throw new Error(`token ${id} is outside the LM head's ${vocab} rows`);
      const bytes = Buffer.alloc(width! * size);
      if (layout === 'rows') readSync(fd, bytes, 0, bytes.length, tensor.offset + id * width! * size);
      else for (let k = 0; k < width!; k++) readSync(fd, bytes, k * size, size, tensor.offset + (k * vocab! + id) * size);
      return size === 4 ? new Float32Array(bytes.buffer, bytes.byteOffset, width!).slice() : float16ToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, width!));
    });
    return { rows, width: width! };
  } finally {
    closeSync(fd);
  }
}

/** ValueInfoProto {name, type: tensor {elem_type, shape [batch_size, sequence_length, width]}}. */
function hiddenOutput(name: string, elemType: number, width: number): Uint8Array {
  const dim = (content: Uint8Array) => lengthField(1, content);
  const shape = Buffer.concat([dim(lengthField(2, Buffer.from('batch_size'))), dim(lengthField(2, Buffer.from('sequence_length'))), dim(varintField(1, width))]);
  const tensor = Buffer.concat([varintField(1, elemType), lengthField(2, shape)]);
  return lengthField(12, Buffer.concat([lengthField(1, Buffer.from(name)), lengthField(2, lengthField(1, tensor))]));
}

type Piece = Field | Uint8Array;
const pieceBytes = (piece: Piece) => (piece instanceof Uint8Array ? piece.length : piece.end - piece.from);

/** The graph in `onnxFile` without its LM head, and the head's rows for `tokenIds`. */
export function hiddenStateGraph(onnxFile: string, tokenIds: number[]): HiddenStateGraph {
  const fd = openSync(onnxFile, 'r');
  try {
    const file = new FileBytes(fd);
    const modelFields = [...fields(file, 0, file.size)];
    const graphField = modelFields.find(({ field, start }) => field === 7 && start !== undefined);
    if (!graphField) throw new Error('it has no graph');
    const graphFields = [...fields(file, graphField.start!, graphField.end)];
    const nodes = graphFields.filter(({ field, start }) => field === 1 && start !== undefined).map((range) => readNode(file, range));
    const initializers: NamedField[] = graphFields.filter(({ field, start }) => field === 5 && start !== undefined).map((range) => ({ range, name: nameOf(file, range, 8) }));
    const outputs: NamedField[] = graphFields.filter(({ field, start }) => field === 12 && start !== undefined).map((range) => ({ range, name: nameOf(file, range, 1) }));
    if (!outputs.some(({ name }) => name === LOGITS)) throw new Error(`the graph has no ${LOGITS} output (its outputs: ${outputs.map(({ name }) => name).join(', ')})`);
    const producer = (name: string) => nodes.find((node) => node.outputs.includes(name));

    const removed = new Set<NodeInfo>();
    let head = producer(LOGITS);
    while (head?.opType === 'Cast' || head?.opType === 'Identity') {
      removed.add(head);
      head = producer(head.inputs[0]!);
    }
    if (head?.opType !== 'MatMul') {
      throw new Error(`its ${LOGITS} come from ${head ? `a ${head.opType} node` : 'no node'}; the LM head is read where it is one MatMul from the last hidden state (as in onnx-community's fp32 and fp16 exports), not in quantised or merged exports`);
    }
    removed.add(head);
    const [hidden, weightName] = head.inputs as [string, string];
    let layout: 'rows' | 'columns' = 'columns';
    let initializer = initializers.find(({ name }) => name === weightName);
    const transpose = initializer ? undefined : producer(weightName);
    if (transpose?.opType === 'Transpose' && [undefined, '1,0'].includes(transpose.ints.get('perm')?.join(','))) {
      // Tied embeddings: the head is the embedding matrix [vocab, width], transposed.
      initializer = initializers.find(({ name }) => name === transpose.inputs[0]);
      layout = 'rows';
      if (!nodes.some((node) => !removed.has(node) && node !== transpose && node.inputs.includes(weightName))) removed.add(transpose);
    }
    if (!initializer) throw new Error(`the LM head's weight ${weightName} is not a weight stored in the graph`);
    const tensor = readTensor(file, initializer.range, onnxFile);
    const { rows, width } = headRows(tensor, layout, tokenIds);
    const weightUsed = nodes.some((node) => !removed.has(node) && node.inputs.includes(initializer.name));

    const dropped = new Set<Field>([...[...removed].map(({ range }) => range), ...(weightUsed ? [] : [initializer.range])]);
    for (const { range, name } of outputs) if (name === LOGITS || PRESENT.test(name)) dropped.add(range);
    const graphPieces: Piece[] = [...graphFields.filter((range) => !dropped.has(range)), hiddenOutput(hidden, tensor.dataType, width)];
    const graphBytes = graphPieces.reduce((sum, piece) => sum + pieceBytes(piece), 0);
    const pieces: Piece[] = [
      ...modelFields.filter((range) => range !== graphField),
      lengthFieldHeader(7, graphBytes),
      ...graphPieces,
    ];
    const model = Buffer.allocUnsafe(pieces.reduce((sum, piece) => sum + pieceBytes(piece), 0));
    let at = 0;
    for (const piece of pieces) {
      if (piece instanceof Uint8Array) model.set(piece, at);
      else readSync(fd, model, at, piece.end - piece.from, piece.from);
      at += pieceBytes(piece);
    }
    return { model, outputName: hidden, rows, width };
  } catch (error) {
    throw new Error(`${onnxFile}: ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** The names of the graph's outputs (a walk of its structure, its weights skipped). */
export function graphOutputNames(onnxFile: string): string[] {
  const fd = openSync(onnxFile, 'r');
  try {
    const file = new FileBytes(fd);
    const names: string[] = [];
    for (const model of fields(file, 0, file.size)) {
      if (model.field !== 7 || model.start === undefined) continue;
      for (const part of fields(file, model.start, model.end)) if (part.field === 12 && part.start !== undefined) names.push(nameOf(file, part, 1));
    }
    return names;
  } finally {
    closeSync(fd);
  }
}
