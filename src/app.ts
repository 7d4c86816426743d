import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import fastifyCors from '@fastify/cors';
import { v4 as uuidv4 } from 'uuid';
import { isOpenPath, requireApiKeys } from './http/api-keys.ts';
import { openApiExamples } from './http/openapi-examples.ts';
import { API_DESCRIPTION, API_TAGS } from './http/openapi-text.ts';
import { listOnce, polishOpenApi } from './http/openapi-polish.ts';
import { recordRequests } from './http/access-log.ts';
import { clientErrorHandler } from './http/client-errors.ts';
import { trackConnections } from './http/connections.ts';
import { errorHandler, notFoundHandler } from './http/error-handler.ts';
import { jsonBodyParser } from './http/json-body.ts';
import { JsonParseThread } from './http/json-parse-thread.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import type { Registry } from './registry.ts';
import { cohereRoutes } from './routes/cohere.ts';
import { embeddingRoutes } from './routes/embeddings.ts';
import { healthRoutes } from './routes/health.ts';
import { modelRoutes } from './routes/models.ts';
import { rerankRoutes } from './routes/rerank.ts';
import { teiEmbedAllRoute } from './routes/tei-embed-all.ts';
import { rootRoute } from './routes/root.ts';
import { teiSparseRoutes } from './routes/tei-sparse.ts';
import { teiRoutes } from './routes/tei.ts';
import { ollamaRoutes } from './routes/ollama.ts';
import { VERSION } from './version.ts';
import { classifyRoutes } from './routes/classify.ts';
import { similarityRoutes } from './routes/similarity.ts';
import { tokenizeRoutes } from './routes/tokenize.ts';

declare module 'fastify' {
  interface FastifyInstance {
    registry: Registry;
    /** What /ready reports. */
    isReady(): boolean;
    limits: RequestLimits;
    metrics: Metrics;
    /** Before close(): idle connections close now, busy ones after their response (see http/connections.ts). */
    drainConnections(): void;
  }
  interface FastifyRequest {
    /** Set by the embeddings route, for the access log and metrics. */
    embedding: { model: string; inputs: number; tokens: number } | null;
  }
}

export interface RequestLimits {
  /** Whether over-long inputs are cut when a request does not say. */
  truncate: boolean;
  /** Tokens one request may embed in all. */
  maxRequestTokens: number;
  /** How long a request may wait for its embeddings before a 503. */
  requestTimeoutMs: number;
  /** Documents one rerank request may hold. */
  maxRerankDocuments: number;
  /** Values (vectors × width) one multi-vector answer may hold; DEFAULT_MAX_MULTI_VECTOR_VALUES when absent. */
  maxMultiVectorValues?: number;
}

const DEFAULT_LIMITS: RequestLimits = { truncate: true, maxRequestTokens: 300_000, requestTimeoutMs: 60_000, maxRerankDocuments: 1000 };

/** How long clients may take and how many may connect (slow or idle clients otherwise hold sockets forever). */
export interface ConnectionLimits {
  /** Receiving the request line and headers. */
  headersTimeoutMs: number;
  /** Receiving the whole request, body included. */
  requestTimeoutMs: number;
  /** Open connections per HTTP process; past it a new one evicts the one idle longest, or is closed when none is idle. */
  maxConnections: number;
}

const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 4096 };
/** How often Node checks those timeouts (its default, 30 s, would let a slow client run up to 30 s over). */
const TIMEOUT_CHECK_MS = 1000;

export interface AppOptions {
  registry: Registry;
  bodyLimit: number;
  connections?: ConnectionLimits;
  limits?: RequestLimits;
  metrics?: Metrics;
  /** When non-empty, every route but /health and /ready needs one of these as a Bearer token. */
  apiKeys?: string[];
  /** Origins allowed by CORS; CORS is off when empty. */
  corsOrigins?: string[];
  /** Where the app's own messages go (errors, listening); none when absent (tests). */
  logger?: FastifyBaseLogger;
  /** Where the line per request goes; none when absent (tests). */
  accessLog?: FastifyBaseLogger;
  /** Whether /ready answers 200; by default, once every model is loaded. */
  isReady?: () => boolean;
  /** The METRICS_PORT listener's /metrics, which GET /metrics here points to; absent: metrics are off. */
  metricsUrl?: string;
}

