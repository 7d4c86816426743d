/**
 * Ollama's embedding API (api/types.go), which the `ollama` clients, LangChain's OllamaEmbeddings and
 * Open WebUI send. Ollama clients name models `name:tag`; `:latest` is dropped before the name is resolved.
 */
import { z } from 'zod';
import type { ModelEntry, Registry } from '../registry.ts';
import { MAX_INPUTS, MODEL_KIND_MISMATCH, MODEL_NOT_FOUND } from './embeddings.ts';
import { servedIds } from './models.ts';

const LATEST = ':latest';

/** A served model by the name an Ollama client sends (with or without `:latest`). */
export function resolveOllamaName(registry: Registry, name: string): ModelEntry | undefined {
  return registry.resolve(name) ?? (name.endsWith(LATEST) ? registry.resolve(name.slice(0, -LATEST.length)) : undefined);
}

/** The name Ollama's listings give a model: its id and tag. */
export const ollamaName = (entry: ModelEntry) => `${entry.spec.id}${LATEST}`;

/** An embedding model by its Ollama name, or an issue on `field`. */
function resolveEmbedder(registry: Registry, name: string, ctx: z.RefinementCtx): ModelEntry | undefined {
  const entry = resolveOllamaName(registry, name);
  if (!entry) ctx.addIssue({ code: 'custom', path: ['model'], message: `model '${name}' not found`, params: { code: MODEL_NOT_FOUND } });
  else if (entry.description.kind !== 'embedding') ctx.addIssue({ code: 'custom', path: ['model'], message: `'${name}' does not embed`, params: { code: MODEL_KIND_MISMATCH, id: entry.spec.id } });
  else return entry;
  return undefined;
}

const modelName = (registry: Registry) => {
  const names = servedIds(registry, 'embedding').map((id) => `${id}${LATEST}`);
  return z.string().meta({ description: `An embedding model: ${names.join(', ') || 'none served'} (the tag may be left out).`, examples: names });
};

/** Accepted for Ollama's clients, which send them; a model here stays loaded, and runs as configured. */
const ignoredFields = {
  keep_alive: z.union([z.string(), z.number()]).nullish().meta({ description: 'Accepted and ignored: models stay loaded.' }),
  options: z.record(z.string(), z.unknown()).nullish().meta({ description: 'Accepted and ignored (llama.cpp runner options).' }),
};

export function ollamaEmbedRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelName(registry),
      input: z
        .union([z.string(), z.array(z.string()).max(MAX_INPUTS)])
        .nullish()
        .meta({ description: `A text or up to ${MAX_INPUTS} texts; an empty string, an empty list or none gives no embeddings (as Ollama).` }),
      truncate: z.boolean().nullish().meta({ description: "Cut inputs longer than the model's limit (default true, as Ollama); false refuses them with a 400." }),
      dimensions: z.number().int().nullish().meta({ description: "Keep the first N dimensions, normalised again; N ≤ 0 or at least the model's width keeps them all (as Ollama)." }),
      ...ignoredFields,
    })
    .superRefine((body, ctx) => void resolveEmbedder(registry, body.model, ctx))
    .meta({ description: "Ollama's /api/embed request.", examples: [{ model: servedIds(registry, 'embedding')[0], input: ['Why is the sky blue?'] }] });
}

export const ollamaEmbedResponseSchema = z
  .object({
    model: z.string().meta({ description: 'The model as the request named it.' }),
    embeddings: z.array(z.array(z.number())),
    total_duration: z.number().int().meta({ description: 'Nanoseconds the request took.' }),
    load_duration: z.number().int().meta({ description: 'Nanoseconds spent loading the model: 0, as models are loaded at start-up.' }),
    prompt_eval_count: z.number().int().meta({ description: 'Tokens embedded.' }),
  })
  .meta({ id: 'OllamaEmbedResponse' });

export function ollamaEmbeddingsRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelName(registry),
      prompt: z.string().nullish().meta({ description: 'The text to embed; empty or none gives an empty embedding (as Ollama).' }),
      ...ignoredFields,
    })
    .superRefine((body, ctx) => void resolveEmbedder(registry, body.model, ctx))
    .meta({ description: "Ollama's older /api/embeddings request." });
}

export const ollamaEmbeddingsResponseSchema = z.object({ embedding: z.array(z.number()) }).meta({ id: 'OllamaEmbeddingsResponse' });

const detailsSchema = z.object({
  parent_model: z.string(),
  format: z.string().meta({ description: '"onnx".' }),
  family: z.string(),
  families: z.array(z.string()).nullable(),
  parameter_size: z.string(),
  quantization_level: z.string(),
});

export const ollamaTagsResponseSchema = z
  .object({
    models: z.array(
      z.object({
        name: z.string().meta({ description: 'The id with the `:latest` tag, as Ollama names models.' }),
        model: z.string(),
        modified_at: z.string().meta({ description: 'When the model files were written (RFC 3339).' }),
        size: z.number().int().meta({ description: "The ONNX graph's bytes." }),
        digest: z.string().meta({ description: 'sha256 of the repo, ONNX path, size and time written: changes when the files do.' }),
        details: detailsSchema,
        capabilities: z.array(z.string()),
      }),
    ),
  })
  .meta({ id: 'OllamaTagsResponse', description: 'The embedding models served.' });

/** /api/show's body; Ollama's older `name` is taken as `model` before validation. */
export function ollamaShowRequestSchema(registry: Registry) {
  return z
    .object({ model: modelName(registry), verbose: z.boolean().optional() })
    .superRefine((body, ctx) => void resolveEmbedder(registry, body.model, ctx))
    .meta({ description: "Ollama's /api/show request." });
}

export const ollamaShowResponseSchema = z
  .object({
    license: z.string(),
    modelfile: z.string(),
    parameters: z.string(),
    template: z.string(),
    details: detailsSchema,
    model_info: z.record(z.string(), z.union([z.string(), z.number()])).meta({ description: '`general.architecture` ("onnx"), `onnx.context_length` (tokens), `onnx.embedding_length` (dimensions).' }),
    capabilities: z.array(z.string()),
    modified_at: z.string(),
  })
  .meta({ id: 'OllamaShowResponse' });

export const ollamaErrorSchema = z.object({ error: z.string() }).meta({ id: 'OllamaError', description: "Ollama's error shape." });

export const ollamaVersionResponseSchema = z.object({ version: z.string() }).meta({ id: 'OllamaVersionResponse' });
