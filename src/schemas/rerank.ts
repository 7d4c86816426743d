import { z } from 'zod';
import type { ModelEntry, Registry } from '../registry.ts';
import { MODEL_KIND_MISMATCH, MODEL_NOT_FOUND } from './embeddings.ts';
import { servedIds } from './models.ts';

const documentSchema = z
  .union([
    z.string().meta({ description: 'A document.' }),
    z.looseObject({ text: z.string() }).meta({ description: 'A document as an object with its `text`; its other fields come back with it when documents are returned.' }),
  ])
  .meta({ id: 'RerankDocument' });

/** The reranker a request names (or, when it names none, the first one served), checked to be one. */
export function resolveReranker(registry: Registry, name: string | undefined, ctx: z.RefinementCtx): ModelEntry | undefined {
  const entry = registry.resolveReranker(name);
  if (!entry) {
    const message = name === undefined ? 'no reranker is served; name one with `model`' : `unknown model '${name}'`;
    ctx.addIssue({ code: 'custom', path: ['model'], message, params: { code: MODEL_NOT_FOUND } });
  } else if (entry.description.kind !== 'reranker' && !entry.description.colbert) {
    ctx.addIssue({ code: 'custom', path: ['model'], message: `'${entry.spec.id}' is not a reranker`, params: { code: MODEL_KIND_MISMATCH } });
  }
  return entry;
}

/** What Swagger UI's "Try it out" fills in: the first reranker served, a query and two documents. */
export const rerankExample = (registry: Registry) => ({
  model: servedIds(registry, 'reranker')[0],
  query: 'What is the capital of France?',
  documents: ['Paris is the capital of France.', 'Berlin is in Germany.'],
});

/**
 * The rerank request: Cohere's (v1 and v2), which Jina, vLLM and LiteLLM also send, with Text
 * Embeddings Inference's fields beside it (its `texts` is taken as `documents` before validation,
 * and its requests are answered in its shape). Unknown fields are ignored.
 */
export function rerankRequestSchema(registry: Registry) {
  const ids = servedIds(registry, 'reranker');
  return z
    .object({
      model: z.string().optional().meta({ description: `A reranker: ${ids.join(', ') || 'none served'}. Default: the first reranker served.`, examples: ids }),
      query: z.string().meta({ description: 'The query the documents are scored against.' }),
      documents: z.array(documentSchema).min(1).meta({ description: "The documents to score: strings, or objects with a `text` (TEI's `texts` is taken as this)." }),
      top_n: z.number().int().min(1).optional().meta({ description: 'Return only the N best documents (default: all).' }),
      return_documents: z.boolean().optional().meta({ description: 'Return each document with its score (default false).' }),
      max_tokens_per_doc: z
        .number()
        .int()
        .min(1)
        .optional()
        .meta({ description: "Cut each document to its own first N tokens before pairing it with the query (the pair is then cut to the model's limit, longest first)." }),
      raw_scores: z.boolean().optional().meta({ description: "TEI: the model's raw logits instead of its activated scores." }),
      return_text: z.boolean().optional().meta({ description: 'TEI: return each text with its score.' }),
      truncate: z
        .boolean()
        .optional()
        .meta({ description: "Cut pairs over the model's limit, longest first (default: true, or the server's TRUNCATE, in Cohere's and TEI's shapes); false refuses them with a 400." }),
      truncation_direction: z.enum(['right', 'left', 'Right', 'Left']).optional().meta({ description: 'TEI: which end of a pair truncation cuts.' }),
      instruction: z
        .string()
        .optional()
        .meta({ description: "An LLM reranker's task instruction, in its prompt (Qwen3-Reranker's `<Instruct>`; default: its model card's). Cross-encoders take none." }),
    })
    .superRefine((body, ctx) => {
      const entry = resolveReranker(registry, body.model, ctx);
      if (body.instruction !== undefined && entry?.description.kind === 'reranker' && !entry.description.rerankPrompt) {
        ctx.addIssue({ code: 'custom', path: ['instruction'], message: `'${entry.spec.id}' is a cross-encoder: it reads no instruction (LLM rerankers such as Qwen3-Reranker do)` });
      }
    })
    .meta({
      description: "Rerank request: Cohere's shape (Jina, vLLM, LiteLLM send it too), or Text Embeddings Inference's with `texts`.",
      examples: [rerankExample(registry)],
    });
}

export type RerankRequest = z.infer<ReturnType<typeof rerankRequestSchema>>;

export const cohereRerankResponseSchema = z
  .object({
    id: z.string(),
    model: z.string(),
    results: z.array(
      z.object({
        index: z.number().int().meta({ description: "The document's position in the request." }),
        relevance_score: z.number().meta({ description: "The model's score: its CrossEncoder activation applied (sigmoid, or the raw logit for models whose activation is Identity)." }),
        document: z.looseObject({ text: z.string() }).optional().meta({ description: 'The document, when return_documents is true.' }),
      }),
    ),
    usage: z.object({ total_tokens: z.number().int() }),
    meta: z.object({ api_version: z.object({ version: z.string() }), billed_units: z.object({ search_units: z.number().int() }) }),
  })
  .meta({ id: 'RerankResponse' });

export const teiRerankResponseSchema = z
  .array(z.object({ index: z.number().int(), score: z.number(), text: z.string().optional() }))
  .meta({ id: 'TeiRerankResponse' });
