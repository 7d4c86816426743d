/**
 * Finishing touches on the generated OpenAPI document, so that Swagger UI reads well and works
 * with keys: one schema per shape (zod's input-mode twins, `…Input`, point to their output
 * schemas), no 2^53 bounds that Swagger would show as example values, a description for every
 * response, the model path parameter named, and bearer auth declared (with its 401) when keys are
 * required, so that Authorize works.
 */
type Json = Record<string, unknown>;

const RESPONSE_DESCRIPTIONS: Record<string, string> = {
  200: 'OK',
  400: 'Invalid request: the message names the parameter and what is wrong',
  401: "Missing or wrong API key (send 'Authorization: Bearer <key>')",
  404: 'Unknown model (the message lists the served ones)',
  405: 'Wrong method for this path (the Allow header lists the right ones)',
  413: 'Body larger than BODY_LIMIT',
  429: "The model's queue is full; retry after Retry-After seconds",
  503: 'Not ready yet, timed out, or inference failed; retry',
};

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

export function polishOpenApi(document: Json, options: { apiKeys: boolean; openPaths: (path: string) => boolean }): Json {
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
    for (const operation of Object.values(operations)) {
      const responses = (operation.responses ?? {}) as Record<string, Json>;
      if (options.apiKeys && !options.openPaths(path)) {
        responses['401'] ??= { description: RESPONSE_DESCRIPTIONS[401], content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } };
      }
      if (options.apiKeys && options.openPaths(path)) operation.security = [];
      for (const [status, response] of Object.entries(responses)) {
        if (response.description === 'Default Response') response.description = RESPONSE_DESCRIPTIONS[status] ?? 'Error';
      }
      for (const parameter of (operation.parameters ?? []) as Json[]) if (parameter.name === '*') parameter.name = 'model';
    }
    if (path.includes('{*}')) {
      paths[path.replace('{*}', '{model}')] = operations;
      delete paths[path];
    }
  }
  if (options.apiKeys) {
    components.securitySchemes = { bearerAuth: { type: 'http', scheme: 'bearer', description: 'One of the keys in API_KEYS or API_KEYS_FILE.' } };
    document.security = [{ bearerAuth: [] }];
  }
  document.components = components;
  return document;
}
