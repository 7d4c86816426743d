import { z } from 'zod';
import { findHead } from '../inference/heads/head-spec.ts';
import { checkSparseRequest, maxActiveDimsField, type SparseFields } from './sparse.ts';
import { BGE_M3_OUTPUTS } from '../inference/files/bge-m3.ts';
import { isOpenAiTokenId } from '../inference/tokenizing/openai-encoding.ts';
import { COMPACT_DTYPES, type VectorFormat } from '../inference/output/quantize.ts';
import { firstPromptName, INPUT_TYPE_PROMPT_NAMES, TASK_PROMPT_NAMES, type InputType, type PromptChoice, type Task } from '../prompts.ts';
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
    .nullish()
    .meta({ description: `Which side of retrieval the inputs are: applies the model's prompt for it (query: ${INPUT_TYPE_PROMPT_NAMES.query.join(', ')}; document: ${INPUT_TYPE_PROMPT_NAMES.document.join(', ')}; the first the model has). Ignored by a model without such prompts.` }),
  prompt_name: z.string().optional().meta({ description: "One of the model's prompt names (GET /models lists them), as SentenceTransformer.encode(prompt_name=...)." }),
  prompt: z
    .string()
    .max(MAX_PROMPT_CHARS)
    .optional()
    .meta({ description: `A literal prefix for every input, as SentenceTransformer.encode(prompt=...); at most ${MAX_PROMPT_CHARS} characters. Wins over prompt_name and input_type.` }),
};

/** The model layer's prompt choice from a request's fields (Jina's `task`, checked against the model's prompts, names one). */
export const promptChoice = (
  body: { input_type?: InputType | null | undefined; prompt_name?: string | undefined; prompt?: string | undefined; task?: Task | undefined },
  entry?: ModelEntry,
): PromptChoice => ({
  inputType: body.input_type ?? undefined,
  promptName: body.prompt_name ?? (body.task && entry ? firstPromptName(entry.description, TASK_PROMPT_NAMES[body.task]) : undefined),
  prompt: body.prompt,
});

const JINA_EMBEDDING_TYPES = ['float', 'base64', ...COMPACT_DTYPES] as const;
type JinaEmbeddingType = (typeof JINA_EMBEDDING_TYPES)[number];
const jinaFormat = (type: JinaEmbeddingType): VectorFormat => (type === 'base64' ? { dtype: 'float', base64: true } : { dtype: type, base64: false });

/** Voyage's and Jina's fields on the OpenAI route: what their clients send, each mapped to this route's own. */
const voyageJinaFields = {
  output_dtype: z
    .enum(['float', ...COMPACT_DTYPES])
    .optional()
    .meta({ description: 'Voyage: the vector type (int8/uint8/binary/ubinary as integers, or their bytes in base64 with encoding_format "base64").' }),
  output_dimension: z.number().int().min(1).nullish().meta({ description: 'Voyage: as `dimensions`.' }),
  truncation: z.boolean().optional().meta({ description: 'Voyage: as `truncate`.' }),
  task: z
    .enum(Object.keys(TASK_PROMPT_NAMES) as [Task, ...Task[]])
    .optional()
    .meta({ description: `Jina: applies the model's prompt for the task (${Object.entries(TASK_PROMPT_NAMES).map(([task, names]) => `${task}: ${names.join(', ')}`).join('; ')}; the first the model has); refused for a model with none of them.` }),
  embedding_type: z
    .union([z.enum(JINA_EMBEDDING_TYPES), z.array(z.enum(JINA_EMBEDDING_TYPES)).min(1)])
    .optional()
    .meta({ description: 'Jina: the vector type; several give each input an object of them by type, from one run of the model.' }),
  normalized: z.boolean().optional().meta({ description: "Jina: L2-normalise the vectors (true) or not (false); default: as the model's Normalize module says." }),
};

