import { z } from 'zod';
import { POOLING_MODES } from '../inference/pooling.ts';

export const modelSchema = z
  .object({
    id: z.string().meta({ description: 'The id to send as `model`.' }),
    object: z.literal('model'),
    kind: z.enum(['embedding', 'reranker']).meta({ description: 'embedding: served at /embeddings; reranker (a cross-encoder): served at /rerank.' }),
    created: z.number().int().meta({ description: 'Unix seconds when the model files were written.' }),
    owned_by: z.string(),
    dimensions: z.number().int().meta({ description: 'Length of an embedding (unless `dimensions` asks for fewer); 1 for a reranker (its score).' }),
    max_input_tokens: z.number().int().meta({ description: 'Longer inputs are truncated to this many tokens, special tokens included.' }),
    pooling: z.string().meta({ description: `How token vectors become one vector: ${POOLING_MODES.join(', ')} (joined by "+" when several).` }),
    normalized: z.boolean().meta({ description: 'Whether embeddings have unit length.' }),
    repo: z.string().meta({ description: 'The Hugging Face repo the model comes from.' }),
    revision: z.string().nullable(),
    ready: z.boolean().meta({ description: 'Whether the model is loaded.' }),
    prompts: z.record(z.string(), z.string()).meta({ description: 'The prompts the model knows (name → prefix), for prompt_name and input_type.' }),
    default_prompt_name: z.string().nullable().meta({ description: 'The prompt applied when a request names none: this id\'s models.txt prompt=, else the model\'s default.' }),
  })
  .meta({ id: 'Model' });

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) }).meta({ id: 'ModelList' });

export const modelParamsSchema = z.object({ '*': z.string().meta({ description: 'A model id, full repo id or bare repo name.' }) });
