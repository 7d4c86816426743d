import { BlobWriter } from './blob-writer.ts';
import { MAX_FLOAT_TEXT_BYTES, writeFloatText } from './float-text.ts';
import { dtypeBytes, formatsOfBits, quantize, quantizedValues, type Int8Ranges } from './quantize.ts';

/** How a vector leaves the service: a JSON array of numbers, or (what the OpenAI SDKs ask for) a base64 string. */
export type VectorEncoding = 'float' | 'base64';

const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const QUOTE = 34;
const NEWLINE = 10;
const MINUS = 45;
const ZERO = 48;

/**
 * JSON texts of vectors (ASCII: numbers or base64), one blob per row (see BlobWriter): they reach the socket as
 * bytes, never parsed back.
 */
export class VectorJsonWriter extends BlobWriter {
  private compact = new Uint8Array(1024);

  /**
   * base64 holds the vector's little-endian float32 bytes, what the OpenAI SDKs decode: typed arrays
   * use the platform's byte order, and every platform onnxruntime-node ships binaries for is little-endian.
   */
  add(vector: Float32Array, encoding: VectorEncoding): void {
    this.end(this.writeFloats(vector, encoding === 'base64'));
  }

  /**
   * The vector in each of the formats of `bits` (quantize.ts' formatBits), in that order, one blob with a newline
   * between them (no JSON text holds one). `ranges` gives the int8/uint8 ranges, asked only when needed.
   */
  addFormats(vector: Float32Array, bits: number, ranges: () => Int8Ranges): void {
    let at = this.length;
    for (const [index, { dtype, base64 }] of formatsOfBits(bits).entries()) {
      if (index > 0) {
        this.reserve(1);
        this.scratch[at++] = NEWLINE;
        this.length = at;
      }
      if (dtype === 'float') at = this.writeFloats(vector, base64);
      else {
        if (this.compact.length < vector.length) this.compact = new Uint8Array(vector.length);
        const bytes = quantize(vector, dtype, dtype === 'int8' || dtype === 'uint8' ? ranges() : undefined, this.compact).subarray(0, dtypeBytes(dtype, vector.length));
        at = base64 ? this.writeBase64(bytes) : this.writeIntegers(quantizedValues(bytes, dtype));
      }
      this.length = at;
    }
    this.end(at);
  }

  /** Several vectors in one blob, back to back (late chunking's vectors of one sequence; see splitVectorTexts). */
  addAll(vectors: Float32Array[], encoding: VectorEncoding): void {
    for (const vector of vectors) this.length = this.writeFloats(vector, encoding === 'base64');
    this.end(this.length);
  }

  /** Writes the vector's JSON text at the end; returns where it ends. */
  private writeFloats(vector: Float32Array, base64: boolean): number {
    if (base64) return this.writeBase64(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
    this.reserve(vector.length * (MAX_FLOAT_TEXT_BYTES + 1) + 2);
    const out = this.scratch;
    let at = this.length;
    out[at++] = OPEN_BRACKET;
    for (let index = 0; index < vector.length; index++) {
      if (index > 0) out[at++] = COMMA;
      at = writeFloatText(vector[index]!, out, at);
    }
    out[at++] = CLOSE_BRACKET;
    return at;
  }

  private writeBase64(bytes: Uint8Array): number {
    this.reserve(Math.ceil(bytes.byteLength / 3) * 4 + 2);
    const out = this.scratch;
    let at = this.length;
    out[at++] = QUOTE;
    at += out.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), at, 'latin1');
    out[at++] = QUOTE;
    return at;
  }

  /** Integers of -128 to 255 as a JSON array. */
  private writeIntegers(values: Int8Array | Uint8Array): number {
    this.reserve(values.length * 5 + 2);
    const out = this.scratch;
    let at = this.length;
    out[at++] = OPEN_BRACKET;
    for (let index = 0; index < values.length; index++) {
      if (index > 0) out[at++] = COMMA;
      let value = values[index]!;
      if (value < 0) {
        out[at++] = MINUS;
        value = -value;
      }
      if (value >= 100) out[at++] = ZERO + Math.floor(value / 100);
      if (value >= 10) out[at++] = ZERO + (Math.floor(value / 10) % 10);
      out[at++] = ZERO + (value % 10);
    }
    out[at++] = CLOSE_BRACKET;
    return at;
  }
}

/** A blob of several formats (VectorJsonWriter.addFormats) split into each format's JSON text, in its order. */
export function splitFormats(blob: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let at = blob.indexOf(NEWLINE); at >= 0; at = blob.indexOf(NEWLINE, start)) {
    parts.push(blob.subarray(start, at));
    start = at + 1;
  }
  parts.push(blob.subarray(start));
  return parts;
}

/** The vector texts of a blob written by addAll, each on its own: an array ends at its `]`, a base64 string at its second `"`. */
export function splitVectorTexts(blob: Uint8Array): Uint8Array[] {
  const texts: Uint8Array[] = [];
  let start = 0;
  let quotes = 0;
  for (let at = 0; at < blob.length; at++) {
    const byte = blob[at];
    if (byte === QUOTE) quotes++;
    if (byte === CLOSE_BRACKET || (byte === QUOTE && quotes % 2 === 0)) {
      texts.push(blob.subarray(start, at + 1));
      start = at + 1;
    }
  }
  return texts;
}
