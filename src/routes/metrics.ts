import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

export const metricsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text exposition format).', tags: ['health'] } }, async (_request, reply) => {
    reply.type(app.metrics.register.contentType);
    return app.metrics.register.metrics();
  });
};
