import { z } from 'zod';
import type { ClassifierItem } from '../model/classifier.ts';
import type { Registry } from '../registry.ts';
import { MAX_INPUTS } from './embeddings.ts';
import { resolveModelOfKind } from './model-of-kind.ts';
import { servedIds } from './models.ts';

const modelField = (registry: Registry) => {
  const ids = servedIds(registry, 'classifier');
  return z.string().optional().meta({ description: `A classifier: ${ids.join(', ') || 'none served'}. Default: the first classifier served.`, examples: ids });
};

const truncateField = z
  .boolean()
  .optional()
  .meta({ description: "Cut texts (pairs longest first) over the model's limit (default: the server's TRUNCATE); false refuses them with a 400." });

const sequence = z.array(z.string()).min(1).max(2);

/**
 * TEI's `inputs`: a string; a list of one or two strings, which is ONE text or ONE pair (not two
 * texts); or a batch, a list of such lists.
 */
const predictInputs = z
  .union([
    z.string().meta({ description: 'One text.' }),
    sequence.meta({ description: 'One text as ["text"], or one pair as ["text", "text pair"] (not two texts).' }),
    z.array(sequence).min(1).max(MAX_INPUTS).meta({ description: `A batch of 1 to ${MAX_INPUTS} items, each ["text"] or ["text", "text pair"].` }),
  ])
  .meta({ description: 'What to classify, as Text Embeddings Inference reads it: "a", ["a"] and ["a", "b"] are one item (a text, a text, a pair); [["a"], ["a", "b"]] is a batch.' });

/** TEI's `inputs` as a list of items, and whether it was a batch (answered as a list of lists). */
export function predictItems(inputs: z.infer<typeof predictInputs>): { items: ClassifierItem[]; batch: boolean } {
  if (typeof inputs === 'string') return { items: [[inputs]], batch: false };
  if (inputs.every((item) => typeof item === 'string')) return { items: [inputs as ClassifierItem], batch: false };
  return { items: inputs as ClassifierItem[], batch: true };
}

export function predictRequestSchema(registry: Registry) {
  return z
    .object({
      inputs: predictInputs,
      model: modelField(registry),
      raw_scores: z.boolean().optional().meta({ description: "The model's logits instead of its scores (default false)." }),
      truncate: truncateField,
      truncation_direction: z.enum(['right', 'left', 'Right', 'Left']).optional().meta({ description: 'Which end truncation cuts (default right).' }),
    })
    .superRefine((body, ctx) => void resolveModelOfKind(registry, body.model, ['classifier'], ctx))
    .meta({
      description: "Text Embeddings Inference's predict request.",
      examples: [{ inputs: [['I like you. I love you'], ['A man is eating food.', 'Someone is eating.']] }],
    });
}

const prediction = z.object({ score: z.number(), label: z.string() });

export const predictResponseSchema = z
  .union([
    z.array(prediction).meta({ description: "One item's labels, highest score first." }),
    z.array(z.array(prediction)).meta({ description: "A batch: per item, its labels, highest score first." }),
  ])
  .meta({ id: 'PredictResponse' });

export function classifyRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry),
      input: z
        .union([z.string(), z.array(z.string()).min(1).max(MAX_INPUTS)])
        .meta({ description: `A text, or 1 to ${MAX_INPUTS} texts.` }),
      use_activation: z.boolean().optional().meta({ description: "vLLM: false gives the logits as `probs` (default true: the model's activation)." }),
      raw_scores: z.boolean().optional().meta({ description: 'The same as use_activation: false.' }),
      truncate: truncateField,
      user: z.string().optional().meta({ description: 'Accepted and ignored.' }),
    })
    .superRefine((body, ctx) => void resolveModelOfKind(registry, body.model, ['classifier'], ctx))
    .meta({ description: "vLLM's classify request (Infinity's clients send the same body).", examples: [{ model: servedIds(registry, 'classifier')[0], input: ['I love this!'] }] });
}

export const classifyResponseSchema = z
  .object({
    id: z.string(),
    object: z.literal('list'),
    created: z.number().int(),
    model: z.string(),
    data: z.array(
      z.object({
        index: z.number().int(),
        label: z.string().meta({ description: 'The label with the highest score.' }),
        probs: z.array(z.number()).meta({ description: "Per label, in the model's order (GET /models lists them): its score." }),
        num_classes: z.number().int(),
      }),
    ),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
  })
  .meta({ id: 'ClassifyResponse' });
