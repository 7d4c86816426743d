import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v4 as uuidv4 } from 'uuid';
import type { z } from 'zod';
import { DEFAULT_MAX_MULTI_VECTOR_VALUES } from '../config.ts';
import { MultiVectorTooLargeError } from '../embedding-errors.ts';
import { ApiError, errors } from '../errors.ts';
import { embeddingsBody, multiVectorEmbeddingsBody, sparseJson } from '../http/embeddings-body.ts';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { colbertAnswerCheck, multiOutputItems } from '../http/multi-output-items.ts';
import { tokenVectorsJsonParts } from '../http/token-vectors-json.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import type { ModelEntry } from '../registry.ts';
import { embeddingsRequestSchema, embeddingsResponseSchema, inputList, promptChoice, requestFormats } from '../schemas/embeddings.ts';

type EmbeddingsRequest = z.infer<ReturnType<typeof embeddingsRequestSchema>>;

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
      if (entry.description.colbert) return multiVectorAnswer(request, reply, entry);
      const inputs = inputList(body.input);
      const prompt = promptChoice(body, entry);
      const truncate = body.truncate ?? body.truncation ?? app.limits.truncate;
      type Answer = { embeddings: (Uint8Array | undefined)[]; tokenCounts: number[]; extras?: Uint8Array[][] };
      const { embeddings, tokenCounts, extras } = await callModel<Answer>(
        request,
        reply,
        entry.spec.id,
        async (signal) => {
          // The schema took only embedding models' names (a model with a pooled head, or a sparse one), texts for late chunking, and outputs the model has.
          const served = await entry.loaded;
          const { embedder, sparseEncoder } = served;
          const common = { truncate, maxRequestTokens: app.limits.maxRequestTokens, signal, prompt };
          if (!embedder) return sparseJson(await sparseEncoder!.embed(inputs, { ...common, maxActiveDims: body.max_active_dims }));
          const vectorOptions = { dimensions: body.dimensions ?? body.output_dimension ?? undefined, formats: requestFormats(body), normalize: body.normalized, signal, prompt };
          if (body.late_chunking) return embedder.embedLateChunked((inputs as { texts: string[] }).texts, { ...vectorOptions, encoding: body.encoding_format === 'base64' ? 'base64' : 'float' });
          const { outputs } = body;
          if (!outputs?.some((output) => output !== 'dense')) return embedder.embed(inputs, { ...common, ...vectorOptions });
          // bge-m3's several outputs, from one run.
          const multi = served.multiOutput!;
          const encoding = body.encoding_format === 'base64' ? 'base64' : 'float';
          const check = outputs.includes('colbert') ? colbertAnswerCheck(multi.colbertWidth, app.limits.maxMultiVectorValues ?? DEFAULT_MAX_MULTI_VECTOR_VALUES) : undefined;
          const multiResult = await multi.embed(inputs, outputs, { ...common, dimensions: vectorOptions.dimensions, encoding, maxActiveDims: body.max_active_dims, check });
          return { ...(await multiOutputItems(multiResult, multi.colbertWidth, encoding, signal)), tokenCounts: multiResult.tokenCounts };
        },
        (error) => (error instanceof ApiError ? error : undefined),
      );
      const totalTokens = tokenCounts.reduce((sum, count) => sum + count, 0);
      request.embedding = { model: entry.spec.id, inputs: embeddings.length, tokens: totalTokens };
      reply.type('application/json; charset=utf-8');
      // Already JSON (the schema above documents it): bytes with a JSON content type are sent as they are.
      return reply.send(embeddingsBody({ embeddings, extras, tokenCounts, model: entry.spec.id, totalTokens, id: uuidv4(), created: Math.floor(Date.now() / 1000) }) as never);
    },
  );
};

/**
 * A ColBERT model's answer: a vector per token of each input, for the side input_type names, bounded by
 * MAX_MULTI_VECTOR_VALUES; its text goes out in the parts it was written in (tens of MB are never copied whole).
 */
async function multiVectorAnswer(request: FastifyRequest<{ Body: EmbeddingsRequest }>, reply: FastifyReply, entry: ModelEntry) {
  const { limits } = request.server;
  const { input, encoding_format: encoding, truncate, truncation, input_type: side } = request.body;
  const answer = await callModel(
    request,
    reply,
    entry.spec.id,
    async (signal) => {
      const { vectors, width, tokenCounts } = await (await entry.loaded).multiVector!.embed(inputList(input), {
        side: side ?? undefined,
        truncate: truncate ?? truncation ?? limits.truncate,
        maxRequestTokens: limits.maxRequestTokens,
        maxValues: limits.maxMultiVectorValues ?? DEFAULT_MAX_MULTI_VECTOR_VALUES,
        prompt: promptChoice(request.body, entry),
        signal,
      });
      const embeddings: Uint8Array[][] = [];
      // The schema took only float or base64 for a ColBERT model.
      for (const rows of vectors) embeddings.push(await tokenVectorsJsonParts(rows, width, encoding === 'base64' ? 'base64' : 'float', signal));
      return { embeddings, tokenCounts, rows: vectors.map((rows) => rows.length / width) };
    },
    (error) => (error instanceof MultiVectorTooLargeError ? errors.multiVectorAnswerTooLarge(error.values, error.limit, 'input') : undefined),
  );
  const totalTokens = answer.tokenCounts.reduce((sum, count) => sum + count, 0);
  request.embedding = { model: entry.spec.id, inputs: answer.embeddings.length, tokens: totalTokens };
  reply.type('application/json; charset=utf-8');
  return reply.send(Readable.from(multiVectorEmbeddingsBody({ ...answer, model: entry.spec.id, totalTokens, id: uuidv4(), created: Math.floor(Date.now() / 1000) })));
}
