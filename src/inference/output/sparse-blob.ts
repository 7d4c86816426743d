/**
 * The sparse output kind's bytes, written in the inference worker: per text, its `n` non-zero token ids (int32,
 * ascending), then their `n` weights (float32). SPLADE's head and bge-m3's sparse head write it; the main thread
 * reads it in src/model/head-output.ts.
 */
import type { SparseVector } from '../heads/splade.ts';
import { BlobWriter } from './blob-writer.ts';

/** Sparse blobs written back to back (a head's writer in the inference worker). */
export class SparseBlobWriter extends BlobWriter {
  add({ indices, values }: SparseVector): void {
    this.reserve(indices.byteLength + values.byteLength);
    this.scratch.set(new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength), this.length);
    this.scratch.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), this.length + indices.byteLength);
    this.end(this.length + indices.byteLength + values.byteLength);
  }
}
