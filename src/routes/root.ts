import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const rootSchema = z
  .object({ object: z.literal('service'), docs: z.string(), openapi: z.string(), routes: z.array(z.string()) })
  .meta({ description: 'Where things are.' });

/** GET /: what a person who opens the server's address in a browser or with curl needs first: where the docs are. */
export const rootRoute: FastifyPluginAsyncZod = async (app) => {
  app.get('/', { schema: { summary: 'Points to the API documentation.', tags: ['health'], response: { 200: rootSchema } } }, async () => ({
    object: 'service' as const,
    docs: '/docs',
    openapi: '/docs/json',
    routes: ['POST /v1/embeddings', 'POST /v1/tokenize', 'POST /v1/rerank', 'GET /v1/models', 'GET /health', 'GET /ready'],
  }));
};
