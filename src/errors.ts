/**
 * The one catalogue of errors the API answers with. Each leaves as OpenAI's
 * `{"error":{"message","type","param","code"}}`; 4xx for whatever the client can
 * fix (the OpenAI SDKs retry 408, 409, 429 and 5xx).
 */
export type ErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error';

/**
 * How an error body is written: OpenAI's (every route's by default); Text Embeddings Inference's
 * `{"error","error_type"}` on its routes (its clients read those fields); Ollama's `{"error"}` on its routes.
 */
export type ErrorShape = 'openai' | 'tei' | 'ollama';

/** TEI's error_type (its serde names, capitalised as it sends them) for a status. */
function teiErrorType(error: ApiError): string {
  if (error.status === 429) return 'Overloaded';
  if (error.code === 'not_ready') return 'Unhealthy';
  if (error.status >= 500) return 'Backend';
  if (error.code === 'empty_input') return 'Empty';
  return 'Validation';
}

export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toBody(shape: ErrorShape = 'openai') {
    if (shape === 'tei') return { error: this.message, error_type: teiErrorType(this) };
    if (shape === 'ollama') return { error: this.message };
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** What an operator does to serve another model. */
const HOW_TO_ADD_A_MODEL = (what: string) => `To serve one, add a line with ${what} to the server's models.txt (MODELS_FILE), run \`npm run download\` and restart the server.`;

/** Per model kind: what the server lacks, what its other models do instead, and an example to add. */
const MISSING_KIND: Record<'embedding' | 'reranker' | 'classifier', { lacks: string; others: string; example: string }> = {
  embedding: { lacks: 'embedding model', others: 'rerank', example: 'a sentence-transformers model (e.g. sentence-transformers/all-MiniLM-L6-v2)' },
  reranker: { lacks: 'reranker to rerank with', others: 'embed', example: 'a cross-encoder (e.g. cross-encoder/ms-marco-MiniLM-L6-v2)' },
  classifier: { lacks: 'classifier', others: 'embed or rerank', example: 'a sequence classifier (e.g. SamLowe/roberta-base-go_emotions)' },
};

export const errors = {
  /** A request naming no model, when none of the kind it needs is served. */
  noModelOfKind: (kind: keyof typeof MISSING_KIND, available: string[]) => {
    const { lacks, others, example } = MISSING_KIND[kind];
    return new ApiError(
      404,
      'invalid_request_error',
      `This server serves no ${lacks} (its models, ${available.join(', ') || 'none'}, ${others}). ` + HOW_TO_ADD_A_MODEL(example),
      'model',
      'model_not_found',
    );
  },
  invalidRequest: (message: string, param: string | null = null, code: string | null = null) =>
    new ApiError(400, 'invalid_request_error', message, param, code),
  invalidJson: (detail: string) =>
    new ApiError(400, 'invalid_request_error', `We could not parse the JSON body of your request: ${detail}`, null, 'invalid_json'),
  modelNotFound: (model: string, available: string[]) =>
    new ApiError(
      404,
      'invalid_request_error',
      `The model '${model}' does not exist. Available models: ${available.join(', ')}. ${HOW_TO_ADD_A_MODEL('its Hugging Face repo id')}`,
      'model',
      'model_not_found',
    ),
  notSparse: (model: string | undefined, sparse: string[]) =>
    new ApiError(
      model === undefined ? 404 : 400,
      'invalid_request_error',
      (model === undefined ? 'This server serves no sparse model to answer /embed_sparse with. ' : `The model '${model}' gives no sparse vectors. `) +
        `Sparse models served: ${sparse.join(', ') || 'none'} (GET /models lists each model's outputs). ` +
        HOW_TO_ADD_A_MODEL('a SPLADE model (e.g. naver/splade-cocondenser-ensembledistil)'),
      'model',
      model === undefined ? 'model_not_found' : 'model_kind_mismatch',
    ),
  routeNotFound: (method: string, url: string) =>
    new ApiError(404, 'invalid_request_error', `Invalid URL (${method} ${url}). The API is described at /docs.`, null, 'unknown_url'),
  notOnMetricsPort: (method: string, url: string, apiUrl: string) =>
    new ApiError(404, 'invalid_request_error', `Invalid URL (${method} ${url}). This port (METRICS_PORT) serves only GET /metrics; the API is at ${apiUrl}, described at ${apiUrl}/docs.`, null, 'unknown_url'),
  metricsNotHere: (metricsUrl: string | undefined) =>
    new ApiError(
      404,
      'invalid_request_error',
      metricsUrl ? `Metrics are not served on the API's port: they are at ${metricsUrl} (METRICS_PORT), with no API key.` : 'Metrics are off: set METRICS_PORT to serve them on a port of their own.',
      null,
      'unknown_url',
    ),
  methodNotAllowed: (method: string, path: string, allowed: string[]) =>
    new ApiError(405, 'invalid_request_error', `${path} does not take ${method}; it takes ${allowed.join(', ')}.`, null, 'method_not_allowed'),
  bodyTooLarge: (limit: number) =>
    new ApiError(413, 'invalid_request_error', `The request body is larger than the limit of ${limit} bytes.`, null, 'request_too_large'),
  invalidBody: (detail: string) => new ApiError(400, 'invalid_request_error', `We could not read the body of your request: ${detail}`, null, 'invalid_body'),
  unsupportedContentEncoding: (encoding: string) =>
    new ApiError(415, 'invalid_request_error', `Content-Encoding '${encoding}' is not supported; send identity, gzip, deflate or br.`, null, 'unsupported_content_encoding'),
  clientError: (status: number, message: string, code: string | null) => new ApiError(status, 'invalid_request_error', message, null, code),
  inputTooLong: (index: number, tokens: number, limit: number, atLeast: boolean, param = 'input', fix = `send "truncate": true to embed its first ${limit} tokens`) =>
    new ApiError(
      400,
      'invalid_request_error',
      `Input ${index} has ${atLeast ? `more than ${tokens} tokens; the model's limit is ${limit}` : `${tokens} tokens, more than the model's limit of ${limit}`}. Shorten it, or ${fix}.`,
      param,
      'context_length_exceeded',
    ),
  documentTooLong: (index: number, tokens: number, limit: number, param: string, atLeast = false) =>
    new ApiError(
      400,
      'invalid_request_error',
      `Document ${index} with the query has ${atLeast ? 'more than ' : ''}${tokens} tokens, more than the model's limit of ${limit}. Shorten it, or let the pair be truncated ("truncate": true).`,
      param,
      'context_length_exceeded',
    ),
  itemTooLong: (index: number, tokens: number, limit: number, param: string, atLeast = false) =>
    new ApiError(
      400,
      'invalid_request_error',
      `Item ${index} has ${atLeast ? 'more than ' : ''}${tokens} tokens, more than the model's limit of ${limit}. Shorten it, or let it be truncated ("truncate": true).`,
      param,
      'context_length_exceeded',
    ),
  multiVectorAnswerTooLarge: (values: number, limit: number, param: string) =>
    new ApiError(
      400,
      'invalid_request_error',
      `The answer would hold up to ${values} values (a vector per token of every input); at most ${limit} are allowed per request (MAX_MULTI_VECTOR_VALUES). Send fewer or shorter inputs.`,
      param,
      'multi_vector_answer_too_large',
    ),
  tooManyDocuments: (count: number, limit: number, param: string) =>
    new ApiError(400, 'invalid_request_error', `The request has ${count} documents; at most ${limit} are allowed (MAX_RERANK_DOCUMENTS). Split it.`, param, 'too_many_documents'),
  wrongModelKind: (model: string, kind: 'embedding' | 'reranker' | 'classifier') =>
    new ApiError(
      400,
      'invalid_request_error',
      kind === 'reranker'
        ? `The model '${model}' is a reranker (a cross-encoder): it scores query–document pairs at /rerank, it does not embed.`
        : kind === 'classifier'
          ? `The model '${model}' is a classifier: it labels texts and text pairs at /predict and /classify. GET /models lists each model's kind.`
          : `The model '${model}' is an embedding model: it embeds at /embeddings, it does not rerank. Use a reranker (GET /models lists each model's kind).`,
      'model',
      'model_kind_mismatch',
    ),
  lateChunking: (reason: string) =>
    new ApiError(400, 'invalid_request_error', `late_chunking cannot apply: ${reason}. Send the inputs without it, or in smaller groups.`, 'late_chunking', 'late_chunking_unavailable'),
  tooManyTokens: (tokens: number, limit: number, atLeast = false) =>
    new ApiError(
      400,
      'invalid_request_error',
      `The request has ${atLeast ? 'at least ' : ''}${tokens} tokens; at most ${limit} are allowed per request. Split it.`,
      'input',
      'max_tokens_per_request',
    ),
  unknownPrompt: (name: string, available: string[]) =>
    new ApiError(
      400,
      'invalid_request_error',
      `The model has no prompt named '${name}'. ${available.length > 0 ? `Its prompts: ${available.join(', ')}.` : 'It has no prompts.'}`,
      'prompt_name',
      'unknown_prompt',
    ),
  overloaded: () =>
    new ApiError(429, 'server_error', 'The server has too much work queued for this model; retry after a moment.', null, 'overloaded'),
  /** Never seen by the client, which has gone; nginx's code for it. */
  clientClosed: () => new ApiError(499, 'invalid_request_error', 'The client closed the connection.', null, 'client_closed'),
  invalidApiKey: (presented: boolean) =>
    new ApiError(
      401,
      'invalid_request_error',
      presented ? 'Incorrect API key provided.' : "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
      null,
      'invalid_api_key',
    ),
  timeout: (milliseconds: number) =>
    new ApiError(503, 'server_error', `The request did not finish within ${milliseconds} ms; the server is busy. Retry later.`, null, 'timeout'),
  notReady: () => new ApiError(503, 'server_error', 'The server is still loading its models.', null, 'not_ready'),
  internal: () => new ApiError(500, 'server_error', 'The server had an error while processing your request.', null, null),
  inferenceFailed: () => new ApiError(503, 'server_error', 'Inference failed for this request; please retry.', null, 'inference_failed'),
};
