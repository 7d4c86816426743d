import type { BgeM3Output } from '../inference/files/bge-m3.ts';
import type { Embedder, EmbedOptions } from './embedder.ts';
import { decodeSparse, decodeTokenVectors } from './head-output.ts';
import type { EmbeddingInputs } from './model-runtime.ts';

export interface MultiOutputResult {
  /** Per input, each output asked for: dense as the vector's JSON text (as Embedder.embed), sparse as token ids and weights, ColBERT as float32 rows of `colbertWidth`. */
  dense?: Uint8Array[];
  sparse?: { indices: number[]; values: number[] }[];
  colbert?: Float32Array[];
  tokenCounts: number[];
}

/**
 * A multi-output model (bge-m3) as one id serves it: the outputs a request asks for, from one graph run per batch
 * whatever their number (the embedder runs the rows through all their heads at once).
 */
export class MultiOutputEmbedder {
  constructor(
    private readonly embedder: Embedder,
    /** Each output's head index (the description's namedOutputs). */
    private readonly heads: Record<BgeM3Output, number>,
    readonly colbertWidth: number,
  ) {}

  /** `check` sees the sequences before they are queued (to refuse a too large answer). */
  async embed(inputs: EmbeddingInputs, outputs: readonly BgeM3Output[], options: EmbedOptions & { check?: (sequences: Int32Array[]) => void }): Promise<MultiOutputResult> {
    const { blobs, tokenCounts } = await this.embedder.embedHeads(inputs, outputs.map((output) => this.heads[output]), options);
    const result: MultiOutputResult = { tokenCounts };
    outputs.forEach((output, index) => {
      const rows = blobs[index]!;
      if (output === 'dense') result.dense = rows;
      else if (output === 'sparse') result.sparse = rows.map(decodeSparse);
      else result.colbert = rows.map(decodeTokenVectors);
    });
    return result;
  }

}
