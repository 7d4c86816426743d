import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errors } from '../errors.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { describeModel, modelListSchema, modelParamsSchema, modelSchema } from '../schemas/models.ts';

export const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;

  app.get(
    '/models',
    { schema: { summary: 'Lists the served models, each with the fields of its kind.', tags: ['models'], response: { 200: modelListSchema } } },
    async () => ({ object: 'list' as const, data: registry.entries.map((entry) => describeModel(entry, registry.isLoaded(entry))) }),
  );
  app.get(
    '/models/*',
    {
      schema: {
        summary: 'Describes one model.',
        tags: ['models'],
        params: modelParamsSchema,
        response: { 200: modelSchema, 404: errorResponseSchema },
      },
    },
    async (request) => {
      const entry = registry.resolve(request.params['*']);
      if (!entry) throw errors.modelNotFound(request.params['*'], registry.ids);
      return describeModel(entry, registry.isLoaded(entry), registry.loadedModel(request.params['*'])?.runtime.int8Ranges);
    },
  );
};
