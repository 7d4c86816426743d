import { errors, type ApiError } from '../errors.ts';
import { MAX_INPUTS } from '../schemas/embeddings.ts';

const FORMS = "must be a string, an array of strings, an array of token ids (integers), or an array of arrays of token ids";

/**
 * Checks a request's `input` with plain loops before zod sees it, and caps its token ids: zod's
 * union tries each form in turn and records an issue per element that does not fit, which took
 * 3.4 s of the HTTP thread for a flat array of 3.3 M ids. What passes here is valid and bounded
 * (at most MAX_INPUTS texts, at most `maxIds` ids in all, OpenAI's cap on tokens per request),
 * and zod then checks it in a few ms. `allowIds`: whether token ids are an input form at all; `field`: the body's name for it.
 */
export function checkInputShape(input: unknown, maxIds: number, allowIds = true, field = 'input'): ApiError | undefined {
  if (input === undefined || typeof input === 'string') return undefined; // zod words a missing input
  // Made only when refused: an error captures a stack trace, which cost ~1% of a valid small request's HTTP-thread time.
  const invalid = () => errors.invalidRequest(`Invalid '${field}': ${allowIds ? FORMS : 'must be a string or an array of strings'}.`, field);
  if (!Array.isArray(input)) return invalid();
  if (input.length === 0) return errors.invalidRequest(`Invalid '${field}': must not be an empty array`, field, 'empty_input');
  const first: unknown = input[0];
  if (typeof first === 'number') {
    if (!allowIds) return invalid();
    if (input.length > maxIds) return errors.tooManyTokens(input.length, maxIds);
    return input.every(Number.isSafeInteger) ? undefined : invalid();
  }
  if (input.length > MAX_INPUTS) return errors.invalidRequest(`Invalid '${field}': has ${input.length} items; at most ${MAX_INPUTS} are allowed`, field);
  if (typeof first === 'string') return input.every((item) => typeof item === 'string') ? undefined : invalid();
  if (!allowIds || !Array.isArray(first)) return invalid();
  let ids = 0;
  for (const item of input) {
    if (!Array.isArray(item)) return invalid();
    ids += item.length;
  }
  if (ids > maxIds) return errors.tooManyTokens(ids, maxIds);
  return input.every((item: unknown[]) => item.every(Number.isSafeInteger)) ? undefined : invalid();
}