/** Printable ASCII, at most 128 characters: uuids, trace ids and the like. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** Every route answers at the root and under /v1, where the OpenAI SDKs look. */
const PREFIXES = ['', '/v1'];

/** Builds the HTTP app around a registry. It never listens; server.ts does. */
export async function buildApp(options: AppOptions) {
  const { registry, bodyLimit, limits = DEFAULT_LIMITS, metrics = createMetrics(), apiKeys = [], corsOrigins = [], logger, accessLog } = options;
  const connections = options.connections ?? DEFAULT_CONNECTION_LIMITS;
  const app = Fastify({
    http: { headersTimeout: connections.headersTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    requestTimeout: connections.requestTimeoutMs,
    clientErrorHandler,
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit,
    // A client's x-request-id is kept only if it is a plausible id: it is echoed and logged.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : uuidv4();
    },
    // Errors the router raises before any route (e.g. a malformed URL) get the same OpenAI shape.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
    // access-log.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>();
  // By default Node aborts a request when the client ends its side; connections.ts tells a half-close from a client that left.
  // (Node's http server reads this property; its types omit it.)
  (app.server as typeof app.server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  const tracked = trackConnections(app.server, connections.maxConnections);
  app.decorate('drainConnections', tracked.drain);
  app.decorate('registry', registry);
  app.decorate('isReady', options.isReady ?? (() => registry.isReady));
  app.decorate('limits', limits);
  app.decorate('metrics', metrics);
  app.decorateRequest('embedding', null);
  metrics.watch(registry);
  recordRequests(app, accessLog);
  if (corsOrigins.length > 0) await app.register(fastifyCors, { origin: corsOrigins });
  requireApiKeys(app, apiKeys);
  app.setValidatorCompiler(validatorCompiler);
  // Responses are declared in zod for the OpenAPI document and checked by the tests; at run
  // time plain JSON.stringify writes them, as re-validating every float of a large response costs more than embedding it.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler);
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', ({ url, method }) => {
    const methods = methodsByPath.get(url) ?? new Set<string>();
    for (const each of Array.isArray(method) ? method : [method]) if (each !== 'HEAD') methods.add(each);
    methodsByPath.set(url, methods);
  });
  app.setNotFoundHandler(notFoundHandler(methodsByPath, options.metricsUrl));

  app.removeAllContentTypeParsers();
  const parseThread = new JsonParseThread(limits.maxRequestTokens);
  app.addContentTypeParser('*', jsonBodyParser(parseThread));
  app.addHook('onClose', () => parseThread.close());

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Embeddings server', description: API_DESCRIPTION, version: VERSION },
      tags: API_TAGS,
    },
    transform: listOnce(jsonSchemaTransform, (url) => methodsByPath.has(url)),
    transformObject: (document) =>
      polishOpenApi(jsonSchemaTransformObject(document) as Record<string, unknown>, {
        apiKeys: apiKeys.length > 0,
        openPaths: isOpenPath,
        examples: openApiExamples(registry, { bodyLimit, requestTimeoutMs: limits.requestTimeoutMs }),
      }),
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  for (const prefix of PREFIXES) {
    await app.register(healthRoutes, { prefix });
    await app.register(modelRoutes, { prefix });
    await app.register(embeddingRoutes, { prefix });
    await app.register(tokenizeRoutes, { prefix });
    await app.register(rerankRoutes(['/rerank']), { prefix });
    await app.register(classifyRoutes, { prefix });
    await app.register(similarityRoutes, { prefix });
  }
  await app.register(rerankRoutes(['/v2/rerank']));
  await app.register(teiSparseRoutes);
  await app.register(cohereRoutes);
  await app.register(teiEmbedAllRoute);
  await app.register(rootRoute);
  await app.register(teiRoutes);
  await app.register(ollamaRoutes);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
