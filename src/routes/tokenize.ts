import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { promptChoice } from '../schemas/embeddings.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { tokenizeRequestSchema, tokenizeResponseSchema } from '../schemas/tokenize.ts';

/** POST /tokenize: the ids the service would embed per input, so clients can chunk documents to the model's real limit. */
export const tokenizeRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  app.post(
    '/tokenize',
    {
      schema: {
        summary: "Tokenizes inputs as /embeddings would (prompt, special tokens, truncation), with each input's full count.",
        tags: ['tokenize'],
        body: tokenizeRequestSchema(registry),
        response: { 200: tokenizeResponseSchema, 400: errorResponseSchema, 404: errorResponseSchema, 503: errorResponseSchema },
      },
      preValidation: async (request) => {
        const problem = checkInputShape((request.body as { input?: unknown } | null)?.input, app.limits.maxRequestTokens);
        if (problem) throw problem;
      },
    },
    async (request, reply) => {
      const entry = registry.resolve(request.body.model)!;
      // The schema took only embedding models' names: a model with a pooled head, or a sparse one.
      const { embedder, sparseEncoder, runtime } = await entry.loaded;
      const model = (embedder ?? sparseEncoder)!;
      const { input } = request.body;
      const texts = typeof input === 'string' ? [input] : typeof input[0] === 'string' ? (input as string[]) : undefined;
      // Counting is stopped by the deadline and by the client leaving, as embedding is.
      const { encoded } = texts
        ? await callModel(request, reply, entry.spec.id, (signal) =>
            model.encode({ texts }, { prompt: promptChoice(request.body), whole: true, maxRequestTokens: app.limits.maxRequestTokens, signal }),
          )
        : // Vocabulary ids (a sparse vector's indices): their tokens, as they are.
          { encoded: (typeof input[0] === 'number' ? [input as number[]] : (input as number[][])).map((ids) => ({ ids: Int32Array.from(ids), length: ids.length })) };
      const embedded = encoded.reduce((sum, { ids }) => sum + ids.length, 0);
      return {
        object: 'list' as const,
        data: encoded.map(({ ids, length }, index) => ({
          object: 'tokens' as const,
          index,
          ids: Array.from(ids),
          tokens: runtime.tokenStrings(ids),
          num_tokens: ids.length,
          total_tokens: length,
          truncated: length > ids.length,
        })),
        model: entry.spec.id,
        usage: { prompt_tokens: embedded, total_tokens: embedded },
      };
    },
  );
};
