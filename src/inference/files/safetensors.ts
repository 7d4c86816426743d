/**
 * safetensors files (a Dense module's weights): 8 bytes of header length (little-endian), a JSON
 * header giving each tensor's dtype, shape and data_offsets, then the data. Every claim of the
 * header is checked against the file, as the safetensors library does (each tensor's bytes are what
 * its shape and dtype make them; the tensors fill the data exactly, without gaps or overlaps), and
 * every weight against being finite: a file that lies would otherwise serve vectors of NaN.
 * Every error names the file.
 */
import { open } from 'node:fs/promises';
import { bfloat16ToFloat32, float16ToFloat32 } from './half-float.ts';

const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, F64: 8 } as const;
type FloatDtype = keyof typeof DTYPE_BYTES;
const LENGTH_BYTES = 8;
/** safetensors' own bound on a header (its MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  dtype: FloatDtype;
  shape: number[];
  /** Its bytes, as [start, end) within the data after the header. */
  start: number;
  end: number;
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isDtype = (value: unknown): value is FloatDtype => typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);

/** The header's length, from the file's first 8 bytes, checked against the file's size. */
function headerLength(prefix: Buffer, fileBytes: number): number {
  if (fileBytes < LENGTH_BYTES) throw new Error(`it is ${fileBytes} bytes long, too short for a safetensors file (8 bytes of header length, then the header)`);
  const length = prefix.readBigUInt64LE(0);
  if (length > BigInt(fileBytes - LENGTH_BYTES)) throw new Error(`its header length, ${length} bytes, runs past the end of the file (${fileBytes} bytes)`);
  if (length > BigInt(MAX_HEADER_BYTES)) throw new Error(`its header length, ${length} bytes, is over safetensors' limit of ${MAX_HEADER_BYTES}`);
  return Number(length);
}

/** The tensors a header describes, each checked against its shape, its dtype and the `dataBytes` that follow the header. */
function parseHeader(json: Buffer, dataBytes: number): Map<string, TensorEntry> {
  let header: unknown;
  try {
    header = JSON.parse(json.toString('utf8'));
  } catch (error) {
    throw new Error(`its header is not JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('its header is not a JSON object');
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (value ?? {}) as Record<string, unknown>;
    if (!isDtype(dtype)) throw new Error(`tensor ${name} is ${JSON.stringify(dtype)}; this server reads ${Object.keys(DTYPE_BYTES).join(', ')}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw new Error(`tensor ${name}'s shape ${JSON.stringify(shape)} is not a list of sizes`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw new Error(`tensor ${name}'s data_offsets ${JSON.stringify(offsets)} are not a start and an end, 0 ≤ start ≤ end`);
    }
    const [start, end] = offsets as [number, number];
    const bytes = shape.reduce((product: number, size: number) => product * size, DTYPE_BYTES[dtype]);
    if (end - start !== bytes) {
      throw new Error(`tensor ${name}, ${dtype} of shape [${shape.join(', ')}], takes ${bytes} bytes, but its data_offsets [${start}, ${end}] hold ${end - start}`);
    }
    tensors.set(name, { dtype, shape, start, end });
  }
  let covered = 0;
  for (const [name, { start, end }] of [...tensors].sort(([, a], [, b]) => a.start - b.start || a.end - b.end)) {
    if (start !== covered) throw new Error(`tensor ${name}'s data_offsets [${start}, ${end}] ${start < covered ? 'overlap another tensor' : 'leave a gap'} (the data before it ends at ${covered})`);
    covered = end;
  }
  if (covered !== dataBytes) {
    throw new Error(`its tensors take ${covered} bytes of data, but the file holds ${dataBytes} after the header${covered > dataBytes ? ' (is it cut short?)' : ''}`);
  }
  return tensors;
}

/** A tensor's values as float32, refused unless every one is finite. */
function decode(name: string, entry: TensorEntry, data: Buffer): Float32Array {
  const raw = new Uint8Array(data.subarray(entry.start, entry.end)); // a copy, aligned for the typed arrays
  const values =
    entry.dtype === 'F32'
      ? new Float32Array(raw.buffer)
      : entry.dtype === 'F16'
        ? float16ToFloat32(new Uint16Array(raw.buffer))
        : entry.dtype === 'BF16'
          ? bfloat16ToFloat32(new Uint16Array(raw.buffer))
          : Float32Array.from(new Float64Array(raw.buffer));
  const bad = values.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    const beyond = entry.dtype === 'F64' && Number.isFinite(new Float64Array(raw.buffer)[bad]) ? ' (beyond float32)' : '';
    throw new Error(`tensor ${name} holds ${values[bad]}${beyond} at index ${bad} of ${values.length}: weights must be finite numbers`);
  }
  return values;
}

const naming = <T>(path: string, work: () => Promise<T>): Promise<T> =>
  work().catch((error: Error) => {
    throw new Error(`${path}: ${error.message}`);
  });

type OpenFile = Awaited<ReturnType<typeof open>>;

/** An open file's header: its tensors, checked against the file, and where their data starts. */
async function layoutOf(file: OpenFile): Promise<{ tensors: Map<string, TensorEntry>; dataStart: number }> {
  const { size } = await file.stat();
  const prefix = Buffer.alloc(LENGTH_BYTES);
  await file.read(prefix, 0, Math.min(LENGTH_BYTES, size), 0);
  const length = headerLength(prefix, size);
  const json = Buffer.alloc(length);
  await file.read(json, 0, length, LENGTH_BYTES);
  return { tensors: parseHeader(json, size - LENGTH_BYTES - length), dataStart: LENGTH_BYTES + length };
}

/** The tensors a safetensors file holds, checked against the file, without reading their data. */
export function readSafetensorsLayout(path: string): Promise<Map<string, TensorEntry>> {
  return naming(path, async () => {
    const file = await open(path, 'r');
    try {
      return (await layoutOf(file)).tensors;
    } finally {
      await file.close();
    }
  });
}

/**
 * The named tensors of a safetensors file as float32 (those it lacks left out), reading only their
 * bytes: a whole checkpoint's file (a Stanford ColBERT's projection sits in its model.safetensors) is not read.
 */
export function readSafetensorsTensors(path: string, names: string[]): Promise<Map<string, Tensor>> {
  return naming(path, async () => {
    const file = await open(path, 'r');
    try {
      const { tensors, dataStart } = await layoutOf(file);
      const read = new Map<string, Tensor>();
      for (const name of names) {
        const entry = tensors.get(name);
        if (!entry) continue;
        const bytes = Buffer.alloc(entry.end - entry.start);
        await file.read(bytes, 0, bytes.length, dataStart + entry.start);
        read.set(name, { shape: entry.shape, data: decode(name, { ...entry, start: 0, end: bytes.length }, bytes) });
      }
      return read;
    } finally {
      await file.close();
    }
  });
}
