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

/** A pooled blob (the vector's JSON text, sent to clients as it is) read back: non-finite values are written as null. */
function pooledValues(blob: Uint8Array): (number | null)[] {
  return JSON.parse(Buffer.from(blob).toString('latin1')) as (number | null)[];
}

function computedBy(description: ModelDescription, head: HeadSpec): string {
  const dense = head.kind === 'pooled' && head.dense.length > 0 ? `, then ${head.dense.map((layer) => layer.weightsFile).join(', ')}` : '';
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
    }
  }
}
