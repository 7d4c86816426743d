import { z } from 'zod';
import { COHERE_INPUT_TYPE_PROMPT_NAMES, firstPromptName, type PromptChoice } from '../prompts.ts';
import type { ModelDescription } from '../inference/files/model-files.ts';
import { pooledHeadOf } from '../inference/heads/head-spec.ts';
import type { VectorFormat } from '../inference/output/quantize.ts';
import type { Registry } from '../registry.ts';
import { MAX_INPUTS, resolveModel } from './embeddings.ts';
import { servedIds } from './models.ts';

/** Cohere's embedding types: each a vector format (base64: the float32 vector's little-endian bytes). */
export const COHERE_EMBEDDING_TYPES = ['float', 'int8', 'uint8', 'binary', 'ubinary', 'base64'] as const;
export type CohereEmbeddingType = (typeof COHERE_EMBEDDING_TYPES)[number];

export const cohereFormat = (type: CohereEmbeddingType): VectorFormat => (type === 'base64' ? { dtype: 'float', base64: true } : { dtype: type, base64: false });

const INPUT_TYPES = [...(Object.keys(COHERE_INPUT_TYPE_PROMPT_NAMES) as (keyof typeof COHERE_INPUT_TYPE_PROMPT_NAMES)[]), 'image'] as const;
type CohereInputType = (typeof INPUT_TYPES)[number];

/** The prompt Cohere's `input_type` picks: the model's prompt for it, or none (Cohere clients always send one). */
export function cohereInputTypePrompt(description: ModelDescription, inputType: CohereInputType | undefined): PromptChoice {
  if (inputType === undefined || inputType === 'image') return {};
  const promptName = firstPromptName(description, COHERE_INPUT_TYPE_PROMPT_NAMES[inputType]);
  return promptName === undefined ? {} : { promptName };
}

/** How a Cohere request over the limit can be fixed: its `truncate` values (for errors.inputTooLong). */
export const cohereTruncateHint = (limit: number, maxTokensGiven = false) =>
  `send "truncate": "END" (or "START") to embed its first (or last) ${limit} tokens${maxTokensGiven ? ' (max_tokens counts as the limit)' : ''}`;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({ type: z.literal('image_url'), image_url: z.unknown() });

/**
 * Cohere's embed request, /v1/embed and /v2/embed: `texts`, or (v2) `inputs` whose text parts are joined by a newline
 * into one text each. Images are refused: the served models read text.
 */
