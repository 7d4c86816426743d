import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { ApiError, errors } from '../errors.ts';
import { ThreadRequestError } from '../threads/request-thread.ts';
import { routeFields } from './body-fields.ts';
import { lingerBeforeClosing } from './linger.ts';
import { nestsDeeperThan, tooDeepMessage } from './json-depth.ts';
import { TOO_MANY_IDS, TOO_MANY_VALUES, type JsonParseThread } from './json-parse-thread.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Body fields a route reads besides those its body schema declares (aliases it takes before validation). */
    bodyAliases?: readonly string[];
  }
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
/** Codings one body may stack (`Content-Encoding: gzip, br`); more is no use to a client and a stream each here. */
const MAX_CODINGS = 2;

/**
 * Bodies larger than this are parsed on the JSON parse thread: a 256 kB body parses in ~1–7 ms (7 of tiny arrays;
 * 1 MB of them took 25 ms).
 */
const INLINE_PARSE_BYTES = 256 * 1024;

/**
 * The decoders for a Content-Encoding header, in the order to apply them (the header lists codings
 * in the order they were applied), or the error to answer.
 */
const NO_DECODERS = { decoders: [] as Transform[] };

function decodersFor(header: string | undefined): { decoders: Transform[] } | { error: Error } {
  if (header === undefined || header === 'identity') return NO_DECODERS;
  const codings = (header ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  const unknown = codings.find((coding) => !Object.hasOwn(DECODERS, coding));
  if (unknown !== undefined) return { error: errors.unsupportedContentEncoding(unknown) };
  if (codings.length > MAX_CODINGS) return { error: errors.unsupportedContentEncoding(header!.trim()) };
  return { decoders: codings.reverse().map((coding) => DECODERS[coding]!()) };
}

function fromParseThreadError(error: Error, request: FastifyRequest): Error {
  if (!(error instanceof ThreadRequestError)) return error;
  if (error.code === TOO_MANY_IDS) return errors.tooManyTokens(error.count!, request.server.limits.maxRequestTokens);
  if (error.code === TOO_MANY_VALUES) return errors.invalidRequest(error.message, error.param);
  return errors.invalidJson(error.message);
}

const NO_FIELDS: readonly string[] = [];
const fieldsByRoute = new WeakMap<object, readonly string[]>();

/**
 * The top-level fields the request's route reads: those its body schema (a zod object) declares, and its
 * `bodyAliases`; none without a body schema; every field when the schema is not an object's.
 */
function fieldsOf(request: FastifyRequest): readonly string[] | undefined {
  const schema = request.routeOptions.schema?.body as { shape?: object } | undefined;
  if (!schema) return NO_FIELDS;
  if (!schema.shape) return undefined;
  const { config } = request.routeOptions;
  let fields = fieldsByRoute.get(config);
  if (!fields) {
    fields = [...Object.keys(schema.shape), ...(config.bodyAliases ?? [])];
    fieldsByRoute.set(config, fields);
  }
  return fields;
}

/**
 * A Fastify body parser that reads any content type as JSON (curl -d sends a form type; every
 * body this API takes is JSON). `Content-Encoding: gzip | deflate | br` bodies (or a list of them)
 * are decoded, the limit applying to the decoded bytes: at the limit the decoders are destroyed,
 * so a bomb costs no more than the limit's worth of decoding. Large bodies are parsed off the
 * HTTP thread; bodies nested deeper than MAX_JSON_DEPTH are refused before parsing. Only the fields
 * the route reads are kept, within body-fields.ts's bounds.
 */
export const jsonBodyParser = (parseThread: JsonParseThread) => (request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => {
  const limit = request.routeOptions.bodyLimit ?? request.server.initialConfig.bodyLimit ?? Infinity;
  const declaredLength = Number(request.headers['content-length']);
  if (declaredLength > limit) {
    lingerBeforeClosing(payload);
    return done(errors.bodyTooLarge(limit));
  }
  const decoding = decodersFor(request.headers['content-encoding']);
  if ('error' in decoding) {
    payload.resume();
    return done(decoding.error);
  }
  const { decoders } = decoding;
  const source: Readable = decoders.reduce<Readable>((stream, decoder) => stream.pipe(decoder), payload);
  const chunks: Buffer[] = [];
  // A large body of known length is copied, as it arrives, into a buffer the parse thread can be handed without a copy
  // (made at the first chunk: a client that only declares a length costs nothing).
  const gatherable = decoders.length === 0 && declaredLength > INLINE_PARSE_BYTES;
  let gathered: Uint8Array | undefined;
  let received = 0;
  let finished = false;
  const finish = (error: Error | null, body?: unknown) => {
    if (finished) return;
    finished = true;
    source.removeAllListeners('data');
    if (error) {
      // Stop decoding (a bomb would otherwise go on inflating into nothing) and discard the rest of the upload.
      payload.unpipe();
      for (const decoder of decoders) decoder.destroy();
      if (error instanceof ApiError && error.status === 413) lingerBeforeClosing(payload);
      else payload.resume();
    }
    done(error, body);
  };
  source.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) return finish(errors.bodyTooLarge(limit));
    if (!gatherable) chunks.push(chunk);
    else if (received <= declaredLength) (gathered ??= new Uint8Array(declaredLength)).set(chunk, received - chunk.length);
  });
  const failed = (error: Error) => finish(decoders.length > 0 ? errors.invalidBody(`could not decode the ${request.headers['content-encoding']} body (${error.message})`) : error);
  payload.on('error', failed);
  for (const decoder of decoders) decoder.on('error', failed);
  source.on('end', () => {
    if (decoders.length === 0 && !Number.isNaN(declaredLength) && received !== declaredLength) {
      return finish(errors.clientError(400, `Content-Length is ${declaredLength} but ${received} bytes came.`, 'invalid_content_length'));
    }
    if (received > INLINE_PARSE_BYTES) {
      parseThread.parse(gathered ?? chunks, fieldsOf(request)).then(
        (body) => finish(null, body),
        (error: Error) => finish(fromParseThreadError(error, request)),
      );
      return;
    }
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (bytes.length === 0) return finish(null, undefined);
    if (nestsDeeperThan(bytes)) return finish(errors.invalidJson(tooDeepMessage));
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      return finish(errors.invalidJson((error as Error).message));
    }
    const kept = routeFields(value, fieldsOf(request));
    if ('refusal' in kept) return finish(errors.invalidRequest(kept.refusal.message, kept.refusal.param));
    finish(null, kept.body);
  });
};
