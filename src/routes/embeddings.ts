import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v4 as uuidv4 } from 'uuid';
import { errors } from '../errors.ts';
import { fromEmbeddingError } from '../http/error-handler.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { embeddingsRequestSchema, embeddingsResponseSchema, inputList } from '../schemas/embeddings.ts';

/** Little-endian float32 bytes, base64: what the OpenAI SDKs decode. Typed arrays use the platform's byte order; every platform onnxruntime-node ships binaries for is little-endian. */
const toBase64 = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');

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
    },
    async (request, reply) => {
      // A client that hangs up, or a request past its deadline, takes its queued inputs with it: they are dropped, not computed.
      // One controller and a plain timer: AbortSignal.timeout with AbortSignal.any took ~5% of the HTTP thread under load.
      const cancel = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) cancel.abort(errors.clientClosed());
      });
      const deadline = setTimeout(() => cancel.abort(errors.timeout(app.limits.requestTimeoutMs)), app.limits.requestTimeoutMs);
      const { model: name, input, encoding_format: encoding, dimensions, truncate } = request.body;
      const entry = registry.resolve(name)!;
      let result;
      try {
        const model = await entry.loaded;
        result = await model.embed(inputList(input), {
          dimensions,
          truncate: truncate ?? app.limits.truncate,
          maxRequestTokens: app.limits.maxRequestTokens,
          signal: cancel.signal,
        });
      } catch (error) {
        if (cancel.signal.aborted) throw cancel.signal.reason;
        const known = fromEmbeddingError(error);
        if (known) throw known;
        request.log.error({ err: error, model: entry.spec.id }, 'embedding failed');
        throw errors.inferenceFailed();
      } finally {
        clearTimeout(deadline);
      }
      const { vectors, tokenCounts } = result;
      const totalTokens = tokenCounts.reduce((sum, count) => sum + count, 0);
      request.embedding = { model: entry.spec.id, inputs: vectors.length, tokens: totalTokens };
      return {
        object: 'list' as const,
        data: vectors.map((vector, index) => ({
          object: 'embedding' as const,
          index,
          embedding: encoding === 'base64' ? toBase64(vector) : Array.from(vector),
          num_tokens: tokenCounts[index]!,
        })),
        model: entry.spec.id,
        usage: { prompt_tokens: totalTokens, total_tokens: totalTokens },
        id: uuidv4(),
        created: Math.floor(Date.now() / 1000),
      };
    },
  );
};
