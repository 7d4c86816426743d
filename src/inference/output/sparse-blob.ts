/**
 * The sparse output kind's bytes between the worker and the main thread: a text's `n` non-zero
 * token ids (int32, ascending), then their `n` weights (float32). SPLADE's head and bge-m3's sparse
 * head write it; the main thread decodes it here, and only here.
 */
import type { SparseVector } from '../heads/splade.ts';

/** A text's blob. */
export function sparseBytes({ indices, values }: SparseVector): Uint8Array {
  const bytes = new Uint8Array(indices.length * 8);
  bytes.set(new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength), 0);
  bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), indices.byteLength);
  return bytes;
}

/** The blob back as JSON-ready numbers (the main thread's one decode of the sparse kind). */
export function decodeSparse(bytes: Uint8Array): { indices: number[]; values: number[] } {
  const n = bytes.byteLength / 8;
  const copy = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const indices = new Int32Array(copy.buffer, copy.byteOffset, n);
  const values = new Float32Array(copy.buffer, copy.byteOffset + n * 4, n);
  return { indices: Array.from(indices), values: Array.from(values) };
}
