import { BlobWriter } from './blob-writer.ts';
import { MAX_FLOAT_TEXT_BYTES, writeFloatText } from './float-text.ts';

/** How a vector leaves the service: a JSON array of numbers, or (what the OpenAI SDKs ask for) a base64 string. */
export type VectorEncoding = 'float' | 'base64';

const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const QUOTE = 34;

/**
 * JSON texts of vectors (ASCII: numbers or base64), one blob per row (see BlobWriter): they reach the socket as
 * bytes, never parsed back.
 */
export class VectorJsonWriter extends BlobWriter {
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
    this.end(at);
  }
}
