import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { errors } from '../errors.ts';
import type { ModelEntry } from '../registry.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { modelListSchema, modelParamsSchema, type modelSchema } from '../schemas/models.ts';

export const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;

  const describe = (entry: ModelEntry): z.infer<typeof modelSchema> => ({
    id: entry.spec.id,
    object: 'model',
    kind: entry.description.kind,
    created: entry.created,
    owned_by: entry.ownedBy,
    dimensions: entry.description.dimensions,
    max_input_tokens: entry.description.maxTokens,
    pooling: entry.description.poolingModes.join('+'),
    normalized: entry.description.normalized,
    repo: entry.spec.repo,
    revision: entry.spec.revision ?? null,
    ready: registry.isLoaded(entry),
    prompts: entry.description.prompts,
    default_prompt_name: entry.spec.promptName ?? entry.description.defaultPromptName ?? null,
  });

  app.get(
    '/models',
    { schema: { summary: 'Lists the served models.', tags: ['models'], response: { 200: modelListSchema } } },
    async () => ({ object: 'list' as const, data: registry.entries.map(describe) }),
  );
  app.get(
    '/models/*',
    {
      schema: {
        summary: 'Describes one model.',
        tags: ['models'],
        params: modelParamsSchema,
        response: { 200: modelListSchema.shape.data.element, 404: errorResponseSchema },
      },
    },
    async (request) => {
      const entry = registry.resolve(request.params['*']);
      if (!entry) throw errors.modelNotFound(request.params['*'], registry.ids);
      return describe(entry);
    },
  );
};
