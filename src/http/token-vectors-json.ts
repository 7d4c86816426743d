/**
 * Token vectors (a multi-vector answer: float32 rows of `width` back to back) as the JSON value of
 * a data item's `embedding`: an array of rows of numbers, or one base64 string of the rows'
 * little-endian float32 bytes. An answer may run to millions of values (MAX_MULTI_VECTOR_VALUES
 * bounds it), so the text is written in slices, each in a turn of the event loop of its own: other
 * requests are served between them, and a request whose client left stops at the next one.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CancelSignal } from '../cancellation.ts';
import { MAX_FLOAT_TEXT_BYTES, writeFloatText } from '../inference/output/float-text.ts';
import type { VectorEncoding } from '../inference/output/vector-text.ts';

/** Values written per turn of the event loop: ~1 ms of the HTTP thread as numbers (a loaded 2-core machine: ~20 ms per 32k), far less as base64. */
const VALUES_PER_TURN = 16 * 1024;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const QUOTE = 34;

/** The rows as JSON text bytes, `[[x,…],…]` or `"<base64>"`, in the parts it is written in, one per slice: a large answer need not be copied into one buffer. */
export async function tokenVectorsJsonParts(rows: Float32Array, width: number, encoding: VectorEncoding, signal?: CancelSignal): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  if (encoding === 'base64') {
    const bytes = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength);
    // Slices of a multiple of 3 bytes encode to base64 that joins into the whole's.
    const sliceBytes = VALUES_PER_TURN * 12;
    parts.push(Buffer.of(QUOTE));
    for (let start = 0; start < bytes.length; start += sliceBytes) {
      if (start > 0) await nextTurn(signal);
      parts.push(Buffer.from(bytes.subarray(start, start + sliceBytes).toString('base64'), 'latin1'));
    }
    parts.push(Buffer.of(QUOTE));
    return parts;
  }
  const count = width > 0 ? rows.length / width : 0;
  const rowsPerTurn = Math.max(1, Math.floor(VALUES_PER_TURN / Math.max(width, 1)));
  for (let first = 0; first < count || first === 0; first += rowsPerTurn) {
    if (first > 0) await nextTurn(signal);
    const last = Math.min(count, first + rowsPerTurn);
    const out = Buffer.allocUnsafe((last - first) * (width * (MAX_FLOAT_TEXT_BYTES + 1) + 3) + 2);
    let at = 0;
    if (first === 0) out[at++] = OPEN_BRACKET;
    for (let row = first; row < last; row++) {
      if (row > 0) out[at++] = COMMA;
      out[at++] = OPEN_BRACKET;
      for (let i = 0, index = row * width; i < width; i++, index++) {
        if (i > 0) out[at++] = COMMA;
        at = writeFloatText(rows[index]!, out, at);
      }
      out[at++] = CLOSE_BRACKET;
    }
    if (last === count) out[at++] = CLOSE_BRACKET;
    parts.push(out.subarray(0, at));
  }
  return parts;
}

async function nextTurn(signal: CancelSignal | undefined) {
  await yieldToEventLoop();
  signal?.throwIfAborted();
}
