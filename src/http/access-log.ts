import type { FastifyInstance } from 'fastify';

/**
 * One structured log line and one metrics sample per request: request id,
 * route, status, duration, and for embeddings the model, input count and tokens
 * (never the input text). The request id (x-request-id, or a new uuid) is
 * returned in the x-request-id header. A request whose client hung up first is
 * logged and counted with status 499 (nginx's "client closed request").
 */
export function recordRequests(app: FastifyInstance) {
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    const seconds = reply.elapsedTime / 1000;
    const { embedding } = request;
    app.metrics.requests.inc({ route, method: request.method, status: reply.statusCode, model: embedding?.model ?? '' });
    app.metrics.latency.observe({ route, method: request.method }, seconds);
    if (embedding && reply.statusCode === 200) {
      app.metrics.inputs.inc({ model: embedding.model }, embedding.inputs);
      app.metrics.tokens.inc({ model: embedding.model }, embedding.tokens);
    }
    request.log.info(
      { method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ...embedding },
      'request',
    );
  });
  // Fastify's onRequestAbort fires only while the body is still arriving; a client that leaves while
  // its embeddings are computed is seen here, and its request never reaches onResponse.
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return;
      const route = request.routeOptions.url ?? 'unknown';
      app.metrics.requests.inc({ route, method: request.method, status: 499, model: '' });
      request.log.info(
        { method: request.method, route, status: 499, ms: Math.round(reply.elapsedTime * 10) / 10 },
        'request abandoned: the client closed the connection',
      );
    });
  });
}
