import { z } from 'zod';
import { logitsHeadOf, pooledHeadOf } from '../inference/heads/head-spec.ts';
import { POOLING_MODES } from '../inference/heads/pooling.ts';
import type { ModelEntry, Registry } from '../registry.ts';

export type ModelKind = ModelEntry['description']['kind'];

/** The ids of the served models of one kind, in models.txt's order. */
export const servedIds = (registry: Registry, kind: ModelKind) => registry.entries.filter((entry) => entry.description.kind === kind).map((entry) => entry.spec.id);

/** What every model shows, whatever its kind. */
const commonFields = {
  id: z.string().meta({ description: 'The id to send as `model`.' }),
  object: z.literal('model'),
  created: z.number().int().meta({ description: 'Unix seconds when the model files were written.' }),
  owned_by: z.string(),
  max_input_tokens: z.number().int(),
  repo: z.string().meta({ description: 'The Hugging Face repo the model comes from.' }),
  revision: z.string().nullable(),
  ready: z.boolean().meta({ description: 'Whether the model is loaded.' }),
};

export const embeddingModelSchema = z
  .object({
    ...commonFields,
    kind: z.literal('embedding').meta({ description: 'An embedding model, served at /v1/embeddings and /v1/tokenize.' }),
    max_input_tokens: commonFields.max_input_tokens.meta({ description: 'Longer inputs are truncated to this many tokens, special tokens included.' }),
    dimensions: z.number().int().meta({ description: 'Length of an embedding (unless `dimensions` asks for fewer).' }),
    pooling: z.string().meta({ description: `How token vectors become one vector: ${POOLING_MODES.join(', ')} (joined by "+" when several).` }),
    normalized: z.boolean().meta({ description: 'Whether embeddings have unit length.' }),
    prompts: z.record(z.string(), z.string()).meta({ description: 'The prompts the model knows (name → prefix), for prompt_name and input_type.' }),
    default_prompt_name: z.string().nullable().meta({ description: "The prompt applied when a request names none: this id's models.txt prompt=, else the model's default." }),
  })
  .meta({ id: 'EmbeddingModel', description: 'An embedding model.' });

export const rerankerModelSchema = z
  .object({
    ...commonFields,
    kind: z.literal('reranker').meta({ description: 'A reranker (a cross-encoder), served at /v1/rerank.' }),
    max_input_tokens: commonFields.max_input_tokens.meta({ description: 'Longer (query, document) pairs are cut to this many tokens, longest first, special tokens included.' }),
    activation: z
      .enum(['sigmoid', 'identity', 'tanh'])
      .meta({ description: "What the model's CrossEncoder applies to its logit to give relevance_score (identity: the raw logit; raw_scores skips it)." }),
  })
  .meta({ id: 'RerankerModel', description: 'A reranker (a cross-encoder): scores (query, document) pairs.' });

export const modelSchema = z
  .discriminatedUnion('kind', [embeddingModelSchema, rerankerModelSchema])
  .meta({
    id: 'Model',
    description: 'A served model, described by its kind.',
    discriminator: { propertyName: 'kind', mapping: { embedding: '#/components/schemas/EmbeddingModel', reranker: '#/components/schemas/RerankerModel' } },
  });

export type ModelDescriptionBody = z.infer<typeof modelSchema>;

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) }).meta({ id: 'ModelList' });

export const modelParamsSchema = z.object({
  '*': z.string().meta({ description: 'A model id, full repo id or bare repo name.' }),
});

/** What GET /models says about one model: the fields of its kind. */
export function describeModel(entry: ModelEntry, ready: boolean): ModelDescriptionBody {
  const { description, spec } = entry;
  const fields = <Kind extends ModelKind>(kind: Kind) => ({
    id: spec.id,
    object: 'model' as const,
    kind,
    created: entry.created,
    owned_by: entry.ownedBy,
    max_input_tokens: description.maxTokens,
    repo: spec.repo,
    revision: spec.revision ?? null,
    ready,
  });
  if (description.kind === 'reranker') return { ...fields('reranker'), activation: logitsHeadOf(description.heads).activation };
  const pooled = pooledHeadOf(description.heads);
  return {
    ...fields('embedding'),
    dimensions: pooled.dimensions,
    pooling: pooled.poolingModes.join('+'),
    normalized: pooled.normalize,
    prompts: description.prompts,
    default_prompt_name: spec.promptName ?? description.defaultPromptName ?? null,
  };
}
