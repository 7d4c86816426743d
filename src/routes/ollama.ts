import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { pooledHeadOf } from '../inference/heads/head-spec.ts';
import { VERSION } from '../version.ts';
import { withVectors } from '../http/vector-list.ts';
import type { ModelEntry } from '../registry.ts';
import {
  ollamaEmbeddingsRequestSchema,
  ollamaEmbeddingsResponseSchema,
  ollamaEmbedRequestSchema,
  ollamaEmbedResponseSchema,
  ollamaErrorSchema,
  ollamaName,
  ollamaShowRequestSchema,
  ollamaShowResponseSchema,
  ollamaTagsResponseSchema,
  ollamaVersionResponseSchema,
  resolveOllamaName,
} from '../schemas/ollama.ts';

const OLLAMA = { errorShape: 'ollama' as const };
const ollamaErrors = { 400: ollamaErrorSchema, 404: ollamaErrorSchema, 413: ollamaErrorSchema, 429: ollamaErrorSchema, 503: ollamaErrorSchema };
const ARCHITECTURE = 'onnx';

/**
 * The model's vectors for texts, as the OpenAI route computes them; `dimensions` as Ollama reads it (≤ 0 or the width
 * or more: all); `normalize`: always (/api/embed, as Ollama), else as the model does.
 */
async function embedTexts(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: ModelEntry,
  texts: string[],
  options: { truncate?: boolean | null; dimensions?: number | null; normalize?: boolean } = {},
) {
  const { limits } = request.server;
  const { dimensions } = options;
  const kept = dimensions != null && dimensions > 0 && dimensions < pooledHeadOf(entry.description.heads).dimensions ? dimensions : undefined;
  return callModel(request, reply, entry.spec.id, async (signal) =>
    (await entry.loaded).embedder!.embed({ texts }, {
      dimensions: kept,
      encoding: 'float',
      normalize: options.normalize,
      truncate: options.truncate ?? true,
      maxRequestTokens: limits.maxRequestTokens,
      signal,
    }),
  );
}

/** What Ollama's listings say of a model's files: size, time written, and a digest that changes with them. */
async function fileFacts(entry: ModelEntry) {
  const file = await stat(entry.description.onnxFile);
  const digest = createHash('sha256').update(`${entry.spec.repo}\n${entry.spec.onnxPath}\n${file.size}\n${file.mtimeMs}`).digest('hex');
  return { size: file.size, modified_at: file.mtime.toISOString(), digest };
}

const details = { parent_model: '', format: ARCHITECTURE, family: ARCHITECTURE, families: [ARCHITECTURE], parameter_size: '', quantization_level: '' };

/**
 * Ollama's embedding API: /api/embed, the older /api/embeddings, and /api/tags, /api/show and /api/version, which
 * Open WebUI and the `ollama` clients read to accept a server. Only embedding models are listed. Errors in Ollama's
 * shape (`{"error": "..."}`).
 */
export const ollamaRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const embedders = () => registry.entries.filter((entry) => entry.description.kind === 'embedding');

  app.post(
    '/api/embed',
    {
      schema: { summary: "Embeds texts (Ollama's /api/embed).", tags: ['ollama'], body: ollamaEmbedRequestSchema(registry), response: { 200: ollamaEmbedResponseSchema, ...ollamaErrors } },
      config: OLLAMA,
      preValidation: async (request) => {
        const problem = checkInputShape((request.body as { input?: unknown } | null)?.input, app.limits.maxRequestTokens, false);
        // Ollama answers an empty list with no embeddings.
        if (problem && problem.code !== 'empty_input') throw problem;
      },
    },
    async (request, reply) => {
      const started = process.hrtime.bigint();
      const { body } = request;
      const entry = resolveOllamaName(registry, body.model)!;
      const texts = body.input == null || body.input === '' ? [] : typeof body.input === 'string' ? [body.input] : body.input;
      const { embeddings, tokenCounts } = texts.length === 0 ? { embeddings: [], tokenCounts: [] } : await embedTexts(request, reply, entry, texts, { ...body, normalize: true });
      const tokens = tokenCounts.reduce((sum, count) => sum + count, 0);
      request.embedding = { model: entry.spec.id, inputs: embeddings.length, tokens };
      const totalDuration = Number(process.hrtime.bigint() - started);
      reply.type('application/json; charset=utf-8');
      const tail = `],"total_duration":${totalDuration},"load_duration":0,"prompt_eval_count":${tokens}}`;
      return reply.send(withVectors(`{"model":${JSON.stringify(body.model)},"embeddings":[`, embeddings, tail) as never);
    },
  );

  app.post(
    '/api/embeddings',
    {
      schema: {
        summary: "Embeds one text (Ollama's older /api/embeddings).",
        tags: ['ollama'],
        body: ollamaEmbeddingsRequestSchema(registry),
        response: { 200: ollamaEmbeddingsResponseSchema, ...ollamaErrors },
      },
      config: OLLAMA,
    },
    async (request, reply) => {
      const { body } = request;
      const entry = resolveOllamaName(registry, body.model)!;
      // Ollama answers an empty prompt (which loads the model there) with an empty embedding.
      const { embeddings, tokenCounts } = body.prompt ? await embedTexts(request, reply, entry, [body.prompt]) : { embeddings: [Buffer.from('[]')], tokenCounts: [0] };
      request.embedding = { model: entry.spec.id, inputs: 1, tokens: tokenCounts[0]! };
      reply.type('application/json; charset=utf-8');
      return reply.send(withVectors('{"embedding":', embeddings, '}') as never);
    },
  );

  app.get(
    '/api/tags',
    { schema: { summary: "Lists the embedding models (Ollama's /api/tags).", tags: ['ollama'], response: { 200: ollamaTagsResponseSchema } }, config: OLLAMA },
    async () => ({
      models: await Promise.all(
        embedders().map(async (entry) => ({ name: ollamaName(entry), model: ollamaName(entry), ...(await fileFacts(entry)), details, capabilities: ['embedding'] })),
      ),
    }),
  );

  app.get(
    '/api/version',
    { schema: { summary: "The server's version (Ollama's /api/version, which Open WebUI asks to check a connection).", tags: ['ollama'], response: { 200: ollamaVersionResponseSchema } }, config: OLLAMA },
    async () => ({ version: VERSION }),
  );

  app.post(
    '/api/show',
    {
      schema: { summary: "Describes a model (Ollama's /api/show).", tags: ['ollama'], body: ollamaShowRequestSchema(registry), response: { 200: ollamaShowResponseSchema, ...ollamaErrors } },
      config: { ...OLLAMA, bodyAliases: ['name'] },
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | null;
        if (body && typeof body === 'object' && body.model === undefined && typeof body.name === 'string') body.model = body.name;
      },
    },
    async (request) => {
      const entry = resolveOllamaName(registry, request.body.model)!;
      const { modified_at } = await fileFacts(entry);
      return {
        license: '',
        modelfile: '',
        parameters: '',
        template: '',
        details,
        model_info: {
          'general.architecture': ARCHITECTURE,
          'general.basename': entry.spec.repo.split('/')[1]!,
          [`${ARCHITECTURE}.context_length`]: entry.description.maxTokens,
          [`${ARCHITECTURE}.embedding_length`]: pooledHeadOf(entry.description.heads).dimensions,
        },
        capabilities: ['embedding'],
        modified_at,
      };
    },
  );
};
