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
 * The edit is made on the wire format (onnx-graph-file.ts), at load, in the worker: the new model
 * is the file's bytes less the removed fields plus the new output, assembled in one buffer of
 * about the graph file's size, which ONNX Runtime loads from memory (external data from the
 * graph's folder: sessionOptions' `model_external_initializers_file_folder_path`).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { float16ToFloat32 } from './half-float.ts';
import { leavesFolder } from './folder-path.ts';
import { assembleModel, editGraphFile, fieldText, type NamedField, type NodeInfo } from './onnx-graph-file.ts';
import { graphField as GRAPH, ONNX_FLOAT, ONNX_FLOAT16, valueInfo } from './onnx-messages.ts';
import { FileBytes, fields, lengthField, packedVarints, type Field } from './protobuf-fields.ts';

/** What a worker multiplies the last hidden state by, and which output holds it. */
export interface LmHeadRows {
  /** The last hidden state, [batch, tokens, width], in the weights' element type. */
  outputName: string;
  /** Per token asked for, its row of the LM head (`width` floats). */
  rows: Float32Array[];
  width: number;
}

export interface HiddenStateGraph {
  /** The model's bytes without the LM head, its output the head's `outputName`. */
  model: Uint8Array;
  head: LmHeadRows;
}

const LOGITS = 'logits';
const PRESENT = /^present\.\d+\.(key|value)$/;
const TENSOR_UINT8 = 2;
const ELEMENT_BYTES: Record<number, number> = { [ONNX_FLOAT]: 4, [ONNX_FLOAT16]: 2 };

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
        if (entry.field === 1 && entry.start !== undefined) key = fieldText(file, entry);
        if (entry.field === 2 && entry.start !== undefined) value = fieldText(file, entry);
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

/** `length` bytes of a tensor's data from byte `at` of it. */
function tensorBytes(tensor: TensorInfo, at: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  const fd = openSync(tensor.file, 'r');
  try {
    if (readSync(fd, bytes, 0, length, tensor.offset + at) !== length) throw new Error("the LM head's weights end early");
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** A float tensor's values from element `first`, `count` of them, `stride` elements apart. */
function tensorFloats(tensor: TensorInfo, first: number, count: number, stride = 1): Float32Array {
  const size = ELEMENT_BYTES[tensor.dataType];
  if (!size) throw new Error(`the LM head's weights have ONNX element type ${tensor.dataType}; float32 and float16 are read`);
  const bytes = Buffer.alloc(count * size);
  if (stride === 1) bytes.set(tensorBytes(tensor, first * size, count * size));
  else for (let k = 0; k < count; k++) bytes.set(tensorBytes(tensor, (first + k * stride) * size, size), k * size);
  return size === 4 ? new Float32Array(bytes.buffer, bytes.byteOffset, count).slice() : float16ToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, count));
}

function checkToken(id: number, vocab: number) {
  if (!(id >= 0 && id < vocab)) throw new Error(`token ${id} is outside the LM head's ${vocab} rows`);
}

/** A row of a [vocab, width] weight, or a column of a [width, vocab] one. */
function floatRow(tensor: TensorInfo, layout: 'rows' | 'columns', id: number): Float32Array {
  if (tensor.dims.length !== 2) throw new Error(`the LM head's weight has shape [${tensor.dims.join(', ')}]; expected a matrix`);
  const [vocab, width] = (layout === 'rows' ? tensor.dims : [tensor.dims[1], tensor.dims[0]]) as [number, number];
  checkToken(id, vocab);
  return layout === 'rows' ? tensorFloats(tensor, id * width, width) : tensorFloats(tensor, id, width, vocab);
}

/**
 * A row of MatMulNBits' 4-bit weight (onnxruntime's MatMul4BitsQuantizer): B [N, blocks, block_size / 2], two values
 * a byte (low nibble first); per row and block a scale, and a zero point (packed two a byte per row; 8 when absent).
 */
function fourBitRow(b: TensorInfo, scales: TensorInfo, zeroPoints: TensorInfo | undefined, shape: { k: number; n: number; block: number }, id: number): Float32Array {
  checkToken(id, shape.n);
  const blocks = Math.ceil(shape.k / shape.block);
  const blob = shape.block / 2;
  const packed = tensorBytes(b, id * blocks * blob, blocks * blob);
  const scale = tensorFloats(scales, id * blocks, blocks);
  const zeroBytes = Math.ceil(blocks / 2);
  const zero = zeroPoints && tensorBytes(zeroPoints, id * zeroBytes, zeroBytes);
  const row = new Float32Array(shape.k);
  for (let k = 0; k < shape.k; k++) {
    const block = Math.floor(k / shape.block);
    const j = k % shape.block;
    const q = (packed[block * blob + (j >> 1)]! >> ((j & 1) * 4)) & 15;
    const z = zero ? (zero[block >> 1]! >> ((block & 1) * 4)) & 15 : 8;
    row[k] = (q - z) * scale[block]!;
  }
  return row;
}

