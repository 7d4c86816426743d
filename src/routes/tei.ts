import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errors } from '../errors.ts';
import { inputList, MAX_INPUTS } from '../schemas/embeddings.ts';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { logitsHeadOf, pooledHeadOf } from '../inference/heads/head-spec.ts';
import { VERSION } from '../version.ts';
import { withVectors } from '../http/vector-list.ts';
import { rerankRequestSchema } from '../schemas/rerank.ts';
import { modelOfKind } from '../schemas/model-of-kind.ts';
import {
  teiDecodeRequestSchema,
  teiDecodeResponseSchema,
  teiEmbedRequestSchema,
  teiEmbedResponseSchema,
  teiErrorSchema,
  teiInfoQuerySchema,
  teiInfoSchema,
} from '../schemas/tei.ts';
import { rerankRoute } from './rerank.ts';

const teiErrors = { 400: teiErrorSchema, 404: teiErrorSchema, 413: teiErrorSchema, 429: teiErrorSchema, 503: teiErrorSchema };
const TEI = { errorShape: 'tei' as const };

type TeiEmbedRequest = z.infer<ReturnType<typeof teiEmbedRequestSchema>>;

/** TEI's label maps of a classifier head: config.json's default names (LABEL_i), as this server does not read the names. */
function teiLabels(count: number) {
  const names = Array.from({ length: count }, (_, index) => `LABEL_${index}`);
  return { id2label: Object.fromEntries(names.map((name, index) => [String(index), name])), label2id: Object.fromEntries(names.map((name, index) => [name, index])) };
}

/** /embed: `[[float]]`, one vector per input, as the OpenAI route computes them. */
function embedRoute(app: FastifyInstance) {
  const { registry } = app;
  const preValidation = async (request: FastifyRequest) => {
    const problem = checkInputShape((request.body as { inputs?: unknown } | null)?.inputs, app.limits.maxRequestTokens, true, 'inputs');
    if (problem) throw problem;
  };
  const handler = async (request: FastifyRequest<{ Body: TeiEmbedRequest }>, reply: FastifyReply) => {
    const { body } = request;
    const entry = modelOfKind(registry, body.model, ['embedding'])!;
    const inputs = inputList(body.inputs);
    const { embeddings, tokenCounts } = await callModel(request, reply, entry.spec.id, async (signal) => {
      const embedder = (await entry.loaded).embedder!;
      return ('tokenIds' in inputs ? embedder.withModelTokenIds() : embedder).embed(
        inputs,
        {
          dimensions: body.dimensions ?? undefined,
          encoding: 'float',
          normalize: body.normalize,
          truncate: body.truncate ?? app.limits.truncate,
          truncation: { direction: body.truncation_direction?.toLowerCase() as 'right' | 'left' | undefined },
          maxRequestTokens: app.limits.maxRequestTokens,
          signal,
          prompt: { promptName: body.prompt_name ?? undefined },
        },
      );
    });
    request.embedding = { model: entry.spec.id, inputs: embeddings.length, tokens: tokenCounts.reduce((sum, count) => sum + count, 0) };
    reply.type('application/json; charset=utf-8');
    return reply.send(withVectors('[', embeddings, ']') as never);
  };
  return { preValidation, handler };
}

/**
 * Text Embeddings Inference's native routes: /embed, /decode, /info, and `POST /` and `/invocations` (what
 * huggingface_hub's InferenceClient and SageMaker send), which embed or rerank by the body's shape. Errors in TEI's
 * shape. (/rerank's TEI shape is in rerank.ts, /tokenize's in tokenize.ts.)
 */
export const teiRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const embed = embedRoute(app);
  const embedSchema = teiEmbedRequestSchema(registry);

  app.post(
    '/embed',
    {
      schema: { summary: "Embeds texts (Text Embeddings Inference's /embed).", tags: ['tei'], body: embedSchema, response: { 200: teiEmbedResponseSchema, ...teiErrors } },
      config: TEI,
      preValidation: embed.preValidation,
    },
    embed.handler,
  );

  const rerank = rerankRoute(app);
  const rerankSchema = rerankRequestSchema(registry);
  /** A body with a query (and TEI's texts) reranks; anything else embeds. */
  const reranks = (body: unknown) => typeof body === 'object' && body !== null && ('query' in body || 'texts' in body);
  const dispatchSchema = {
    summary: 'Embeds or reranks, by the body: `inputs` as /embed, `query` and `texts` as /rerank (TEI, and SageMaker at /invocations).',
    tags: ['tei'],
    body: z.union([embedSchema, rerankSchema]),
    response: { 200: z.union([teiEmbedResponseSchema, rerank.schema.response[200]]), ...teiErrors },
  };
  for (const path of ['/', '/invocations']) {
    const embedValidator = validatorCompiler({ schema: embedSchema, method: 'POST', url: path, httpPart: 'body' });
    const rerankValidator = validatorCompiler({ schema: rerankSchema, method: 'POST', url: path, httpPart: 'body' });
    app.post(
      path,
      {
        schema: dispatchSchema,
        config: TEI,
        // Each body is checked by its own API's schema, so its errors name its own fields.
        validatorCompiler: () => (data: unknown) => (reranks(data) ? rerankValidator(data) : embedValidator(data)),
        preValidation: async (request) => {
          if (reranks(request.body)) await rerank.preValidation(request);
          else await embed.preValidation(request);
        },
      },
      async (request, reply) => (reranks(request.body) ? rerank.handler(request as never, reply) : embed.handler(request as never, reply)),
    );
  }

  app.post(
    '/decode',
    {
      schema: {
        summary: "Turns token ids back into text (Text Embeddings Inference's /decode).",
        tags: ['tei'],
        body: teiDecodeRequestSchema(registry),
        response: { 200: teiDecodeResponseSchema, ...teiErrors },
      },
      config: TEI,
    },
    async (request) => {
      const { ids, skip_special_tokens: skip } = request.body;
      const model = (await modelOfKind(registry, request.body.model, ['embedding'])!.loaded).embedder!;
      return model.decode(Array.isArray(ids[0]) ? (ids as number[][]) : [ids as number[]], skip);
    },
  );

  app.get(
    '/info',
    {
      schema: { summary: "Describes the model model-less requests get (Text Embeddings Inference's /info).", tags: ['tei'], querystring: teiInfoQuerySchema, response: { 200: teiInfoSchema, 404: teiErrorSchema } },
      config: TEI,
    },
    async (request) => {
      const name = request.query.model;
      const entry = name === undefined ? registry.entries[0]! : registry.resolve(name);
      if (!entry) throw errors.modelNotFound(name!, registry.ids);
      const { description } = entry;
      return {
        model_id: entry.spec.repo,
        model_sha: entry.spec.revision ?? null,
        model_dtype: 'float32',
        served_model_name: entry.spec.id,
        model_type:
          description.kind === 'reranker'
            ? { reranker: teiLabels(logitsHeadOf(description.heads).labels) }
            : { embedding: { pooling: pooledHeadOf(description.heads).poolingModes.join('+') } },
        // Inputs, not requests, here: what may wait in the model's queue.
        max_concurrent_requests: registry.batching.maxQueued ?? Number.MAX_SAFE_INTEGER,
        max_input_length: description.maxTokens,
        max_batch_tokens: registry.batching.maxBatchTokens,
        max_batch_requests: registry.batching.maxBatchSize,
        max_client_batch_size: MAX_INPUTS,
        auto_truncate: app.limits.truncate,
        tokenization_workers: 1,
        version: VERSION,
        sha: null,
        docker_label: null,
      };
    },
  );
};
