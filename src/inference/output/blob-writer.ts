/**
 * Per-row blobs of bytes, written back to back. `take` hands them over in one buffer of their own with where each
 * ends: transferred to another thread, they cost it no copy and no garbage. The writing goes into one reused
 * scratch buffer.
 */
export class BlobWriter {
  protected scratch = Buffer.allocUnsafeSlow(64 * 1024);
  protected length = 0;
  private ends: number[] = [];

  /** A row's float32 values as their bytes (the platform's order: little-endian wherever onnxruntime-node runs). */
  addFloat32(values: Float32Array): void {
    this.reserve(values.byteLength);
    this.scratch.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), this.length);
    this.end(this.length + values.byteLength);
  }

  /** What was added since the last take, and where each blob ends. */
  take(): { bytes: Uint8Array; ends: Int32Array } {
    const bytes = Buffer.allocUnsafeSlow(this.length);
    this.scratch.copy(bytes, 0, 0, this.length);
    const ends = Int32Array.from(this.ends);
    this.length = 0;
    this.ends = [];
    return { bytes, ends };
  }

  /** Closes the blob being written at `at`. */
  protected end(at: number) {
    this.length = at;
    this.ends.push(at);
  }

  /** Room for `bytes` more in the scratch buffer. */
  protected reserve(bytes: number) {
    if (this.length + bytes <= this.scratch.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(2 * this.scratch.length, this.length + bytes));
    this.scratch.copy(larger, 0, 0, this.length);
    this.scratch = larger;
  }
}
