import { z } from 'zod';
import type { Registry } from '../registry.ts';
import { MAX_INPUTS, modelField, promptFields, resolveModel, workingExample } from './embeddings.ts';

export function tokenizeRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry),
      input: z
        .union([z.string().min(1), z.array(z.string().min(1)).min(1).max(MAX_INPUTS)])
        .meta({ description: `A text, or 1 to ${MAX_INPUTS} texts (none empty).` }),
      ...promptFields,
    })
    .superRefine((body, ctx) => void resolveModel(registry, body.model, ctx))
    .meta({ description: 'Which tokens the service would embed for these inputs.', examples: [workingExample(registry)] });
}

export const tokenizeResponseSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        object: z.literal('tokens'),
        index: z.number().int(),
        ids: z.array(z.number().int()).meta({ description: 'The token ids embedded: prompt and special tokens included, after truncation.' }),
        tokens: z.array(z.string()).meta({ description: 'The token strings of those ids.' }),
        num_tokens: z.number().int().meta({ description: 'How many tokens are embedded (the length of ids).' }),
        total_tokens: z.number().int().meta({ description: 'How many tokens the whole input has, before truncation.' }),
        truncated: z.boolean().meta({ description: "Whether the input was cut to the model's limit." }),
      }),
    ),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
  })
  .meta({ id: 'TokenizeResponse' });
