/**
 * The entries of a ZIP archive held in memory (what torch.save writes since torch 1.6: stored
 * entries, 64-byte aligned; deflated ones are read too), from its central directory, ZIP64 included.
 * Every offset and size is checked against the archive: a cut or forged file is an error, never a
 * read past its end.
 */
import { inflateRawSync } from 'node:zlib';

const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const END_OF_DIRECTORY_BYTES = 22;
const STORED = 0;
const DEFLATED = 8;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

export class ZipEntries {
  private constructor(
    private readonly bytes: Buffer,
    private readonly entries: Map<string, { method: number; compressed: number; size: number; headerAt: number }>,
  ) {}

  get names(): string[] {
    return [...this.entries.keys()];
  }

  /** An entry's bytes (a view for a stored one), or undefined when the archive has no such entry. */
  read(name: string): Buffer | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    const { bytes } = this;
    const { headerAt, method, compressed, size } = entry;
    if (headerAt + 30 > bytes.length || bytes.readUInt32LE(headerAt) !== LOCAL_HEADER) throw new Error(`entry ${name}'s local header is not where the directory says`);
    const start = headerAt + 30 + bytes.readUInt16LE(headerAt + 26) + bytes.readUInt16LE(headerAt + 28);
    if (start + compressed > bytes.length) throw new Error(`entry ${name} runs past the end of the archive (is it cut short?)`);
    const data = bytes.subarray(start, start + compressed);
    if (method === STORED) return data;
    const inflated = inflateRawSync(data, { maxOutputLength: Math.max(size, 1) });
    if (inflated.length !== size) throw new Error(`entry ${name} inflates to ${inflated.length} bytes, the directory says ${size}`);
    return inflated;
  }

  static parse(bytes: Buffer): ZipEntries {
    const end = findEndOfDirectory(bytes);
    let count = bytes.readUInt16LE(end + 10);
    let directorySize = bytes.readUInt32LE(end + 12);
    let directoryAt = bytes.readUInt32LE(end + 16);
    if (count === U16_MAX || directorySize === U32_MAX || directoryAt === U32_MAX) {
      const locator = end - 20;
      if (locator < 0 || bytes.readUInt32LE(locator) !== ZIP64_LOCATOR) throw new Error('its directory needs ZIP64 records, and they are missing');
      const record = safeNumber(bytes.readBigUInt64LE(locator + 8));
      if (record + 56 > bytes.length || bytes.readUInt32LE(record) !== ZIP64_END_OF_DIRECTORY) throw new Error('its ZIP64 end of directory is not where the locator says');
      count = safeNumber(bytes.readBigUInt64LE(record + 32));
      directorySize = safeNumber(bytes.readBigUInt64LE(record + 40));
      directoryAt = safeNumber(bytes.readBigUInt64LE(record + 48));
    }
    if (directoryAt + directorySize > bytes.length) throw new Error('its central directory runs past the end of the file (is it cut short?)');
    const entries = new Map<string, { method: number; compressed: number; size: number; headerAt: number }>();
    for (let at = directoryAt, index = 0; index < count; index++) {
      if (at + 46 > directoryAt + directorySize || bytes.readUInt32LE(at) !== DIRECTORY_ENTRY) throw new Error(`its central directory's entry ${index} is malformed`);
      const method = bytes.readUInt16LE(at + 10);
      let compressed = bytes.readUInt32LE(at + 20);
      let size = bytes.readUInt32LE(at + 24);
      const nameLength = bytes.readUInt16LE(at + 28);
      const extraLength = bytes.readUInt16LE(at + 30);
      const commentLength = bytes.readUInt16LE(at + 32);
      let headerAt = bytes.readUInt32LE(at + 42);
      const name = bytes.toString('utf8', at + 46, at + 46 + nameLength);
      // ZIP64 extended information: the 8-byte values of the fields that hold 0xffffffff, in this order.
      const extra = bytes.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
      for (let e = 0; e + 4 <= extra.length; e += 4 + extra.readUInt16LE(e + 2)) {
        if (extra.readUInt16LE(e) !== 0x0001) continue;
        let field = e + 4;
        const next = () => safeNumber(extra.readBigUInt64LE((field += 8) - 8));
        if (size === U32_MAX) size = next();
        if (compressed === U32_MAX) compressed = next();
        if (headerAt === U32_MAX) headerAt = next();
      }
      if (method !== STORED && method !== DEFLATED) throw new Error(`entry ${name} is compressed with method ${method}; only stored and deflated entries are read`);
      entries.set(name, { method, compressed, size, headerAt });
      at += 46 + nameLength + extraLength + commentLength;
    }
    return new ZipEntries(bytes, entries);
  }
}

function safeNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('a ZIP64 size or offset is out of range');
  return Number(value);
}

/** The end-of-central-directory record: the last one, within the 64 KiB a comment may take. */
function findEndOfDirectory(bytes: Buffer): number {
  const lowest = Math.max(0, bytes.length - END_OF_DIRECTORY_BYTES - U16_MAX);
  for (let at = bytes.length - END_OF_DIRECTORY_BYTES; at >= lowest; at--) {
    if (bytes.readUInt32LE(at) === END_OF_DIRECTORY) return at;
  }
  throw new Error('it is not a ZIP archive (no end of central directory)');
}

/** Whether the bytes start like a ZIP archive (a local file header). */
export const looksLikeZip = (bytes: Buffer): boolean => bytes.length >= 4 && bytes.readUInt32LE(0) === LOCAL_HEADER;
