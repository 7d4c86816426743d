/**
 * A plain state dict saved by `torch.save` (torch ≥ 1.6's ZIP format), read without Python:
 * `<archive>/data.pkl` is a pickle (protocol 2; the few protocol-4 opcodes too) of an OrderedDict
 * whose values are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`, each storage
 * a persistent id `('storage', torch.<Dtype>Storage, key, location, numel)` whose bytes are
 * `<archive>/data/<key>`. Only those globals are known: a pickle calling anything else is refused,
 * never run. What this cannot read (the legacy pre-1.6 format, big-endian data, other dtypes or
 * objects) is refused with the command that converts the file to safetensors, which is read instead.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { bfloat16ToFloat32, float16ToFloat32 } from './half-float.ts';
import type { Tensor } from './safetensors.ts';
import { looksLikeZip, ZipEntries } from './zip-entries.ts';

const STORAGE_DTYPES = { FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8 } as const;
type StorageClass = keyof typeof STORAGE_DTYPES;

interface Global {
  global: string;
}
interface Storage {
  storage: StorageClass;
  key: string;
  numel: number;
}
interface TensorView {
  tensor: Storage;
  offset: number;
  size: number[];
  stride: number[];
}
type Value = null | boolean | number | bigint | string | Value[] | Map<Value, Value> | Global | Storage | TensorView | { mark: true };

/** The safetensors file a refused `.pt` converts to (read in its place when present), and the command that writes it. */
export function convertedPath(ptPath: string): string {
  return join(dirname(ptPath), `${basename(ptPath).replace(/\.pt$|\.bin$/, '')}.safetensors`);
}

export function conversionCommand(ptPath: string): string {
  return (
    `python3 -c "import torch; from safetensors.torch import save_file; ` +
    `save_file({k: v.float().contiguous() for k, v in torch.load('${ptPath}', map_location='cpu', weights_only=True).items()}, '${convertedPath(ptPath)}')"`
  );
}

class Refused extends Error {}

const isGlobal = (value: Value): value is Global => typeof value === 'object' && value !== null && 'global' in value;
const isStorage = (value: Value): value is Storage => typeof value === 'object' && value !== null && 'storage' in value;
const isCount = (value: Value): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const counts = (value: Value): value is number[] => Array.isArray(value) && value.every(isCount);

/** A global's REDUCE: the only calls a state dict's pickle makes. */
function call(func: Value, args: Value): Value {
  const name = isGlobal(func) ? func.global : typeof func;
  const list = Array.isArray(args) ? args : [];
  if (name === 'collections.OrderedDict' && list.length === 0) return new Map();
  if (name === 'torch._utils._rebuild_tensor_v2') {
    const [storage, offset, size, stride] = list;
    if (!storage || !isStorage(storage) || !isCount(offset!) || !counts(size!) || !counts(stride!) || size.length !== stride.length) {
      throw new Refused('a tensor is rebuilt from arguments this reader does not understand');
    }
    return { tensor: storage, offset, size, stride };
  }
  if (name === 'torch._utils._rebuild_parameter') return list[0] ?? null;
  throw new Refused(`its pickle calls ${name}, which a plain state dict of float tensors does not`);
}