/** The graph in `onnxFile` without its LM head, and the head's rows for `tokenIds`. */
export function hiddenStateGraph(onnxFile: string, tokenIds: number[]): HiddenStateGraph {
  return editGraphFile(onnxFile, (graph) => {
    const { file, nodes, initializers, outputs } = graph;
    if (!outputs.some(({ name }) => name === LOGITS)) throw new Error(`the graph has no ${LOGITS} output (its outputs: ${outputs.map(({ name }) => name).join(', ')})`);
    const producer = (name: string) => nodes.find((node) => node.outputs.includes(name));

    const removed = new Set<NodeInfo>();
    let head = producer(LOGITS);
    while (head?.opType === 'Cast' || head?.opType === 'Identity') {
      removed.add(head);
      head = producer(head.inputs[0]!);
    }
    if (head?.opType !== 'MatMul' && head?.opType !== 'MatMulNBits') {
      throw new Error(`its ${LOGITS} come from ${head ? `${/^[AEIOU]/.test(head.opType) ? 'an' : 'a'} ${head.opType} node` : 'no node'}; the LM head is read where it is one MatMul (float32, float16) or 4-bit MatMulNBits from the last hidden state, as in onnx-community's exports, not in merged or otherwise quantised ones`);
    }
    removed.add(head);
    const hidden = head.inputs[0]!;
    const tensorNamed = (name: string) => {
      const initializer = initializers.find((entry) => entry.name === name);
      if (!initializer) throw new Error(`the LM head's ${name} is not a weight stored in the graph`);
      return { initializer, tensor: readTensor(file, initializer.range, onnxFile) };
    };
    let rows: Float32Array[];
    let elemType: number;
    const weights: NamedField[] = [];
    if (head.opType === 'MatMulNBits') {
      const [, bName, scalesName, zeroName, groupIndex, bias] = head.inputs;
      const attribute = (name: string) => head.ints.get(name)?.[0];
      const shape = { k: attribute('K')!, n: attribute('N')!, block: attribute('block_size')! };
      if (attribute('bits') !== 4 || !(shape.k > 0 && shape.n > 0 && shape.block > 0) || groupIndex || bias) {
        throw new Error(`its LM head is a MatMulNBits of ${attribute('bits')} bits${groupIndex || bias ? ' with g_idx or a bias' : ''}; 4-bit ones without are read`);
      }
      const [b, scales] = [tensorNamed(bName!), tensorNamed(scalesName!)];
      const zero = zeroName ? tensorNamed(zeroName) : undefined;
      if (zero && zero.tensor.dataType !== TENSOR_UINT8) throw new Error("its LM head's zero points are not packed 4-bit values");
      weights.push(b.initializer, scales.initializer, ...(zero ? [zero.initializer] : []));
      rows = tokenIds.map((id) => fourBitRow(b.tensor, scales.tensor, zero?.tensor, shape, id));
      elemType = scales.tensor.dataType;
    } else {
      const weightName = head.inputs[1]!;
      const transpose = initializers.some(({ name }) => name === weightName) ? undefined : producer(weightName);
      // Tied embeddings: the head is the embedding matrix [vocab, width], transposed.
      const tied = transpose?.opType === 'Transpose' && [undefined, '1,0'].includes(transpose.ints.get('perm')?.join(','));
      if (tied && !nodes.some((node) => !removed.has(node) && node !== transpose && node.inputs.includes(weightName))) removed.add(transpose);
      const { initializer, tensor } = tensorNamed(tied ? transpose.inputs[0]! : weightName);
      weights.push(initializer);
      rows = tokenIds.map((id) => floatRow(tensor, tied ? 'rows' : 'columns', id));
      elemType = tensor.dataType;
    }
    const width = rows[0]!.length;
    const unused = weights.filter(({ name }) => !nodes.some((node) => !removed.has(node) && node.inputs.includes(name)));

    const dropped = new Set<Field>([...[...removed].map(({ range }) => range), ...unused.map(({ range }) => range)]);
    for (const { range, name } of outputs) if (name === LOGITS || PRESENT.test(name)) dropped.add(range);
    const hiddenOutput = lengthField(GRAPH.output, valueInfo(hidden, elemType, ['batch_size', 'sequence_length', width]));
    const model = assembleModel(graph, [...graph.graphFields.filter((range) => !dropped.has(range)), hiddenOutput]);
    return { model, head: { outputName: hidden, rows, width } };
  });
}
