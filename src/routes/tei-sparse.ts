import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errors } from '../errors.ts';
import { callModel } from '../http/model-call.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { teiSparseRequestSchema, teiSparseResponseSchema } from '../schemas/tei-sparse.ts';

/** TEI's `POST /embed_sparse`: a SPLADE model's vectors as `[[{index, value}]]`, so TEI clients switch over unchanged. */
export const teiSparseRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const sparseIds = () => registry.entries.filter((entry) => entry.description.sparse).map((entry) => entry.spec.id);
  app.post(
    '/embed_sparse',
    {
      config: { errorShape: 'tei' },
      schema: {
        summary: "Sparse (SPLADE) embeddings in TEI's shape.",
        tags: ['embeddings'],
        body: teiSparseRequestSchema,
        response: { 200: teiSparseResponseSchema, 400: errorResponseSchema, 404: errorResponseSchema, 413: errorResponseSchema, 429: errorResponseSchema, 503: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const { inputs, truncate, truncation_direction: direction, prompt_name: promptName, input_type: inputType, max_active_dims: maxActiveDims, model } = request.body;
      const entry = model === undefined ? registry.entries.find((candidate) => candidate.description.sparse) : registry.resolve(model);
      if (model !== undefined && !entry) throw errors.modelNotFound(model, registry.ids);
      if (!entry?.description.sparse) throw errors.notSparse(model, sparseIds());
      if (direction?.toLowerCase() === 'left') throw errors.invalidRequest('truncation_direction left is not served: inputs are cut at their end (right)', 'truncation_direction');
      const texts = typeof inputs === 'string' ? [inputs] : inputs;
      const { embeddings, tokenCounts } = await callModel(request, reply, entry.spec.id, async (signal) =>
        (await entry.loaded).sparseEncoder!.embed(
          { texts },
          { maxActiveDims, truncate: truncate ?? app.limits.truncate, maxRequestTokens: app.limits.maxRequestTokens, signal, prompt: { promptName: promptName ?? undefined, inputType: inputType ?? undefined } },
        ),
      );
      request.embedding = { model: entry.spec.id, inputs: embeddings.length, tokens: tokenCounts.reduce((sum, count) => sum + count, 0) };
      return embeddings.map(({ indices, values }) => indices.map((index, k) => ({ index, value: values[k]! })));
    },
  );
};