/** Runs the pickle's opcodes, building only lists, tuples, dicts, numbers, strings and the calls above. */
function unpickle(data: Buffer): Value {
  const stack: Value[] = [];
  const memo = new Map<number, Value>();
  const MARK: Value = { mark: true };
  let at = 0;
  const u8 = () => data[at++]!;
  const take = (n: number) => {
    if (at + n > data.length) throw new Refused('its pickle ends in the middle of an opcode');
    const part = data.subarray(at, at + n);
    at += n;
    return part;
  };
  const u32 = () => take(4).readUInt32LE(0);
  const pop = () => {
    if (stack.length === 0) throw new Refused('its pickle pops an empty stack');
    return stack.pop()!;
  };
  const popMark = () => {
    const index = stack.lastIndexOf(MARK);
    if (index < 0) throw new Refused('its pickle has no mark to pop to');
    const items = stack.splice(index);
    items.shift();
    return items;
  };
  const setItems = (target: Value, items: Value[]) => {
    if (!(target instanceof Map)) throw new Refused('its pickle sets items on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i]!, items[i + 1]!);
  };
  const top = () => stack[stack.length - 1]!;
  while (at < data.length) {
    const opcode = String.fromCharCode(u8());
    switch (opcode) {
      case '\x80': u8(); break; // PROTO
      case '\x95': take(8); break; // FRAME
      case '.': return pop(); // STOP
      case '(': stack.push(MARK); break;
      case 'N': stack.push(null); break;
      case '\x88': stack.push(true); break;
      case '\x89': stack.push(false); break;
      case 'K': stack.push(u8()); break; // BININT1
      case 'M': stack.push(take(2).readUInt16LE(0)); break; // BININT2
      case 'J': stack.push(take(4).readInt32LE(0)); break; // BININT
      case '\x8a': { // LONG1
        const bytes = take(u8());
        let value = 0n;
        for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
        if (bytes.length > 0 && bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(8 * bytes.length);
        stack.push(Number.isSafeInteger(Number(value)) ? Number(value) : value);
        break;
      }
      case 'G': stack.push(take(8).readDoubleBE(0)); break; // BINFLOAT
      case 'X': stack.push(take(u32()).toString('utf8')); break; // BINUNICODE
      case '\x8c': stack.push(take(u8()).toString('utf8')); break; // SHORT_BINUNICODE
      case 'U': stack.push(take(u8()).toString('latin1')); break; // SHORT_BINSTRING
      case 'T': stack.push(take(u32()).toString('latin1')); break; // BINSTRING
      case ')': stack.push([]); break;
      case ']': stack.push([]); break;
      case '}': stack.push(new Map()); break;
      case 't': case 'l': stack.push(popMark()); break; // TUPLE, LIST
      case '\x85': stack.push([pop()]); break;
      case '\x86': { const b = pop(); stack.push([pop(), b]); break; }
      case '\x87': { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; }
      case 'a': { const item = pop(); (top() as Value[]).push(item); break; } // APPEND
      case 'e': { const items = popMark(); (top() as Value[]).push(...items); break; } // APPENDS
      case 's': { const value = pop(); const key = pop(); setItems(top(), [key, value]); break; }
      case 'u': { const items = popMark(); setItems(top(), items); break; }
      case 'q': memo.set(u8(), top()); break; // BINPUT
      case 'r': memo.set(u32(), top()); break; // LONG_BINPUT
      case '\x94': memo.set(memo.size, top()); break; // MEMOIZE
      case 'h': case 'j': { // BINGET, LONG_BINGET
        const index = opcode === 'h' ? u8() : u32();
        if (!memo.has(index)) throw new Refused(`its pickle reads memo ${index}, never stored`);
        stack.push(memo.get(index)!);
        break;
      }
      case 'c': { // GLOBAL: "module\nname\n"
        const endModule = data.indexOf(10, at);
        const endName = data.indexOf(10, endModule + 1);
        if (endModule < 0 || endName < 0) throw new Refused('its pickle has a malformed GLOBAL');
        stack.push({ global: `${data.toString('latin1', at, endModule)}.${data.toString('latin1', endModule + 1, endName)}` });
        at = endName + 1;
        break;
      }
      case '\x93': { const name = pop(); const module = pop(); stack.push({ global: `${String(module)}.${String(name)}` }); break; } // STACK_GLOBAL
      case 'R': { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE
      case 'b': pop(); break; // BUILD: a state dict's `_metadata` (module versions), not needed
      case 'Q': { // BINPERSID
        const pid = pop();
        const [kind, storageClass, key, , numel] = Array.isArray(pid) ? pid : [];
        const className = storageClass && isGlobal(storageClass) ? storageClass.global : '';
        const dtype = className.startsWith('torch.') ? className.slice('torch.'.length) : '';
        if (kind !== 'storage' || !Object.hasOwn(STORAGE_DTYPES, dtype)) {
          throw new Refused(`it holds a ${className || 'persistent object'}; this reader reads ${Object.keys(STORAGE_DTYPES).join(', ')}`);
        }
        if (typeof key !== 'string' || !isCount(numel!)) throw new Refused('a storage has no key and element count');
        stack.push({ storage: dtype as StorageClass, key, numel });
        break;
      }
      default:
        throw new Refused(`its pickle uses opcode 0x${opcode.charCodeAt(0).toString(16)}, which a state dict saved by torch.save does not`);
    }
  }
  throw new Refused('its pickle has no STOP');
}

function storageValues(storage: Storage, bytes: Buffer): Float32Array {
  const width = STORAGE_DTYPES[storage.storage];
  if (bytes.length !== storage.numel * width) throw new Error(`storage ${storage.key} holds ${bytes.length} bytes, its ${storage.numel} elements need ${storage.numel * width}`);
  const raw = new Uint8Array(bytes); // a copy, aligned for the typed arrays
  if (storage.storage === 'FloatStorage') return new Float32Array(raw.buffer);
  if (storage.storage === 'DoubleStorage') return Float32Array.from(new Float64Array(raw.buffer));
  const half = new Uint16Array(raw.buffer);
  return storage.storage === 'HalfStorage' ? float16ToFloat32(half) : bfloat16ToFloat32(half);
}

/** A view's elements in row-major order, read through its offset and strides. */
function gather(values: Float32Array, { offset, size, stride }: TensorView, name: string): Float32Array {
  const count = size.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  let last = offset;
  for (let axis = 0; axis < size.length; axis++) if (size[axis]! > 0) last += (size[axis]! - 1) * stride[axis]!;
  if (count > 0 && last >= values.length) throw new Error(`tensor ${name} reads past its storage (${values.length} elements)`);
  const index = new Array<number>(size.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = offset;
    for (let axis = 0; axis < size.length; axis++) at += index[axis]! * stride[axis]!;
    out[i] = values[at]!;
    for (let axis = size.length - 1; axis >= 0 && ++index[axis]! === size[axis]!; axis--) index[axis] = 0;
  }
  const bad = out.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) throw new Error(`tensor ${name} holds ${out[bad]} at index ${bad} of ${count}: weights must be finite numbers`);
  return out;
}

/** The tensors of a torch.save'd state dict in memory, as float32. */
export function parseTorchStateDict(bytes: Buffer): Map<string, Tensor> {
  if (!looksLikeZip(bytes)) throw new Refused("it is not torch's ZIP format (torch.save before torch 1.6, or not a torch file)");
  const zip = ZipEntries.parse(bytes);
  const pickles = zip.names.filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) throw new Refused(`it holds ${pickles.length} data.pkl records; a torch.save file holds one`);
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  const byteOrder = zip.read(`${prefix}byteorder`)?.toString('latin1');
  if (byteOrder !== undefined && byteOrder !== 'little') throw new Refused(`its data is ${byteOrder}-endian`);
  const root = unpickle(zip.read(pickles[0]!)!);
  if (!(root instanceof Map)) throw new Refused('it holds something other than a state dict (a dict of tensors)');
  const storages = new Map<string, Float32Array>();
  const tensors = new Map<string, Tensor>();
  for (const [name, value] of root) {
    if (typeof name !== 'string' || typeof value !== 'object' || value === null || !('tensor' in value)) {
      throw new Refused(`its entry ${String(name)} is not a tensor`);
    }
    const { tensor: storage } = value;
    let values = storages.get(storage.key);
    if (!values) {
      const data = zip.read(`${prefix}data/${storage.key}`);
      if (!data) throw new Error(`storage ${storage.key} of tensor ${name} is missing from the archive`);
      storages.set(storage.key, (values = storageValues(storage, data)));
    }
    tensors.set(name, { shape: value.size, data: gather(values, value, name) });
  }
  return tensors;
}

/** Every tensor of a `.pt` state dict as float32; every error names the file, and a refusal gives the command that converts it. */
export async function readTorchStateDict(path: string): Promise<Map<string, Tensor>> {
  const bytes = await readFile(path);
  try {
    return parseTorchStateDict(bytes);
  } catch (error) {
    const convert = error instanceof Refused ? `; convert it to safetensors, which is read in its place: ${conversionCommand(path)}` : '';
    throw new Error(`${path}: ${(error as Error).message}${convert}`);
  }
}
