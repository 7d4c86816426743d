import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v4 as uuidv4 } from 'uuid';
import { InputTooLongError } from '../embedding-errors.ts';
import { errors } from '../errors.ts';
import { joinJson, jsonList } from '../http/json-pieces.ts';
import { callModel } from '../http/model-call.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import {
  cohereEmbedRequestSchema,
  cohereFormat,
  cohereInputTypePrompt,
  cohereTexts,
  cohereTruncateHint,
  cohereV1ResponseSchema,
  cohereV2ResponseSchema,
  type CohereEmbedRequest,
  type CohereEmbeddingType,
} from '../schemas/cohere.ts';
import { servedIds } from '../schemas/models.ts';

/**
 * POST /v1/embed and /v2/embed: Cohere's embed API, so the cohere-ai SDKs (CohereClient, CohereClientV2) and
 * LangChain's CohereEmbeddings work by changing only their base URL. Every requested embedding type comes from one
 * run of the model.
 */
export const cohereRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const errorResponses = { 400: errorResponseSchema, 404: errorResponseSchema, 429: errorResponseSchema, 503: errorResponseSchema };

  for (const version of [1, 2] as const) {
    app.post(
      `/v${version}/embed`,
      {
        schema: {
          summary: "Creates embeddings (Cohere's embed API).",
          description:
            "Cohere's v2 SDK (CohereClientV2) calls `/v2/embed`: the same fields with `model` required, answered as `embeddings_by_type` always. " +
            'Every embedding type asked comes from one run of the model.',
          tags: ['embeddings'],
          body: cohereEmbedRequestSchema(registry, version),
          response: { 200: version === 1 ? cohereV1ResponseSchema : cohereV2ResponseSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const body: CohereEmbedRequest = request.body;
        const entry = registry.resolve(body.model ?? servedIds(registry, 'embedding')[0]!)!;
        const texts = cohereTexts(body);
        const types = [...new Set<CohereEmbeddingType>(body.embedding_types ?? ['float'])];
        const param = body.texts ? 'texts' : 'inputs';
        const { vectors, tokenCounts } = await callModel(
          request,
          reply,
          entry.spec.id,
          async (signal) =>
            // The schema took only embedding models' names.
            (await entry.loaded).embedder!.embedFormats({ texts }, types.map(cohereFormat), {
              dimensions: body.output_dimension,
              truncate: body.truncate !== 'NONE',
              truncation: { direction: body.truncate === 'START' ? 'left' : 'right', maxTokens: body.max_tokens },
              maxRequestTokens: app.limits.maxRequestTokens,
              prompt: cohereInputTypePrompt(entry.description, body.input_type),
              signal,
            }),
          (error) =>
            error instanceof InputTooLongError
              ? errors.inputTooLong(error.index, error.tokens, error.limit, error.atLeast, param, cohereTruncateHint(error.limit, body.max_tokens !== undefined))
              : undefined,
        );
        const totalTokens = tokenCounts.reduce((sum, count) => sum + count, 0);
        request.embedding = { model: entry.spec.id, inputs: texts.length, tokens: totalTokens };
        const floatsOnly = version === 1 && body.embedding_types === undefined;
        const embeddings = floatsOnly ? jsonList(vectors[0]!) : ['{', ...types.flatMap((type, index) => [index === 0 ? '' : ',', `"${type}":`, ...jsonList(vectors[index]!)]), '}'];
        const head = `{"id":"${uuidv4()}","response_type":"${floatsOnly ? 'embeddings_floats' : 'embeddings_by_type'}","embeddings":`;
        const tail = `,"texts":${JSON.stringify(texts)},"meta":${JSON.stringify({ api_version: { version: String(version) }, billed_units: { input_tokens: totalTokens } })}}`;
        reply.type('application/json; charset=utf-8');
        return reply.send(joinJson([head, ...embeddings, tail]) as never);
      },
    );
  }
};
