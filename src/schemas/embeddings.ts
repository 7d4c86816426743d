import { z } from 'zod';
import { pooledHeadOf } from '../inference/heads/head-spec.ts';
import { isOpenAiTokenId } from '../inference/tokenizing/openai-encoding.ts';
import { INPUT_TYPE_PROMPT_NAMES, type InputType, type PromptChoice } from '../prompts.ts';
import type { ModelEntry, Registry } from '../registry.ts';
import { servedIds } from './models.ts';

export const MAX_INPUTS = 2048;
/**
 * A request's `prompt` is joined to each of its inputs: capped, so that joining it to 2048 inputs
 * stays within what one body may hold (instructions run to a few hundred characters).
 */
export const MAX_PROMPT_CHARS = 4096;

const tokenIds = z
  .array(z.number().int())
  .meta({ description: "Token ids: of OpenAI's cl100k_base encoding (what LangChain sends; embedded as the text they decode to), or with TOKEN_IDS=model the model's own vocabulary, used as given." });

const inputSchema = z
  .union([
    z.string().meta({ description: 'One text.' }),
    // Ids before texts: zod records an issue per element of every form that does not fit, and a flat array of ids is the longest array.
    tokenIds,
    z.array(z.string()).meta({ description: `1 to ${MAX_INPUTS} texts.` }),
    z.array(tokenIds).meta({ description: `1 to ${MAX_INPUTS} token id sequences.` }),
  ])
  .meta({ description: `Text(s) or token id sequence(s) to embed; no text may be empty, at most ${MAX_INPUTS} inputs.` });

/** Request extensions choosing a prompt (sentence-transformers' query/document prefixes); OpenAI's clients send none. */
export const promptFields = {
  input_type: z
    .enum(['query', 'document'])
    .optional()
    .meta({ description: `Which side of retrieval the inputs are: applies the model's prompt for it (query: ${INPUT_TYPE_PROMPT_NAMES.query.join(', ')}; document: ${INPUT_TYPE_PROMPT_NAMES.document.join(', ')}; the first the model has). Ignored by a model without such prompts.` }),
  prompt_name: z.string().optional().meta({ description: "One of the model's prompt names (GET /models lists them), as SentenceTransformer.encode(prompt_name=...)." }),
  prompt: z
    .string()
    .max(MAX_PROMPT_CHARS)
    .optional()
    .meta({ description: `A literal prefix for every input, as SentenceTransformer.encode(prompt=...); at most ${MAX_PROMPT_CHARS} characters. Wins over prompt_name and input_type.` }),
};

/** The model layer's prompt choice from a request's fields. */
export const promptChoice = (body: { input_type?: InputType | undefined; prompt_name?: string | undefined; prompt?: string | undefined }): PromptChoice => ({
  inputType: body.input_type,
  promptName: body.prompt_name,
  prompt: body.prompt,
});

/** Marks the schema issue an unknown model raises, so the error handler answers 404 rather than 400. */
export const MODEL_NOT_FOUND = 'model_not_found';
/** Marks the schema issue of a model of the wrong kind (a reranker asked to embed, or the other way), answered 400 model_kind_mismatch. */
export const MODEL_KIND_MISMATCH = 'model_kind_mismatch';

type Input = z.infer<typeof inputSchema>;

/** The request's inputs as a list: texts, or token id sequences. */
export function inputList(input: Input): { texts: string[] } | { tokenIds: number[][] } {
  if (typeof input === 'string') return { texts: [input] };
  if (input.length > 0 && typeof input[0] === 'number') return { tokenIds: [input as number[]] };
  if (input.length > 0 && Array.isArray(input[0])) return { tokenIds: input as number[][] };
  return { texts: input as string[] };
}

