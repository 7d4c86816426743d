import { z } from 'zod';
import type { Registry } from '../registry.ts';
import { MAX_INPUTS, modelField, promptFields, resolveModel, workingExample } from './embeddings.ts';

const vocabularyIds = z.array(z.number().int().min(0)).min(1);

export function tokenizeRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry),
      input: z
        .union([
          z.string().min(1),
          vocabularyIds,
          z.array(z.string().min(1)).min(1).max(MAX_INPUTS),
          z.array(vocabularyIds).min(1).max(MAX_INPUTS),
        ])
        .meta({
          description:
            `A text, or 1 to ${MAX_INPUTS} texts (none empty). Or ids of the model's vocabulary (a sparse vector's indices), or lists of them: ` +
            'answered with their tokens, to read what a sparse vector means.',
        }),
      ...promptFields,
    })
    .superRefine((body, ctx) => {
      const entry = resolveModel(registry, body.model, ctx);
      const lists = typeof body.input === 'string' ? [] : typeof body.input[0] === 'number' ? [body.input as number[]] : (body.input.filter(Array.isArray) as number[][]);
      const vocab = entry?.description.vocabSize ?? Infinity;
      const outside = lists.flat().find((id) => id >= vocab);
      if (outside !== undefined) ctx.addIssue({ code: 'custom', path: ['input'], message: `token id ${outside} is outside the model's vocabulary (0 to ${vocab - 1})` });
    })
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
