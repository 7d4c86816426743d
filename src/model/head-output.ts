/**
 * The main thread's side of each head kind (heads/head-spec.ts): what a row's blob from the inference worker means,
 * and the warm-up's checks of it.
 */
import type { ModelDescription } from '../inference/files/model-files.ts';
import type { HeadSpec, PooledHeadSpec } from '../inference/heads/head-spec.ts';

/** A logits blob: the row's float32 logits (each head's blobs sit in a buffer of their own, each a whole number of floats). */
export function decodeLogits(blob: Uint8Array): Float32Array {
  return blob.byteOffset % 4 === 0 ? new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4) : new Float32Array(blob.slice().buffer);
}

/** A float32 blob's values, without a copy where the blob is aligned. */
const float32s = (blob: Uint8Array, from = 0, count = (blob.byteLength - from) / 4): Float32Array =>
  (blob.byteOffset + from) % 4 === 0 ? new Float32Array(blob.buffer, blob.byteOffset + from, count) : new Float32Array(blob.slice(from, from + count * 4).buffer);

/** A sparse blob: `n` int32 token ids (ascending), then their `n` float32 weights. */
export function decodeSparse(blob: Uint8Array): { indices: number[]; values: number[] } {
  const n = blob.byteLength / 8;
  const copy = blob.byteOffset % 4 === 0 ? blob : blob.slice();
  return { indices: Array.from(new Int32Array(copy.buffer, copy.byteOffset, n)), values: Array.from(float32s(copy, n * 4, n)) };
}

/** A token-vectors blob: float32 rows of the head's width, back to back. */
export const decodeTokenVectors = (blob: Uint8Array): Float32Array => float32s(blob);

function checkTokenVectors(description: ModelDescription, head: Extract<HeadSpec, { kind: 'token-vectors' }>, blob: Uint8Array) {
  const values = decodeTokenVectors(blob);
  if (values.length === 0 || values.length % head.width !== 0) throw new Error(`the warm-up's token vectors hold ${values.length} values, not rows of ${head.width}`);
  if (!values.every(Number.isFinite)) throw new Error(`the warm-up's token vectors hold NaN or infinite values, ${computedBy(description, head)}`);
}

/** A pooled blob (the vector's JSON text, sent to clients as it is) read back: non-finite values are written as null. */
function pooledValues(blob: Uint8Array): (number | null)[] {
  return JSON.parse(Buffer.from(blob).toString('latin1')) as (number | null)[];
}

function computedBy(description: ModelDescription, head: HeadSpec): string {
  const dense =
    (head.kind === 'pooled' || (head.kind === 'token-vectors' && head.method === 'states')) && head.dense.length > 0
      ? `, then ${head.dense.map((layer) => layer.weightsFile).join(', ')}`
      : 'weightsFile' in head && head.weightsFile
        ? `, then ${head.weightsFile}`
        : '';
  return `as computed by ${description.onnxFile}${dense}`;
}

function checkPooled(description: ModelDescription, head: PooledHeadSpec, blob: Uint8Array) {
  const values = pooledValues(blob);
  if (values.length !== head.dimensions) throw new Error(`the ONNX graph yields ${values.length} dimensions, the configs say ${head.dimensions}`);
  const nonFinite = values.filter((value) => value === null).length;
  if (nonFinite > 0) throw new Error(`the warm-up's embedding has ${nonFinite} of its ${values.length} values NaN or infinite, ${computedBy(description, head)}`);
}

/**
 * Checks the warm-up's blob of a head: the width the configs give it (the graph's own, for a pooled head), and
 * that what it computes is finite (weights that hold NaN, or a graph that makes it, would serve nulls).
 */
export function checkWarmUp(description: ModelDescription, head: HeadSpec, blob: Uint8Array): void {
  switch (head.kind) {
    case 'pooled':
      return checkPooled(description, head, blob);
    case 'logits': {
      // The worker checks the graph's label count.
      if (!decodeLogits(blob).every(Number.isFinite)) throw new Error(`the warm-up's score is NaN or infinite, ${computedBy(description, head)}`);
      return;
    }
    case 'sparse': {
      const { values } = decodeSparse(blob);
      if (!values.every(Number.isFinite)) throw new Error(`the warm-up's sparse vector has weights NaN or infinite, ${computedBy(description, head)}`);
      return;
    }
    case 'token-vectors':
      return checkTokenVectors(description, head, blob);
  }
}
