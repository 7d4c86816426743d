import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ApiError, errors, type ErrorShape } from '../errors.ts';
import { InputTooLongError, LateChunkingError, OverloadedError, TooManyTokensError, UnknownPromptError } from '../embedding-errors.ts';
import { MODEL_KIND_MISMATCH, MODEL_NOT_FOUND } from '../schemas/embeddings.ts';
import { NO_MODEL_OF_KIND } from '../schemas/model-of-kind.ts';
import type { ModelKind } from '../schemas/models.ts';
import { nearMiss } from './near-miss.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the route writes its errors (OpenAI's shape by default); a function decides per request (a route taking two APIs' bodies). */
    errorShape?: ErrorShape | ((request: FastifyRequest) => ErrorShape);
  }
}

const RETRY_AFTER_SECONDS = 1;

/** The shape the request's route answers errors in. */
function errorShapeOf(request: FastifyRequest): ErrorShape {
  // Errors raised before routing (a malformed URL) have no route config.
  const shape = request.routeOptions?.config?.errorShape;
  return typeof shape === 'function' ? shape(request) : (shape ?? 'openai');
}

/** `input`, `input[3]`, `input[3][5]`: where in the body a problem is. */
function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

/** The one wording for a required field the body lacks, with the field it has that looks like a misspelling of it. */
function missingMessage(param: string, body: Record<string, unknown>): string {
  const similar = nearMiss(param, body);
  return `Missing required parameter: '${param}'.${similar ? ` The request has '${similar}': did you mean '${param}'?` : ''}`;
}

function validationMessage(path: string, param: string | null, keyword: string, message: string): string {
  if (!path) return `The request body must be a JSON object with 'model' and 'input' (${message}).`;
  if (keyword === 'invalid_union' && param === 'input') {
    return `Invalid '${path}': must be a string, an array of strings, an array of token ids (integers), or an array of arrays of token ids.`;
  }
  return `Invalid '${path}': ${message}`;
}

const FASTIFY_CLIENT_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'invalid_url',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

/** The catalogue's error for a failure the model layer reports, if it is one. */
export function fromEmbeddingError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof InputTooLongError) return errors.inputTooLong(error.index, error.tokens, error.limit, error.atLeast);
  if (error instanceof TooManyTokensError) return errors.tooManyTokens(error.tokens, error.limit, error.atLeast);
  if (error instanceof OverloadedError) return errors.overloaded();
  if (error instanceof UnknownPromptError) return errors.unknownPrompt(error.promptName, error.available);
  if (error instanceof LateChunkingError) return errors.lateChunking(error.message);
  return undefined;
}

/** Turns whatever was thrown into the catalogue's error. */
export function toApiError(error: FastifyError, request: FastifyRequest): ApiError {
  const known = fromEmbeddingError(error);
  if (known) return known;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issue = error.validation[0]!;
    const path = fieldPath(issue.instancePath);
    const { code, kind, id } = (issue.params as { params?: { code?: string; kind?: string; id?: string } }).params ?? {};
    const model = (request.body as { model?: string } | undefined)?.model;
    // No model named and none to default to: only /rerank, with no reranker served.
    if (code === MODEL_NOT_FOUND) return model === undefined ? errors.noModelOfKind('reranker', request.server.registry.ids) : errors.modelNotFound(model, request.server.registry.ids);
    if (code === NO_MODEL_OF_KIND) return errors.noModelOfKind(kind as ModelKind, request.server.registry.ids);
    if (code === MODEL_KIND_MISMATCH) {
      // `id`: the model the issue found under another name (Ollama's `name:latest`).
      const entry = request.server.registry.resolve(id ?? model!)!;
      return errors.wrongModelKind(entry.spec.id, entry.description.kind);
    }
    const param = path.match(/^[A-Za-z_]+/)?.[0] ?? null;
    const body = request.body;
    if (param !== null && path === param && typeof body === 'object' && body !== null && !Array.isArray(body) && (body as Record<string, unknown>)[param] === undefined) {
      return errors.invalidRequest(missingMessage(param, body as Record<string, unknown>), param);
    }
    return errors.invalidRequest(validationMessage(path, param, issue.keyword, issue.message ?? 'invalid'), param);
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return errors.bodyTooLarge(request.server.initialConfig.bodyLimit ?? 0);
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError) {
    return errors.invalidJson(error.message);
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return errors.clientError(status, error.message, FASTIFY_CLIENT_CODES[error.code] ?? null);
  return errors.internal();
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const apiError = toApiError(error, request);
  // Deliberate 503s (not ready, inference failed) are expected or logged where they arise; a 500 is a bug.
  if (apiError.status === 500) request.log.error({ err: error }, 'request failed');
  if (apiError.status === 429) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  // A body too large is not read whole: the connection closes after it (see linger.ts).
  if (apiError.status === 413) reply.header('connection', 'close');
  return reply.status(apiError.status).send(apiError.toBody(errorShapeOf(request)));
}

/**
 * The routes' methods by path, for 405s: a known path asked with the wrong method (GET
 * /v1/embeddings) is told which methods it takes, in an `Allow` header too, rather than that the
 * URL is unknown. /metrics is told where the metrics are (`metricsUrl`), or that they are off.
 */
export function notFoundHandler(methodsByPath: Map<string, Set<string>>, metricsUrl: string | undefined) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const allowed = methodsByPath.get(path);
    const apiError = allowed
      ? errors.methodNotAllowed(request.method, path, [...allowed])
      : path === '/metrics'
        ? errors.metricsNotHere(metricsUrl)
        : errors.routeNotFound(request.method, request.url);
    if (allowed) reply.header('allow', [...allowed].join(', '));
    return reply.status(apiError.status).send(apiError.toBody());
  };
}