/** Checks the request against the model it names: inputs, token ids and dimensions. */
function checkAgainstModel(
  body: { model: string; input: Input; dimensions?: number | undefined },
  registry: Registry,
  ctx: z.RefinementCtx,
) {
  const entry = resolveModel(registry, body.model, ctx);
  if (!entry) return;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const inputs = inputList(body.input);
  const list = 'texts' in inputs ? inputs.texts : inputs.tokenIds;
  if (Array.isArray(body.input) && body.input.length === 0) return issue(['input'], 'must not be an empty array');
  if (list.length > MAX_INPUTS) return issue(['input'], `has ${list.length} items; at most ${MAX_INPUTS} are allowed`);
  const nested = Array.isArray(body.input) && list.length > 0 && typeof body.input[0] !== 'number';
  const where = (index: number) => (nested ? ['input', index] : ['input']);
  for (const [index, item] of list.entries()) {
    if (item.length === 0) return issue(where(index), typeof item === 'string' ? 'must not be an empty string' : 'must not be an empty array of token ids');
    if (typeof item !== 'string' && entry.tokenIds === 'openai') {
      const bad = item.findIndex((id) => !isOpenAiTokenId(id));
      if (bad >= 0) return issue([...where(index), bad], `token id ${item[bad]} is not a token of cl100k_base, the encoding OpenAI's API reads token ids in`);
    } else if (typeof item !== 'string') {
      const bad = item.findIndex((id) => id < 0 || id >= entry.description.vocabSize);
      if (bad >= 0) return issue([...where(index), bad], `token id ${item[bad]} is outside the model's vocabulary (0 to ${entry.description.vocabSize - 1})`);
    }
  }
  const { dimensions } = pooledHeadOf(entry.description.heads);
  if (body.dimensions !== undefined && body.dimensions > dimensions) {
    issue(['dimensions'], `must be at most ${dimensions} for model '${entry.spec.id}'`);
  }
}

/** The `model` field of an embeddings or tokenize request: any name of an embedding model (the docs list their ids). */
export const modelField = (registry: Registry) => {
  const ids = servedIds(registry, 'embedding');
  return z.string().meta({ description: `An embedding model: ${ids.join(', ') || 'none served'} (or its full repo id, or its bare repo name).`, examples: ids });
};

/** The model a request names, or a model_not_found issue (answered 404). */
export function resolveModel(registry: Registry, name: string, ctx: z.RefinementCtx): ModelEntry | undefined {
  const entry = registry.resolve(name);
  if (!entry) ctx.addIssue({ code: 'custom', path: ['model'], message: `unknown model '${name}'`, params: { code: MODEL_NOT_FOUND } });
  else if (entry.description.kind !== 'embedding') {
    ctx.addIssue({ code: 'custom', path: ['model'], message: `'${name}' is a reranker`, params: { code: MODEL_KIND_MISMATCH } });
    return undefined;
  }
  return entry;
}

/** What Swagger UI's "Try it out" fills in: a request that works as it stands (a real model, no dimensions). */
export const workingExample = (registry: Registry) => ({
  model: servedIds(registry, 'embedding')[0],
  input: 'The quick brown fox jumps over the lazy dog.',
});

export function embeddingsRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry),
      input: inputSchema,
      encoding_format: z
        .enum(['float', 'base64'])
        .default('float')
        .meta({ description: '"float": arrays of numbers; "base64": little-endian float32 bytes, base64-encoded (what the OpenAI SDKs ask for).' }),
      dimensions: z
        .number()
        .int()
        .min(1)
        .optional()
        .meta({ description: "Keep the first N dimensions (re-normalised if the model normalises). At most the model's dimensions." }),
      user: z.string().optional().meta({ description: 'Accepted and ignored.' }),
      ...promptFields,
      truncate: z
        .boolean()
        .optional()
        .meta({ description: "Cut inputs longer than the model's limit (sentence-transformers' behaviour); false refuses them with a 400. Default: the server's TRUNCATE." }),
    })
    .superRefine((body, ctx) => checkAgainstModel(body, registry, ctx))
    .meta({ description: 'OpenAI embeddings request.', examples: [workingExample(registry)] });
}

export const embeddingsResponseSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        object: z.literal('embedding'),
        index: z.number().int(),
        embedding: z.union([z.array(z.number()), z.string()]).meta({ description: 'Numbers, or base64 when encoding_format is "base64".' }),
        num_tokens: z.number().int().meta({ description: 'Tokens embedded for this input (after truncation, special tokens included).' }),
      }),
    ),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
    id: z.uuid(),
    created: z.number().int(),
  })
  .meta({ id: 'EmbeddingsResponse' });
