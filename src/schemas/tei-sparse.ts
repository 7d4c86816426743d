import { z } from 'zod';
import { MAX_INPUTS, promptFields } from './embeddings.ts';
import { maxActiveDimsField } from './sparse.ts';

/** TEI's `POST /embed_sparse` request (EmbedSparseRequest), and this server's model choice and sparse fields. */
export const teiSparseRequestSchema = z
  .object({
    inputs: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1).max(MAX_INPUTS)])
      .meta({ description: `A text, or 1 to ${MAX_INPUTS} texts (none empty).` }),
    truncate: z.boolean().nullable().optional().meta({ description: "Cut inputs longer than the model's limit; false refuses them. Default: the server's TRUNCATE." }),
    truncation_direction: z
      .enum(['right', 'Right', 'left', 'Left'])
      .optional()
      .meta({ description: 'Which end an over-long input loses: right (the default) cuts its end, left its start; special tokens stay.' }),
    prompt_name: promptFields.prompt_name.nullable(),
    input_type: promptFields.input_type,
    max_active_dims: maxActiveDimsField,
    model: z.string().optional().meta({ description: 'A model with sparse vectors (GET /models: outputs names "sparse"): a SPLADE model, or bge-m3 (its sparse output). Default: the first one models.txt lists (TEI serves one model).' }),
  })
  .meta({ description: "TEI's sparse embedding request." });

export const teiSparseResponseSchema = z
  .array(z.array(z.object({ index: z.number().int().meta({ description: "A token id of the model's vocabulary." }), value: z.number() })))
  .meta({ id: 'TeiSparseResponse', description: "Per input, its non-zero weights by token id, ascending (TEI's EmbedSparseResponse)." });
