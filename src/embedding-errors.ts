/** What can go wrong with a request below the HTTP layer; src/http/error-handler.ts maps each to the catalogue. */
export class InputTooLongError extends Error {
  override name = 'InputTooLongError';
  constructor(
    readonly index: number,
    readonly tokens: number,
    readonly limit: number,
    /** Only a prefix of the input was tokenised: it has at least `tokens`. */
    readonly atLeast = false,
  ) {
    super(`input ${index} has ${atLeast ? 'more than ' : ''}${tokens} tokens; the model accepts at most ${limit}`);
  }
}

export class TooManyTokensError extends Error {
  override name = 'TooManyTokensError';
  constructor(
    readonly tokens: number,
    readonly limit: number,
    /** Counted before tokenising everything (a prompt's tokens times the inputs): the request has at least `tokens`. */
    readonly atLeast = false,
  ) {
    super(`the request has ${atLeast ? 'at least ' : ''}${tokens} tokens; at most ${limit} are allowed per request`);
  }
}

export class MultiVectorTooLargeError extends Error {
  override name = 'MultiVectorTooLargeError';
  constructor(
    /** Values the answer could hold: its inputs' vectors (at most one per token) times their width. */
    readonly values: number,
    readonly limit: number,
  ) {
    super(`the answer could hold ${values} values; at most ${limit} are allowed per request`);
  }
}

export class OverloadedError extends Error {
  override name = 'OverloadedError';
  constructor(readonly queued: number) {
    super(`${queued} inputs are already waiting`);
  }
}

export class UnknownPromptError extends Error {
  override name = 'UnknownPromptError';
  constructor(
    readonly promptName: string,
    readonly available: string[],
  ) {
    super(`unknown prompt name ${promptName}`);
  }
}

/** Late chunking cannot apply to the request (its inputs together over the model's limit, a pooling that reads one token, an input with no tokens). */
export class LateChunkingError extends Error {
  override name = 'LateChunkingError';
}
