import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * One structured log line and one metrics sample per request: request id,
 * route, status, duration, and for embeddings the model, input count and tokens
 * (never the input text). The request id (x-request-id, or a new uuid) is
 * returned in the x-request-id header. A request whose client hung up first is
 * logged and counted with status 499 (nginx's "client closed request").
 *
 * One synchronous hook and two listeners on the response: 'finish' when it is sent, 'close' without
 * 'finish' when the client left first (Fastify's onRequestAbort sees only clients that leave while
 * the body still arrives). Async hooks cost each request several promises; measured, they doubled
 * this file's share of a small request.
 */
export function recordRequests(app: FastifyInstance, accessLog?: FastifyBaseLogger) {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    let answered = false;
    reply.raw.once('finish', () => {
      answered = true;
      recordAnswered(app, accessLog, request, reply);
    });
    reply.raw.once('close', () => answered || recordAbandoned(app, accessLog, request, reply));
    done();
  });
}

function recordAnswered(app: FastifyInstance, accessLog: FastifyBaseLogger | undefined, request: FastifyRequest, reply: FastifyReply) {
  const route = request.routeOptions.url ?? 'unknown';
  const { method } = request;
  const status = reply.statusCode;
  const { embedding } = request;
  app.metrics.requests.inc({ route, method, status, model: embedding?.model ?? '' });
  app.metrics.latency.observe({ route, method }, reply.elapsedTime / 1000);
  if (embedding && status === 200) {
    app.metrics.inputs.inc({ model: embedding.model }, embedding.inputs);
    app.metrics.tokens.inc({ model: embedding.model }, embedding.tokens);
  }
  accessLog?.info({ reqId: request.id, method, route, status, ms: roundedMs(reply), ...embedding }, 'request');
}

function recordAbandoned(app: FastifyInstance, accessLog: FastifyBaseLogger | undefined, request: FastifyRequest, reply: FastifyReply) {
  const route = request.routeOptions.url ?? 'unknown';
  const { method } = request;
  app.metrics.requests.inc({ route, method, status: 499, model: '' });
  accessLog?.info({ reqId: request.id, method, route, status: 499, ms: roundedMs(reply) }, 'request abandoned: the client closed the connection');
}

const roundedMs = (reply: FastifyReply) => Math.round(reply.elapsedTime * 10) / 10;
