/**
 * A multi-output model's answer (bge-m3) as /v1/embeddings data items: dense in `embedding` (when asked), sparse in
 * `sparse_embedding` ({indices, values}, indices ascending), ColBERT in `colbert_embedding` (rows of numbers, or one
 * base64 string of the float32 rows) with `colbert_rows`.
 */
import type { CancelSignal } from '../cancellation.ts';
import { errors } from '../errors.ts';
import type { VectorEncoding } from '../inference/output/vector-text.ts';
import type { MultiOutputResult } from '../model/multi-output-embedder.ts';
import { tokenVectorsJsonParts } from './token-vectors-json.ts';

/** Refuses, before any work, sequences whose ColBERT vectors (one per token after the first) would pass `limit` values. */
export function colbertAnswerCheck(width: number, limit: number): (sequences: Int32Array[]) => void {
  return (sequences) => {
    let values = 0;
    for (const ids of sequences) values += Math.max(0, ids.length - 1) * width;
    if (values > limit) throw errors.multiVectorAnswerTooLarge(values, limit, 'input');
  };
}

/** Per input, its `embedding` (undefined when dense was not asked for) and the other outputs' fields as JSON text, in the parts it was written in (copied once, into the body). */
export async function multiOutputItems(
  result: MultiOutputResult,
  colbertWidth: number,
  encoding: VectorEncoding,
  signal: CancelSignal,
): Promise<{ embeddings: (Uint8Array | undefined)[]; extras: Uint8Array[][] }> {
  const { dense, sparse, colbert, tokenCounts } = result;
  const extras: Uint8Array[][] = [];
  for (let index = 0; index < tokenCounts.length; index++) {
    const parts: Uint8Array[] = [];
    if (sparse) parts.push(Buffer.from(`,"sparse_embedding":${JSON.stringify(sparse[index])}`, 'latin1'));
    if (colbert) {
      const rows = colbert[index]!;
      parts.push(Buffer.from(',"colbert_embedding":', 'latin1'), ...(await tokenVectorsJsonParts(rows, colbertWidth, encoding, signal)), Buffer.from(`,"colbert_rows":${rows.length / colbertWidth}`, 'latin1'));
    }
    extras.push(parts);
  }
  return { embeddings: dense ?? tokenCounts.map(() => undefined), extras };
}