/** The formats a request asks its vectors in: Jina's embedding_type, else Voyage's output_dtype or the encoding_format. */
export function requestFormats(body: { encoding_format?: string | null; output_dtype?: VectorFormat['dtype']; embedding_type?: JinaEmbeddingType | JinaEmbeddingType[] }): VectorFormat[] {
  if (body.embedding_type !== undefined) return [...new Set(([] as JinaEmbeddingType[]).concat(body.embedding_type))].map(jinaFormat);
  const compact = COMPACT_DTYPES.find((dtype) => dtype === body.encoding_format);
  return [{ dtype: body.output_dtype ?? compact ?? 'float', base64: body.encoding_format === 'base64' }];
}

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
  body: SparseFields & {
    model: string;
    input: Input;
    dimensions?: number | undefined;
    late_chunking?: boolean | undefined;
    output_dimension?: number | null | undefined;
    task?: Task | undefined;
    encoding_format?: string | null;
    output_dtype?: string | undefined;
    embedding_type?: unknown;
    outputs?: string[] | undefined;
  },
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
  if (body.late_chunking && !('texts' in inputs)) return issue(['late_chunking'], 'takes texts: token ids cannot be joined into one sequence');
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
  const outputs = body.outputs ?? [];
  const repeated = outputs.find((output, index) => outputs.indexOf(output) !== index);
  if (repeated) return issue(['outputs'], `names ${repeated} twice`);
  const named = entry.description.namedOutputs;
  const missing = outputs.find((output) => output !== 'dense' && !(named && Object.hasOwn(named, output)));
  if (missing) return issue(['outputs'], `model '${entry.spec.id}' has no ${missing} output; its outputs: ${Object.keys(named ?? { dense: 0 }).join(', ')}`);
  if (body.task !== undefined && firstPromptName(entry.description, TASK_PROMPT_NAMES[body.task]) === undefined) {
    const prompts = Object.keys(entry.description.prompts);
    issue(['task'], `model '${entry.spec.id}' has no prompt for the task ${body.task} (one named ${TASK_PROMPT_NAMES[body.task].join(', ')}); ${prompts.length > 0 ? `its prompts: ${prompts.join(', ')}` : 'it has no prompts'}`);
  }
  const pooled = findHead(entry.description.heads, 'pooled');
  if (!pooled && entry.description.colbert) {
    const perToken = `is not taken by model '${entry.spec.id}', which gives a vector per token`;
    if (body.dimensions != null || body.output_dimension != null) return issue([body.dimensions != null ? 'dimensions' : 'output_dimension'], perToken);
    if (body.max_active_dims !== undefined) return issue(['max_active_dims'], perToken);
    if (body.late_chunking) return issue(['late_chunking'], perToken);
    if (body.encoding_format != null && body.encoding_format !== 'float' && body.encoding_format !== 'base64') return issue(['encoding_format'], `${body.encoding_format} ${perToken} (float or base64)`);
    return;
  }
  if (!pooled) return checkSparseRequest(body, entry, issue);
  const dimensions = body.dimensions ?? body.output_dimension;
  if (dimensions != null && dimensions > pooled.spec.dimensions) {
    issue([body.dimensions === undefined ? 'output_dimension' : 'dimensions'], `must be at most ${pooled.spec.dimensions} for model '${entry.spec.id}'`);
  }
  if (body.max_active_dims !== undefined && !outputs.includes('sparse')) {
    issue(['max_active_dims'], `is for sparse models; '${entry.spec.id}' gives dense vectors${named && Object.hasOwn(named, 'sparse') ? ' unless outputs names sparse' : ''}`);
  }
  const compact = COMPACT_DTYPES.find((dtype) => dtype === body.encoding_format);
  const notFloat = compact ?? (body.output_dtype !== undefined && body.output_dtype !== 'float' ? body.output_dtype : undefined) ?? (body.embedding_type !== undefined && body.embedding_type !== 'float' ? String(body.embedding_type) : undefined);
  if (body.late_chunking && notFloat) issue(['late_chunking'], `gives float vectors (as numbers or base64), not ${notFloat}`);
  if (outputs.some((output) => output !== 'dense') && (notFloat || body.late_chunking)) issue(['outputs'], 'sparse and colbert outputs come as floats, without late chunking');
  if (compact && body.output_dtype !== undefined && body.output_dtype !== compact) issue(['output_dtype'], `asks for ${body.output_dtype} vectors, encoding_format for ${compact}`);
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
        .enum(['float', 'base64', ...COMPACT_DTYPES])
        .nullish()
        .meta({
          description:
            '"float" (default): arrays of numbers; "base64": the vector\'s bytes, base64-encoded (little-endian float32, what the OpenAI SDKs ask for; with output_dtype, its bytes); an extension: "int8", "uint8", "binary", "ubinary" for compact vectors as integers.',
        }),
      dimensions: z
        .number()
        .int()
        .min(1)
        .optional()
        .meta({ description: "Keep the first N dimensions (re-normalised if the model normalises). At most the model's dimensions." }),
      user: z.string().optional().meta({ description: 'Accepted and ignored.' }),
      max_active_dims: maxActiveDimsField,
      outputs: z
        .array(z.enum(BGE_M3_OUTPUTS))
        .min(1)
        .optional()
        .meta({
          description:
            'What a multi-output model (bge-m3) returns, all from one forward pass: dense in `embedding`, sparse in `sparse_embedding` ({indices, values}), ' +
            'colbert in `colbert_embedding` (one vector per token after the first; with encoding_format "base64" one string of the float32 rows) with `colbert_rows`. Default ["dense"]; other models have only dense.',
        }),
      ...promptFields,
      ...voyageJinaFields,
      truncate: z
        .boolean()
        .optional()
        .meta({ description: "Cut inputs longer than the model's limit (sentence-transformers' behaviour); false refuses them with a 400. Default: the server's TRUNCATE." }),
      late_chunking: z
        .boolean()
        .optional()
        .meta({
          description:
            "Jina's late chunking: the inputs are embedded as one sequence (special tokens once, the prompt once at its start) and each input's tokens pooled on their own, so each vector sees the others' context. " +
            "Refused (400 late_chunking_unavailable) over the model's limit, or for a model pooling by cls or last token. Not with `truncate`: nothing is cut.",
        }),
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
        embedding: z
          .union([z.array(z.number()), z.string()])
          .meta({
            description:
              'Numbers, or base64 when encoding_format is "base64". A multi-vector (ColBERT) model gives a vector per token: an array of `rows` arrays of numbers, or base64 of their float32 values back to back. ' +
              'A sparse model (GET /v1/models: outputs ["sparse"]) answers {"indices": [token ids, ascending], "values": [their weights]} instead: only its non-zero weights. Absent only when a multi-output request\'s `outputs` leave dense out.',
          }),
        rows: z.number().int().optional().meta({ description: "A multi-vector model's vector count for this input." }),
        sparse_embedding: z
          .object({ indices: z.array(z.number().int()), values: z.array(z.number()) })
          .optional()
          .meta({ description: 'With outputs "sparse": token ids (ascending) and their weights, only non-zeros.' }),
        colbert_embedding: z
          .union([z.array(z.array(z.number())), z.string()])
          .optional()
          .meta({ description: 'With outputs "colbert": a normalised vector per token after the first (numbers, or the float32 rows as one base64 string).' }),
        colbert_rows: z.number().int().optional().meta({ description: 'With outputs "colbert": how many vectors colbert_embedding holds.' }),
        num_tokens: z.number().int().meta({ description: 'Tokens embedded for this input (after truncation, special tokens included).' }),
      }),
    ),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
    id: z.uuid(),
    created: z.number().int(),
  })
  .meta({ id: 'EmbeddingsResponse' });
