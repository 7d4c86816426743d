import { MAX_FLOAT_TEXT_BYTES, writeFloatText } from './float-text.ts';

/** How a vector leaves the service: a JSON array of numbers, or (what the OpenAI SDKs ask for) a base64 string. */
export type VectorEncoding = 'float' | 'base64';

const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const QUOTE = 34;

/**
 * JSON texts of vectors (ASCII: numbers or base64), written back to back. `take` hands them over in
 * one buffer of their own with where each ends: transferred to another thread, they cost it no copy
 * and no garbage, and reach the socket as bytes. The writing goes into one reused scratch buffer.
 */
export class VectorJsonWriter {
  private scratch = Buffer.allocUnsafeSlow(64 * 1024);
  private length = 0;
  private ends: number[] = [];

  /**
   * base64 holds the vector's little-endian float32 bytes, what the OpenAI SDKs decode: typed arrays
   * use the platform's byte order, and every platform onnxruntime-node ships binaries for is little-endian.
   */
  add(vector: Float32Array, encoding: VectorEncoding): void {
    this.reserve(encoding === 'base64' ? Math.ceil(vector.byteLength / 3) * 4 + 2 : vector.length * (MAX_FLOAT_TEXT_BYTES + 1) + 2);
    const out = this.scratch;
    let at = this.length;
    if (encoding === 'base64') {
      out[at++] = QUOTE;
      at += out.write(Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64'), at, 'latin1');
      out[at++] = QUOTE;
    } else {
      out[at++] = OPEN_BRACKET;
      for (let index = 0; index < vector.length; index++) {
        if (index > 0) out[at++] = COMMA;
        at = writeFloatText(vector[index]!, out, at);
      }
      out[at++] = CLOSE_BRACKET;
    }
    this.length = at;
    this.ends.push(at);
  }

  /** What was added since the last take, and where each text ends. */
  take(): { json: Uint8Array; ends: Int32Array } {
    const json = Buffer.allocUnsafeSlow(this.length);
    this.scratch.copy(json, 0, 0, this.length);
    const ends = Int32Array.from(this.ends);
    this.length = 0;
    this.ends = [];
    return { json, ends };
  }

  private reserve(bytes: number) {
    if (this.length + bytes <= this.scratch.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(2 * this.scratch.length, this.length + bytes));
    this.scratch.copy(larger, 0, 0, this.length);
    this.scratch = larger;
  }
}
