/**
 * Writes a state dict as torch.save does (torch ≥ 1.6): a ZIP of stored entries `<archive>/data.pkl`
 * (pickle protocol 2 of an OrderedDict of `_rebuild_tensor_v2` calls on persistent storages),
 * `<archive>/data/<key>` and `<archive>/version`, byte for byte the opcodes torch 1.13 emits for a
 * Linear's state dict; test/fixtures/torch/*.pt are real torch.save files to check the reader against.
 */
import { crc32 } from 'node:zlib';
import { float16ToFloat32 } from '../../src/inference/files/half-float.ts';

export interface PtTensor {
  shape: number[];
  data: Float32Array;
  /** Stored as float16 (FlagEmbedding saves bge-m3's heads so). */
  half?: boolean;
}

class Pickle {
  private parts: Buffer[] = [];
  private memo = 0;
  op(code: string, bytes: Buffer = Buffer.alloc(0)) {
    this.parts.push(Buffer.from(code, 'latin1'), bytes);
    return this;
  }
  put() {
    return this.op('q', Buffer.of(this.memo++));
  }
  global(module: string, name: string) {
    return this.op('c', Buffer.from(`${module}\n${name}\n`, 'latin1')).put();
  }
  text(value: string) {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return this.op('X', Buffer.concat([length, bytes])).put();
  }
  int(value: number) {
    if (value < 256) return this.op('K', Buffer.of(value));
    if (value < 65536) {
      const bytes = Buffer.alloc(2);
      bytes.writeUInt16LE(value);
      return this.op('M', bytes);
    }
    const bytes = Buffer.alloc(4);
    bytes.writeInt32LE(value);
    return this.op('J', bytes);
  }
  tuple(values: number[]) {
    if (values.length === 0) return this.op(')');
    if (values.length <= 3) {
      values.forEach((value) => this.int(value));
      return this.op(['\x85', '\x86', '\x87'][values.length - 1]!).put();
    }
    this.op('(');
    values.forEach((value) => this.int(value));
    return this.op('t').put();
  }
  bytes() {
    return Buffer.concat(this.parts);
  }
}

const stridesOf = (shape: number[]) => shape.map((_, axis) => shape.slice(axis + 1).reduce((a, b) => a * b, 1));

function pickleStateDict(tensors: Record<string, PtTensor>, rebuild: [string, string]): Buffer {
  const p = new Pickle();
  p.op('\x80', Buffer.of(2)).global('collections', 'OrderedDict').op(')').op('R').put().op('(');
  Object.entries(tensors).forEach(([name, tensor], key) => {
    p.text(name).global(...rebuild).op('(').op('(').text('storage').global('torch', tensor.half ? 'HalfStorage' : 'FloatStorage');
    p.text(String(key)).text('cpu').int(tensor.data.length).op('t').put().op('Q');
    p.int(0).tuple(tensor.shape).tuple(stridesOf(tensor.shape)).op('\x89').global('collections', 'OrderedDict').op(')').op('R').put().op('t').put().op('R').put();
  });
  p.op('u');
  // The state dict's _metadata (module versions), set by BUILD as torch writes it.
  p.op('}').put().text('_metadata').global('collections', 'OrderedDict').op(')').op('R').put().text('').op('}').put().text('version').int(1).op('s').op('s').op('s').op('b').op('.');
  return p.bytes();
}

function halfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent <= 0) return sign; // the fixtures' weights are far from float16's subnormals
  if (exponent >= 31) return sign | 0x7c00;
  // Round to nearest even, as torch's .half() does.
  const rest = mantissa & 0x1fff;
  mantissa >>>= 13;
  let half = sign | (exponent << 10) | mantissa;
  if (rest > 0x1000 || (rest === 0x1000 && (mantissa & 1) === 1)) half++;
  return half;
}

/** A value as float16 holds it: the weights a float16 `.pt` gives. */
export const asHalf = (data: Float32Array): Float32Array => float16ToFloat32(Uint16Array.from(data, halfBits));

function storageBytes(tensor: PtTensor): Buffer {
  if (!tensor.half) return Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return Buffer.from(Uint16Array.from(tensor.data, halfBits).buffer);
}

/** A ZIP of stored entries, each one's data 64-byte aligned as torch's writer pads them. */
function zip(entries: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const padding = (64 - ((offset + 30 + nameBytes.length + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + padding);
    extra.writeUInt16LE(0x4b46, 0); // "FB": torch's padding field
    extra.writeUInt16LE(padding, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    directory.push(central, nameBytes);
    parts.push(local, nameBytes, extra, data);
    offset += 30 + nameBytes.length + extra.length + data.length;
  }
  const directoryBytes = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directoryBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directoryBytes, end]);
}

/** The bytes of `torch.save(state_dict, '<archive>.pt')`; `rebuild` swaps the function each tensor is rebuilt with (a forged file). */
export function torchSaveBytes(tensors: Record<string, PtTensor>, archive = 'archive', rebuild: [string, string] = ['torch._utils', '_rebuild_tensor_v2']): Buffer {
  return zip([
    [`${archive}/data.pkl`, pickleStateDict(tensors, rebuild)],
    ...Object.values(tensors).map((tensor, key): [string, Buffer] => [`${archive}/data/${key}`, storageBytes(tensor)]),
    [`${archive}/version`, Buffer.from('3\n')],
  ]);
}
