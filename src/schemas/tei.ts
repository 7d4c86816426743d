/**
 * Text Embeddings Inference's native request and response shapes (router/src/http/types.rs), which
 * LlamaIndex's TextEmbeddingsInference, Haystack's and LangChain's Hugging Face endpoint embedders and
 * huggingface_hub's InferenceClient send. TEI serves one model: here `model` (an extension) picks one,
 * and without it the first model of the kind in models.txt answers.
 */
import { z } from 'zod';
import { pooledHeadOf } from '../inference/heads/head-spec.ts';
import type { Registry } from '../registry.ts';
import { resolveModelOfKind } from './model-of-kind.ts';
import { inputList, MAX_INPUTS } from './embeddings.ts';
import { servedIds, type ModelKind } from './models.ts';

const modelField = (registry: Registry, kind: ModelKind) => {
  const ids = servedIds(registry, kind);
  return z
    .string()
    .nullish()
    .meta({ description: `Not in TEI, which serves one model: one of ${ids.join(', ') || 'none served'}. Default: the first, ${ids[0] ?? 'none'}.`, examples: ids });
};

const texts = z
  .union([z.string().meta({ description: 'One text.' }), z.array(z.string()).min(1).max(MAX_INPUTS).meta({ description: `1 to ${MAX_INPUTS} texts.` })])
  .meta({ description: 'The text(s) to embed.' });

const modelIds = z.array(z.number().int().min(0));

/** /embed's inputs: texts, or (as TEI) sequences of the model's own token ids, used as given (special tokens included). */
const embedInputs = z
  .union([
    z.string().meta({ description: 'One text.' }),
    // Ids before texts: zod records an issue per element of every form that does not fit, and a flat array of ids is the longest array.
    modelIds.meta({ description: "One sequence of the model's token ids." }),
    z.array(z.string()).min(1).max(MAX_INPUTS).meta({ description: `1 to ${MAX_INPUTS} texts.` }),
    z.array(modelIds).min(1).max(MAX_INPUTS).meta({ description: `1 to ${MAX_INPUTS} sequences of the model's token ids.` }),
  ])
  .meta({ description: "The text(s) to embed, or sequences of the model's token ids (all of one kind)." });

const truncationFields = {
  truncate: z
    .boolean()
    .nullish()
    .meta({ description: "Cut inputs longer than the model's limit; false refuses them. Default: the server's TRUNCATE (true, as TEI ≥ 1.9's --auto-truncate)." }),
  truncation_direction: z
    .enum(['right', 'left', 'Right', 'Left'])
    .optional()
    .meta({ description: 'Which end truncation cuts: right keeps the start (default), left keeps the end.' }),
};

const promptName = z.string().nullish().meta({ description: "One of the model's prompt names (config_sentence_transformers.json), prepended to every input." });

export function teiEmbedRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry, 'embedding'),
      inputs: embedInputs,
      normalize: z.boolean().default(true).meta({ description: 'Give the vectors unit length (default true, as TEI); false gives them as the model computes them.' }),
      ...truncationFields,
      prompt_name: promptName,
      dimensions: z.number().int().min(1).nullish().meta({ description: 'Keep the first N dimensions (normalised after the cut when `normalize`).' }),
    })
    .superRefine((body, ctx) => {
      const entry = resolveModelOfKind(registry, body.model, ['embedding'], ctx);
      const inputs = inputList(body.inputs);
      if (entry && 'tokenIds' in inputs) {
        const { vocabSize } = entry.description;
        const nested = Array.isArray(body.inputs[0]);
        for (const [index, ids] of inputs.tokenIds.entries()) {
          const bad = ids.findIndex((id) => id >= vocabSize);
          if (ids.length === 0) ctx.addIssue({ code: 'custom', path: nested ? ['inputs', index] : ['inputs'], message: 'must not be an empty array of token ids' });
          else if (bad >= 0) ctx.addIssue({ code: 'custom', path: [...(nested ? ['inputs', index] : ['inputs']), bad], message: `token id ${ids[bad]} is outside the model's vocabulary (0 to ${vocabSize - 1})` });
          else continue;
          return;
        }
      }
      const dimensions = entry && pooledHeadOf(entry.description.heads).dimensions;
      if (dimensions !== undefined && body.dimensions != null && body.dimensions > dimensions) {
        ctx.addIssue({ code: 'custom', path: ['dimensions'], message: `must be at most ${dimensions} for model '${entry!.spec.id}'` });
      }
    })
    .meta({ description: "Text Embeddings Inference's /embed request.", examples: [{ inputs: ['What is Deep Learning?'] }] });
}

