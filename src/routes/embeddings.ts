import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v4 as uuidv4 } from 'uuid';
import { DEFAULT_MAX_MULTI_VECTOR_VALUES } from '../config.ts';
import { MultiVectorTooLargeError } from '../embedding-errors.ts';
import { errors } from '../errors.ts';
import { embeddingsBody, sparseJson } from '../http/embeddings-body.ts';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { tokenVectorsJson } from '../http/token-vectors-json.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { embeddingsRequestSchema, embeddingsResponseSchema, inputList, promptChoice, requestFormats } from '../schemas/embeddings.ts';

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
      const { body } = request;
      const entry = registry.resolve(body.model)!;
      const inputs = inputList(body.input);
      const prompt = promptChoice(body, entry);
      const truncate = body.truncate ?? body.truncation ?? app.limits.truncate;
      // A ColBERT model: a vector per token of each input, for the side input_type names.
      const result: { embeddings: Uint8Array[]; tokenCounts: number[]; rows?: number[] } = entry.description.colbert
        ? await callModel(
            request,
            reply,
            entry.spec.id,
            async (signal) => {
              const { vectors, width, tokenCounts } = await (await entry.loaded).multiVector!.embed(inputs, {
                side: body.input_type ?? undefined,
                truncate,
                maxRequestTokens: app.limits.maxRequestTokens,
                maxValues: app.limits.maxMultiVectorValues ?? DEFAULT_MAX_MULTI_VECTOR_VALUES,
                prompt,
                signal,
              });
              const embeddings: Uint8Array[] = [];
              for (const rows of vectors) embeddings.push(await tokenVectorsJson(rows, width, body.encoding_format === 'base64' ? 'base64' : 'float', signal));
              return { embeddings, tokenCounts, rows: vectors.map((rows) => rows.length / width) };
            },
            (error) => (error instanceof MultiVectorTooLargeError ? errors.multiVectorAnswerTooLarge(error.values, error.limit, 'input') : undefined),
          )
        : await callModel(request, reply, entry.spec.id, async (signal) => {
            // The schema took only embedding models' names (a model with a pooled head, or a sparse one), and texts for late chunking.
            const { embedder, sparseEncoder } = await entry.loaded;
            const common = { truncate, maxRequestTokens: app.limits.maxRequestTokens, signal, prompt };
            if (!embedder) return sparseJson(await sparseEncoder!.embed(inputs, { ...common, maxActiveDims: body.max_active_dims }));
            const vectorOptions = { dimensions: body.dimensions ?? body.output_dimension ?? undefined, formats: requestFormats(body), normalize: body.normalized, signal, prompt };
            if (body.late_chunking) return embedder.embedLateChunked((inputs as { texts: string[] }).texts, { ...vectorOptions, encoding: body.encoding_format === 'base64' ? 'base64' : 'float' });
            return embedder.embed(inputs, { ...common, ...vectorOptions });
          });
      const { embeddings, tokenCounts, rows } = result;
      const totalTokens = tokenCounts.reduce((sum, count) => sum + count, 0);
      request.embedding = { model: entry.spec.id, inputs: embeddings.length, tokens: totalTokens };
      reply.type('application/json; charset=utf-8');
      // Already JSON (the schema above documents it): bytes with a JSON content type are sent as they are.
      return reply.send(embeddingsBody({ embeddings, tokenCounts, rows, model: entry.spec.id, totalTokens, id: uuidv4(), created: Math.floor(Date.now() / 1000) }) as never);
    },
  );
};
