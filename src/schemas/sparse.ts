import { z } from 'zod';
import type { ModelEntry } from '../registry.ts';

/** A sparse vector as the OpenAI route answers it (the shape Qdrant, Milvus and Pinecone take). */
export const sparseEmbeddingSchema = z
  .object({
    indices: z.array(z.number().int()).meta({ description: "Token ids of the model's vocabulary, ascending (POST /v1/tokenize with them as input gives their tokens)." }),
    values: z.array(z.number()).meta({ description: "Each token's weight, in the indices' order; only non-zero weights are listed." }),
  })
  .meta({ id: 'SparseEmbedding', description: "A sparse model's vector: token id → weight." });

export const maxActiveDimsField = z
  .number()
  .int()
  .min(1)
  .optional()
  .meta({ description: "Sparse models: keep each vector's k largest weights (SparseEncoder.encode's max_active_dims). Default: all non-zero weights." });

export interface SparseFields {
  max_active_dims?: number | undefined;
  dimensions?: number | undefined;
  encoding_format?: string | null | undefined;
}

/** What a request to a sparse model may not ask: dense vectors' dimensions and base64. */
export function checkSparseRequest(body: SparseFields, entry: ModelEntry, issue: (path: string[], message: string) => void): void {
  const name = entry.spec.id;
  if (body.dimensions !== undefined) issue(['dimensions'], `'${name}' is a sparse model: it has no leading dimensions to keep (max_active_dims keeps its largest weights)`);
  else if (body.encoding_format != null && body.encoding_format !== 'float') {
    issue(['encoding_format'], `'${name}' is a sparse model: its vectors come as {indices, values}, not ${body.encoding_format}`);
  }
}