export const teiEmbedResponseSchema = z.array(z.array(z.number())).meta({ id: 'TeiEmbedResponse', description: 'One vector per input, in order.' });

export const teiErrorSchema = z
  .object({ error: z.string(), error_type: z.enum(['Validation', 'Empty', 'Overloaded', 'Backend', 'Unhealthy']) })
  .meta({ id: 'TeiError', description: "Text Embeddings Inference's error shape." });

/** TEI's /tokenize body: told from this server's own (`input`) by its `inputs`. */
export function teiTokenizeRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry, 'embedding'),
      inputs: texts,
      add_special_tokens: z.boolean().default(true).meta({ description: "Include the model's special tokens (default true)." }),
      prompt_name: promptName,
    })
    .superRefine((body, ctx) => void resolveModelOfKind(registry, body.model, ['embedding'], ctx))
    .meta({ description: "Text Embeddings Inference's /tokenize request.", examples: [{ inputs: 'What is Deep Learning?' }] });
}

export const teiTokenizeResponseSchema = z
  .array(
    z.array(
      z.object({
        id: z.number().int(),
        text: z.string().meta({ description: "The characters the token stands for; a special token's own text." }),
        special: z.boolean(),
        start: z.number().int().nullable().meta({ description: "Character offset of the token's start in the (prompted) input; null for a special token." }),
        stop: z.number().int().nullable().meta({ description: 'Character offset just past its end.' }),
      }),
    ),
  )
  .meta({ id: 'TeiTokenizeResponse', description: "Each input's tokens, whole (not truncated)." });

const tokenIds = z.array(z.number().int().min(0));

export function teiDecodeRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry, 'embedding'),
      ids: z.union([tokenIds, z.array(tokenIds).min(1).max(MAX_INPUTS)]).meta({ description: "Token ids of the model's vocabulary: one sequence, or several." }),
      skip_special_tokens: z.boolean().default(true).meta({ description: 'Leave special tokens out of the text (default true).' }),
    })
    .superRefine((body, ctx) => {
      const entry = resolveModelOfKind(registry, body.model, ['embedding'], ctx);
      if (!entry) return;
      const nested = Array.isArray(body.ids[0]);
      const sequences = nested ? (body.ids as number[][]) : [body.ids as number[]];
      for (const [index, ids] of sequences.entries()) {
        const bad = ids.findIndex((id) => id >= entry.description.vocabSize);
        if (bad < 0) continue;
        const path = nested ? ['ids', index, bad] : ['ids', bad];
        return ctx.addIssue({ code: 'custom', path, message: `token id ${ids[bad]} is outside the model's vocabulary (0 to ${entry.description.vocabSize - 1})` });
      }
    })
    .meta({ description: "Text Embeddings Inference's /decode request.", examples: [{ ids: [[101, 7592, 102]] }] });
}

export const teiDecodeResponseSchema = z.array(z.string()).meta({ id: 'TeiDecodeResponse', description: 'One text per id sequence.' });

export const teiInfoSchema = z
  .object({
    model_id: z.string(),
    model_sha: z.string().nullable(),
    model_dtype: z.string(),
    served_model_name: z.string(),
    model_type: z.union([
      z.object({ embedding: z.object({ pooling: z.string() }) }),
      z.object({ reranker: z.object({ id2label: z.record(z.string(), z.string()), label2id: z.record(z.string(), z.number().int()) }) }),
    ]),
    max_concurrent_requests: z.number().int(),
    max_input_length: z.number().int(),
    max_batch_tokens: z.number().int(),
    max_batch_requests: z.number().int().nullable(),
    max_client_batch_size: z.number().int(),
    auto_truncate: z.boolean(),
    tokenization_workers: z.number().int(),
    version: z.string(),
    sha: z.string().nullable(),
    docker_label: z.string().nullable(),
  })
  .meta({ id: 'TeiInfo', description: "Text Embeddings Inference's /info: the model a model-less request gets." });

export const teiInfoQuerySchema = z.object({ model: z.string().optional().meta({ description: 'Not in TEI: which served model to describe (default: the first in models.txt).' }) });
