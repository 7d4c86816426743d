/**
 * Finishing touches on the generated OpenAPI document, so that Swagger UI reads well and works
 * with keys: each route listed once, one schema per shape (zod's input-mode twins, `…Input`, point
 * to their output schemas), no 2^53 bounds that Swagger would show as example values, a
 * description and an example for every response, the model path parameter named, and bearer auth
 * declared (with its 401) when keys are required, so that Authorize works.
 * Swagger UI reads descriptions as Markdown, and drops what looks like HTML: `<key>` goes in backticks.
 */
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import type { OpenApiExamples } from './openapi-examples.ts';

type Json = Record<string, unknown>;

const RESPONSE_DESCRIPTIONS: Record<string, string> = {
  200: 'OK',
  400: 'Invalid request: the message names the parameter and what is wrong',
  401: 'Missing or wrong API key: send `Authorization: Bearer <key>` (Authorize, above, does it for Try it out)',
  404: 'Unknown model (the message lists the served ones)',
  405: 'Wrong method for this path (the Allow header lists the right ones)',
  413: 'Body larger than BODY_LIMIT',
  429: "The model's queue is full; retry after Retry-After seconds",
  503: 'Not ready yet, timed out, or inference failed; retry',
};

/** The probes answer where orchestrators call them, at the root; the API under /v1, where OpenAI's SDKs call it. */
const PROBES = new Set(['/health', '/ready']);
const V1 = '/v1';

/** Whether the document lists this route (every route also answers at its twin: the same path with or without /v1). */
const isListed = (url: string) => (url.startsWith(`${V1}/`) ? !PROBES.has(url.slice(V1.length)) : PROBES.has(url));
const twinOf = (url: string) => (url.startsWith(`${V1}/`) ? url.slice(V1.length) : `${V1}${url}`);

/**
 * Wraps the schema transform so each route is listed once, its description naming its twin when it has one
 * (`isRoute`; the others are hidden from the document, and still answer).
 */
export function listOnce(transform: SwaggerTransform, isRoute: (url: string) => boolean): SwaggerTransform {
  return (input) => {
    const schema = input.schema as FastifySchema & { description?: string };
    if (!isListed(input.url)) return transform({ ...input, schema: { ...schema, hide: true } });
    const twin = isRoute(twinOf(input.url)) ? `Also at \`${twinOf(input.url).replace('*', '{model}')}\`.` : undefined;
    return transform({ ...input, schema: { ...schema, description: [schema.description, twin].filter(Boolean).join(' ') } });
  };
}

const INPUT_TWIN = /Input$/;
const SAFE_INTEGER = 2 ** 53 - 1;

/** Rewrites every value of the document, depth first. */
function rewrite(value: unknown, visit: (object: Json) => void): void {
  if (Array.isArray(value)) for (const item of value) rewrite(item, visit);
  else if (value && typeof value === 'object') {
    visit(value as Json);
    for (const child of Object.values(value)) rewrite(child, visit);
  }
}

/** The path with its wildcard named as the model it stands for. */
const namedPath = (path: string) => path.replace('{*}', '{model}');

/** Sets a response's example, for its one content type. */
function setExample(response: Json, example: unknown) {
  const content = Object.values((response.content ?? {}) as Record<string, Json>);
  for (const media of content) media.example = example;
}

export function polishOpenApi(document: Json, options: { apiKeys: boolean; openPaths: (path: string) => boolean; examples: OpenApiExamples }): Json {
  const components = (document.components ?? {}) as { schemas?: Json; securitySchemes?: Json };
  const schemas = components.schemas ?? {};
  for (const name of Object.keys(schemas)) {
    if (INPUT_TWIN.test(name) && schemas[name.replace(INPUT_TWIN, '')]) delete schemas[name];
  }
  rewrite(document, (object) => {
    if (typeof object.$ref === 'string' && INPUT_TWIN.test(object.$ref)) {
      const twin = object.$ref.replace(INPUT_TWIN, '');
      if (schemas[twin.split('/').at(-1)!]) object.$ref = twin;
    }
    if (object.maximum === SAFE_INTEGER) delete object.maximum;
    if (object.minimum === -SAFE_INTEGER) delete object.minimum;
  });
  const paths = (document.paths ?? {}) as Record<string, Record<string, Json>>;
  for (const [path, operations] of Object.entries(paths)) {
    const listedPath = namedPath(path);
    for (const operation of Object.values(operations)) {
      const responses = (operation.responses ?? {}) as Record<string, Json>;
      if (options.apiKeys && !options.openPaths(path)) {
        responses['401'] ??= { description: RESPONSE_DESCRIPTIONS[401], content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } };
      }
      if (options.apiKeys && options.openPaths(path)) operation.security = [];
      for (const [status, response] of Object.entries(responses)) {
        if (response.description === 'Default Response') response.description = RESPONSE_DESCRIPTIONS[status] ?? 'Error';
        const example = options.examples.responses[listedPath]?.[status] ?? options.examples.errors[status];
        if (example !== undefined) setExample(response, example);
      }
      for (const parameter of (operation.parameters ?? []) as Json[]) {
        if (parameter.name === '*') parameter.name = 'model';
        const example = options.examples.parameters[parameter.name as string];
        if (example !== undefined) parameter.example = example;
      }
    }
  }
  document.paths = Object.fromEntries(Object.entries(paths).map(([path, operations]) => [namedPath(path), operations]));
  if (options.apiKeys) {
    components.securitySchemes = { bearerAuth: { type: 'http', scheme: 'bearer', description: 'One of the keys in API_KEYS or API_KEYS_FILE.' } };
    document.security = [{ bearerAuth: [] }];
  }
  document.components = components;
  return document;
}
