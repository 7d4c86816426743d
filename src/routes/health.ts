import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errors } from '../errors.ts';
import { errorResponseSchema } from '../schemas/error.ts';

const statusSchema = z.object({ status: z.string() });

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/health',
    { schema: { summary: 'Liveness: the process answers.', tags: ['health'], response: { 200: statusSchema } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 once every model is loaded, 503 before.',
        tags: ['health'],
        response: { 200: statusSchema, 503: errorResponseSchema },
      },
    },
    async () => {
      if (!app.isReady()) throw errors.notReady();
      return { status: 'ready' };
    },
  );
};
