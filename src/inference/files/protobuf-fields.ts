/**
 * A minimal reader of protobuf's wire format over a file, in small positional reads: a message's
 * fields are walked without reading what is skipped (a tensor's inline weights), so a 1 GB graph
 * costs its structure's few reads. ONNX graphs are read with it (onnx-external-data.ts,
 * lm-head-graph.ts); onnx-proto, which decodes whole messages, is a devDependency only.
 */
import { fstatSync, readSync } from 'node:fs';

const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_LENGTH = 2;
const WIRE_32BIT = 5;
/** Bytes read at a time around the position being parsed. */
const WINDOW_BYTES = 64 * 1024;

/** Positional reads of a file through one cached window. */
export class FileBytes {
  private window = Buffer.alloc(WINDOW_BYTES);
  private windowStart = 0;
  private windowEnd = 0;
  readonly size: number;

  constructor(readonly fd: number) {
    this.size = fstatSync(fd).size;
  }

  byte(at: number): number {
    if (at < this.windowStart || at >= this.windowEnd) {
      this.windowStart = at;
      this.windowEnd = at + readSync(this.fd, this.window, 0, WINDOW_BYTES, at);
      if (this.windowEnd <= at) throw new Error('a field runs past the end');
    }
    return this.window[at - this.windowStart]!;
  }

  bytes(start: number, end: number): Buffer {
    const bytes = Buffer.alloc(end - start);
    if (readSync(this.fd, bytes, 0, bytes.length, start) !== bytes.length) throw new Error('a field runs past the end');
    return bytes;
  }

  text(start: number, end: number): string {
    return this.bytes(start, end).toString('utf8');
  }
}

export interface Field {
  field: number;
  wire: number;
  /** Where the field starts in the file, its key included. */
  from: number;
  /** A length-delimited field's bytes, as [start, end) in the file; undefined for the other wire types. */
  start?: number;
  end: number;
  /** A varint field's value. */
  value?: number;
}

/** The fields of the message at [start, end): numbers, varint values, and for length-delimited ones where their bytes are. */
export function* fields(file: FileBytes, start: number, end: number): Generator<Field> {
  let at = start;
  const varint = () => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (at >= end) throw new Error('truncated varint');
      const byte = file.byte(at++);
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  };
  while (at < end) {
    const from = at;
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === WIRE_VARINT) {
      const value = varint();
      yield { field, wire, from, end: at, value };
    } else if (wire === WIRE_64BIT || wire === WIRE_32BIT) {
      at += wire === WIRE_64BIT ? 8 : 4;
      yield { field, wire, from, end: at };
    } else if (wire === WIRE_LENGTH) {
      const length = varint();
      if (at + length > end) throw new Error('a field runs past the end');
      yield { field, wire, from, start: at, end: at + length };
      at += length;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

/** The varints packed in a length-delimited field. */
export function packedVarints(file: FileBytes, start: number, end: number): number[] {
  const values: number[] = [];
  let result = 0;
  let scale = 1;
  for (let at = start; at < end; at++) {
    const byte = file.byte(at);
    result += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) {
      values.push(result);
      result = 0;
      scale = 1;
    }
  }
  return values;
}

/** A varint's bytes. */
function encodeVarint(value: number): Uint8Array {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Uint8Array.from(bytes);
}

/** What comes before a length-delimited field's `length` bytes: its key and length. */
export function lengthFieldHeader(field: number, length: number): Uint8Array {
  return Buffer.concat([encodeVarint(field * 8 + WIRE_LENGTH), encodeVarint(length)]);
}

/** A length-delimited field: key, length, then `content`. */
export function lengthField(field: number, content: Uint8Array): Uint8Array {
  return Buffer.concat([lengthFieldHeader(field, content.length), content]);
}

/** A varint field. */
export function varintField(field: number, value: number): Uint8Array {
  return Buffer.concat([encodeVarint(field * 8 + WIRE_VARINT), encodeVarint(value)]);
}
