import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errors } from '../errors.ts';
import { callModel } from '../http/model-call.ts';
import type { ModelEntry } from '../registry.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { teiSparseRequestSchema, teiSparseResponseSchema } from '../schemas/tei-sparse.ts';

/** Whether a model gives sparse vectors: a SPLADE model, or a multi-output one with a sparse output (bge-m3). */
const givesSparse = (entry: ModelEntry) => entry.description.sparse !== undefined || Object.hasOwn(entry.description.namedOutputs ?? {}, 'sparse');

/**
 * TEI's `POST /embed_sparse`: a sparse model's vectors as `[[{index, value}]]`, so TEI clients switch over unchanged: a
 * SPLADE model's, or bge-m3's sparse output (as /v1/embeddings gives it with outputs: ["sparse"]).
 */
export const teiSparseRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const sparseIds = () => registry.entries.filter(givesSparse).map((entry) => entry.spec.id);
  app.post(
    '/embed_sparse',
    {
      config: { errorShape: 'tei' },
      schema: {
        summary: "Sparse embeddings (a SPLADE model's, bge-m3's sparse output) in TEI's shape.",
        tags: ['embeddings'],
        body: teiSparseRequestSchema,
        response: { 200: teiSparseResponseSchema, 400: errorResponseSchema, 404: errorResponseSchema, 413: errorResponseSchema, 429: errorResponseSchema, 503: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const { inputs, truncate, truncation_direction: direction, prompt_name: promptName, input_type: inputType, max_active_dims: maxActiveDims, model } = request.body;
      const entry = model === undefined ? registry.entries.find(givesSparse) : registry.resolve(model);
      if (model !== undefined && !entry) throw errors.modelNotFound(model, registry.ids);
      if (!entry || !givesSparse(entry)) throw errors.notSparse(model, sparseIds());
      const texts = typeof inputs === 'string' ? [inputs] : inputs;
      const truncation = { direction: direction?.toLowerCase() as 'right' | 'left' | undefined };
      const options = { maxActiveDims, truncate: truncate ?? app.limits.truncate, truncation, maxRequestTokens: app.limits.maxRequestTokens, prompt: { promptName: promptName ?? undefined, inputType: inputType ?? undefined } };
      const { embeddings, tokenCounts } = await callModel(request, reply, entry.spec.id, async (signal) => {
        const { sparseEncoder, multiOutput } = await entry.loaded;
        if (sparseEncoder) return sparseEncoder.embed({ texts }, { ...options, signal });
        // bge-m3: its sparse output alone, from the same run /v1/embeddings makes.
        const { sparse, tokenCounts } = await multiOutput!.embed({ texts }, ['sparse'], { ...options, signal });
        return { embeddings: sparse!, tokenCounts };
      });
      request.embedding = { model: entry.spec.id, inputs: embeddings.length, tokens: tokenCounts.reduce((sum, count) => sum + count, 0) };
      return embeddings.map(({ indices, values }) => indices.map((index, k) => ({ index, value: values[k]! })));
    },
  );
};