export function cohereEmbedRequestSchema(registry: Registry, version: 1 | 2) {
  const ids = servedIds(registry, 'embedding');
  const model = z.string().meta({ description: `An embedding model: ${ids.join(', ') || 'none served'}.`, examples: ids });
  return z
    .object({
      model: version === 1 ? model.optional().meta({ description: `${model.description} Default: the first embedding model served.` }) : model,
      texts: z.array(z.string()).optional().meta({ description: `1 to ${MAX_INPUTS} texts to embed.` }),
      inputs: z
        .array(z.object({ content: z.array(z.union([textPart, imagePart])) }))
        .optional()
        .meta({ description: 'v2: inputs of content parts; the text parts of one input are joined by a newline. Image parts are refused.' }),
      images: z.array(z.unknown()).optional().meta({ description: 'Refused: the served models embed text.' }),
      input_type: z
        .enum(INPUT_TYPES)
        .optional()
        .meta({
          description:
            "Applies the model's prompt for it: search_query and search_document as the OpenAI route's input_type query and document; classification and clustering a prompt of that name. None matching: no prompt. `image` is refused.",
        }),
      embedding_types: z
        .array(z.enum(COHERE_EMBEDDING_TYPES))
        .min(1)
        .optional()
        .meta({ description: 'The formats to return, computed from one run of the model (default ["float"]). int8/uint8 use the per-dimension ranges GET /models/{id} shows; binary/ubinary as sentence-transformers\' quantize_embeddings.' }),
      truncate: z
        .enum(['NONE', 'START', 'END'])
        .optional()
        .meta({ description: "Over-long inputs: END (default) keeps their start, START keeps their end, NONE refuses them with a 400." }),
      output_dimension: z.number().int().min(1).optional().meta({ description: 'Keep the first N dimensions (re-normalised if the model normalises), before quantising.' }),
      max_tokens: z.number().int().min(1).optional().meta({ description: "Tokens per input at most (special tokens included), below the model's limit; longer inputs are truncated as `truncate` says." }),
    })
    .superRefine((body, ctx) => {
      const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
      if (body.model !== undefined) {
        const entry = resolveModel(registry, body.model, ctx);
        const width = entry && pooledHeadOf(entry.description.heads).dimensions;
        if (width !== undefined && body.output_dimension !== undefined && body.output_dimension > width) {
          issue(['output_dimension'], `must be at most ${width} for model '${entry!.spec.id}'`);
        }
      } else if (ids.length === 0) issue(['model'], 'no embedding model is served');
      if (body.images !== undefined || body.input_type === 'image') return issue([body.images ? 'images' : 'input_type'], 'images cannot be embedded: the served models read text');
      if ((body.texts === undefined) === (body.inputs === undefined)) return issue(['texts'], version === 1 ? 'is required' : 'give either texts or inputs');
      const texts = body.texts ?? [];
      const list = body.texts ? 'texts' : 'inputs';
      const count = body.texts?.length ?? body.inputs!.length;
      if (count === 0) return issue([list], 'must not be an empty array');
      if (count > MAX_INPUTS) return issue([list], `has ${count} items; at most ${MAX_INPUTS} are allowed`);
      const empty = texts.findIndex((text) => text.length === 0);
      if (empty >= 0) return issue(['texts', empty], 'must not be an empty string');
      body.inputs?.forEach((input, index) => {
        if (input.content.some((part) => part.type === 'image_url')) issue(['inputs', index, 'content'], 'images cannot be embedded: the served models read text');
        else if (!input.content.some((part) => part.type === 'text' && part.text.length > 0)) issue(['inputs', index, 'content'], 'must hold a non-empty text part');
      });
    })
    .meta({
      description: `Cohere's embed request (v${version}), as the cohere-ai SDKs send it.`,
      examples: [{ model: ids[0], texts: ['The quick brown fox jumps over the lazy dog.'], input_type: 'search_document' }],
    });
}

export type CohereEmbedRequest = z.infer<ReturnType<typeof cohereEmbedRequestSchema>>;

/** The texts a request embeds: its `texts`, or each input's text parts joined by a newline. */
export const cohereTexts = (body: CohereEmbedRequest): string[] =>
  body.texts ?? body.inputs!.map((input) => input.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n'));

const meta = (version: string) =>
  z.object({
    api_version: z.object({ version: z.literal(version) }),
    billed_units: z.object({ input_tokens: z.number().int().meta({ description: 'Tokens embedded, special tokens included.' }) }),
  });

const vectors = z.array(z.array(z.number()));
const byType = z
  .object({ float: vectors, int8: vectors, uint8: vectors, binary: vectors, ubinary: vectors, base64: z.array(z.string()) })
  .partial()
  .meta({ description: 'Per requested embedding type, one vector per text, in order.' });

export const cohereV1ResponseSchema = z.union([
  z.object({ id: z.string(), response_type: z.literal('embeddings_floats'), embeddings: vectors, texts: z.array(z.string()), meta: meta('1') }),
  z.object({ id: z.string(), response_type: z.literal('embeddings_by_type'), embeddings: byType, texts: z.array(z.string()), meta: meta('1') }),
]);

export const cohereV2ResponseSchema = z.object({
  id: z.string(),
  response_type: z.literal('embeddings_by_type'),
  embeddings: byType,
  texts: z.array(z.string()),
  meta: meta('2'),
});
