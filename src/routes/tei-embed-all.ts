/**
 * Text Embeddings Inference's POST /embed_all: a vector per token of each input, `[[[float]]]`. A ColBERT model
 * gives its vectors (input_type, an extension, picks the side; PyLate's default, query, otherwise); another
 * embedding model gives its graph's token states as TEI does (every token, special ones included, before pooling,
 * unnormalised). TEI serves one model: `model` (an extension) picks one, and without it the first model in
 * models.txt with vectors per token answers. Answers are bounded by MAX_MULTI_VECTOR_VALUES.
 */
import { Readable } from 'node:stream';
import type { FastifyContextConfig } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFAULT_MAX_MULTI_VECTOR_VALUES } from '../config.ts';
import { MultiVectorTooLargeError } from '../embedding-errors.ts';
import { errors } from '../errors.ts';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { tokenVectorsJsonParts } from '../http/token-vectors-json.ts';
import { findHead } from '../inference/heads/head-spec.ts';
import type { ModelEntry, Registry } from '../registry.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { MAX_INPUTS, MODEL_KIND_MISMATCH, MODEL_NOT_FOUND } from '../schemas/embeddings.ts';

/** TEI's error shape ({error, error_type}) for this route: the error handler reads it from the route's config. */
const TEI_ERRORS = { errorShape: 'tei' } as unknown as FastifyContextConfig;

const perToken = (entry: ModelEntry) => findHead(entry.description.heads, 'token-vectors') !== undefined;

/** The model a request names, or the first served with vectors per token. */
const modelFor = (registry: Registry, name: string | null | undefined) => (name == null ? registry.entries.find(perToken) : registry.resolve(name));

function requestSchema(registry: Registry) {
  const ids = registry.entries.filter(perToken).map((entry) => entry.spec.id);
  return z
    .object({
      model: z.string().nullish().meta({ description: `Not in TEI, which serves one model: one of ${ids.join(', ') || 'none served'}. Default: the first.`, examples: ids }),
      inputs: z.union([z.string(), z.array(z.string()).min(1).max(MAX_INPUTS)]).meta({ description: `The text(s): one, or 1 to ${MAX_INPUTS}.` }),
      truncate: z.boolean().nullish().meta({ description: "Cut inputs longer than the model's limit; false refuses them. Default: the server's TRUNCATE." }),
      truncation_direction: z.enum(['right', 'Right']).optional().meta({ description: 'Truncation keeps the start of a text (right, the only direction served here).' }),
      prompt_name: z.string().nullish().meta({ description: "One of the model's prompt names, prepended to every input." }),
      input_type: z.enum(['query', 'document']).optional().meta({ description: 'Not in TEI: a ColBERT model encodes the inputs as queries (default, as PyLate) or documents.' }),
    })
    .superRefine((body, ctx) => {
      const entry = modelFor(registry, body.model);
      if (!entry) {
        ctx.addIssue({ code: 'custom', path: ['model'], message: body.model == null ? 'no model with vectors per token is served' : `unknown model '${body.model}'`, params: { code: MODEL_NOT_FOUND } });
      } else if (!perToken(entry)) {
        ctx.addIssue({ code: 'custom', path: ['model'], message: `'${entry.spec.id}' gives no vectors per token`, params: { code: MODEL_KIND_MISMATCH } });
      }
    })
    .meta({ description: "Text Embeddings Inference's /embed_all request.", examples: [{ inputs: ['What is Deep Learning?'] }] });
}

const responseSchema = z.array(z.array(z.array(z.number()))).meta({ id: 'TeiEmbedAllResponse', description: 'Per input, a vector per token.' });

export const teiEmbedAllRoute: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  app.post(
    '/embed_all',
    {
      schema: {
        summary: "A vector per token of each input (Text Embeddings Inference's /embed_all).",
        tags: ['tei'],
        body: requestSchema(registry),
        response: { 200: responseSchema, 400: errorResponseSchema, 404: errorResponseSchema, 429: errorResponseSchema, 503: errorResponseSchema },
      },
      config: TEI_ERRORS,
      preValidation: async (request) => {
        const problem = checkInputShape((request.body as { inputs?: unknown } | null)?.inputs, app.limits.maxRequestTokens, false);
        if (problem) throw problem;
      },
    },
    async (request, reply) => {
      const { body } = request;
      const entry = modelFor(registry, body.model)!;
      const texts = typeof body.inputs === 'string' ? [body.inputs] : body.inputs;
      const { parts, tokens } = await callModel(
        request,
        reply,
        entry.spec.id,
        async (signal) => {
          const { vectors, width, tokenCounts } = await (await entry.loaded).multiVector!.embed(
            { texts },
            {
              side: body.input_type,
              truncate: body.truncate ?? app.limits.truncate,
              maxRequestTokens: app.limits.maxRequestTokens,
              maxValues: app.limits.maxMultiVectorValues ?? DEFAULT_MAX_MULTI_VECTOR_VALUES,
              prompt: { promptName: body.prompt_name ?? undefined },
              signal,
            },
          );
          const json: Uint8Array[] = [Buffer.from('[')];
          for (const [index, rows] of vectors.entries()) json.push(...(index > 0 ? [Buffer.from(',')] : []), ...(await tokenVectorsJsonParts(rows, width, 'float', signal)));
          json.push(Buffer.from(']'));
          return { parts: json, tokens: tokenCounts.reduce((sum, count) => sum + count, 0) };
        },
        (error) => (error instanceof MultiVectorTooLargeError ? errors.multiVectorAnswerTooLarge(error.values, error.limit, 'inputs') : undefined),
      );
      request.embedding = { model: entry.spec.id, inputs: texts.length, tokens };
      reply.type('application/json; charset=utf-8');
      // In the parts it was written in: tens of MB are never copied whole.
      return reply.send(Readable.from(parts) as never);
    },
  );
};
