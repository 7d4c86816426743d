import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v4 as uuidv4 } from 'uuid';
import { errors } from '../errors.ts';
import { embeddingsBody } from '../http/embeddings-body.ts';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { embeddingsRequestSchema, embeddingsResponseSchema, inputList, promptChoice } from '../schemas/embeddings.ts';

/** A body larger than this is taken for a large request when the queue has no room for one. */
const LARGE_BODY_BYTES = 64 * 1024;

export const embeddingRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const errorResponses = { 400: errorResponseSchema, 404: errorResponseSchema, 413: errorResponseSchema, 429: errorResponseSchema, 503: errorResponseSchema };

  app.post(
    '/embeddings',
    {
      schema: {
        summary: 'Creates embeddings (OpenAI-compatible).',
        tags: ['embeddings'],
        body: embeddingsRequestSchema(registry),
        response: { 200: embeddingsResponseSchema, ...errorResponses },
      },
      // Before the body is read: a large body while no queue has room for a large request is refused unread (a bulk
      // client retrying on 429 would otherwise cost a parse each time).
      // (Callback hooks: an async hook costs a request several promises.)
      preParsing: (request, _reply, payload, done) => {
        if (Number(request.headers['content-length']) > LARGE_BODY_BYTES && registry.refusesLargeRequests()) return done(errors.overloaded());
        done(null, payload);
      },
      // Before zod: bounds and checks the input with plain loops, and refuses at once what the queue would not take.
      preValidation: (request, _reply, done) => {
        const body = request.body as { model?: unknown; input?: unknown } | null;
        const problem = checkInputShape(body?.input, app.limits.maxRequestTokens);
        if (problem) return done(problem);
        const model = typeof body?.model === 'string' ? registry.loadedModel(body.model) : undefined;
        if (model && !model.runtime.wouldAdmit(Array.isArray(body!.input) && typeof body!.input[0] !== 'number' ? body!.input.length : 1)) return done(errors.overloaded());
        done();
      },
    },
    async (request, reply) => {
      const { model: name, input, encoding_format: encoding, dimensions, truncate } = request.body;
      const entry = registry.resolve(name)!;
      const result = await callModel(request, reply, entry.spec.id, async (signal) =>
        // The schema took only embedding models' names.
        (await entry.loaded).embedder!.embed(inputList(input), {
          dimensions,
          encoding,
          truncate: truncate ?? app.limits.truncate,
          maxRequestTokens: app.limits.maxRequestTokens,
          signal,
          prompt: promptChoice(request.body),
        }),
      );
      const { embeddings, tokenCounts } = result;
      const totalTokens = tokenCounts.reduce((sum, count) => sum + count, 0);
      request.embedding = { model: entry.spec.id, inputs: embeddings.length, tokens: totalTokens };
      reply.type('application/json; charset=utf-8');
      // Already JSON (the schema above documents it): bytes with a JSON content type are sent as they are.
      return reply.send(embeddingsBody({ embeddings, tokenCounts, model: entry.spec.id, totalTokens, id: uuidv4(), created: Math.floor(Date.now() / 1000) }) as never);
    },
  );
};
