import { z } from 'zod';
import type { ColbertSettings } from '../inference/files/colbert-config.ts';
import { findHead, logitsHeadOf, type HeadKind } from '../inference/heads/head-spec.ts';
import { SPLADE_ACTIVATIONS, SPLADE_POOLING } from '../inference/heads/splade.ts';
import type { Int8Ranges } from '../inference/output/quantize.ts';
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
  outputs: z
    .array(z.string())
    .meta({ description: 'What the model computes: dense (one vector per input), sparse (token id → weight: `{indices, values}`), token-vectors (a vector per token: a ColBERT model\'s, or the token states of /embed_all), score (a relevance score per query–document pair, or a classifier\'s per label). A multi-output model (bge-m3) lists what its requests\' `outputs` may name: dense, sparse, colbert.' }),
};

/** Each head kind's name in `outputs`. */
const OUTPUT_NAMES: Record<HeadKind, string> = { pooled: 'dense', sparse: 'sparse', logits: 'score', 'token-vectors': 'token-vectors' };

export const embeddingModelSchema = z
  .object({
    ...commonFields,
    kind: z.literal('embedding').meta({ description: 'An embedding model, served at /v1/embeddings and /v1/tokenize.' }),
    max_input_tokens: commonFields.max_input_tokens.meta({ description: 'Longer inputs are truncated to this many tokens, special tokens included.' }),
    dimensions: z.number().int().meta({ description: 'Length of an embedding (unless `dimensions` asks for fewer).' }),
    pooling: z.string().meta({ description: `How token vectors become one vector: ${POOLING_MODES.join(', ')} (joined by "+" when several); a sparse model's: splade max or splade sum; none for a multi-vector (ColBERT) model.` }),
    normalized: z.boolean().meta({ description: 'Whether embeddings have unit length.' }),
    prompts: z.record(z.string(), z.string()).meta({ description: 'The prompts the model knows (name → prefix), for prompt_name and input_type.' }),
    default_prompt_name: z.string().nullable().meta({ description: "The prompt applied when a request names none: this id's models.txt prompt=, else the model's default." }),
    sparse: z
      .object({
        pooling_strategy: z.enum(SPLADE_POOLING),
        activation_function: z.enum(SPLADE_ACTIVATIONS),
        query: z.enum(['graph', 'static']).meta({ description: "How input_type query is encoded: by the model's graph (SPLADE), or static: each of the text's tokens × its weight from the repo (an inference-free model's SparseStaticEmbedding)." }),
        document: z.enum(['graph', 'static']).meta({ description: 'How input_type document is encoded.' }),
        default_input_type: z.enum(['query', 'document']).meta({ description: 'The side a request without input_type gets (the Router\'s default route).' }),
      })
      .optional()
      .meta({ description: "A sparse (SPLADE) model's SpladePooling and sides; its `dimensions` is the vocabulary's size." }),
    int8_ranges: z
      .object({ starts: z.array(z.number()), steps: z.array(z.number()) })
      .optional()
      .meta({
        description:
          'GET /models/{model} of a loaded model: the per-dimension ranges int8 and uint8 vectors use (uint8 = trunc((value − start) / step), clamped to 0–255; int8 = trunc((value − start) / step − 128), clamped to −128–127, as quantize_embeddings), ' +
          'the minimum over the vectors of the server\'s fixed calibration texts, and (maximum − minimum) / 255, in float32. These are the full vector\'s, as the model normalises it; a request for fewer dimensions, or with `normalized` other than the model\'s, gets ranges computed the same way from the calibration vectors truncated and normalised as its own.',
      }),
    multi_vector: z
      .object({
        similarity: z.literal('MaxSim'),
        query_length: z.number().int(),
        document_length: z.number().int(),
      })
      .optional()
      .meta({
        description:
          'A late-interaction (ColBERT) model: /v1/embeddings gives a vector per token (`dimensions` wide; input_type query or document), and the rerank routes score by MaxSim. ' +
          'Queries give query_length vectors (padded with expansion tokens); documents at most document_length, less punctuation.',
      }),
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

export const classifierModelSchema = z
  .object({
    ...commonFields,
    kind: z.literal('classifier').meta({ description: 'A sequence classifier, served at /predict and /v1/classify.' }),
    max_input_tokens: commonFields.max_input_tokens.meta({ description: 'Longer texts and text pairs are cut to this many tokens (pairs longest first), special tokens included.' }),
    labels: z.array(z.string()).meta({ description: "The model's labels (config.json's id2label), in the order of its logits." }),
    activation: z
      .enum(['softmax', 'sigmoid', 'none'])
      .meta({ description: "What turns the logits into scores, as transformers' text-classification pipeline picks it: softmax; sigmoid for multi-label models and one label; none for regression (raw_scores skips it)." }),
  })
  .meta({ id: 'ClassifierModel', description: 'A sequence classifier: labels texts and text pairs.' });

export const modelSchema = z
  .discriminatedUnion('kind', [embeddingModelSchema, rerankerModelSchema, classifierModelSchema])
  .meta({
    id: 'Model',
    description: 'A served model, described by its kind.',
    discriminator: { propertyName: 'kind', mapping: { embedding: '#/components/schemas/EmbeddingModel', reranker: '#/components/schemas/RerankerModel', classifier: '#/components/schemas/ClassifierModel' } },
  });

export type ModelDescriptionBody = z.infer<typeof modelSchema>;

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) }).meta({ id: 'ModelList' });

export const modelParamsSchema = z.object({
  '*': z.string().meta({ description: 'A model id, full repo id or bare repo name.' }),
});

/** What GET /models says about one model: the fields of its kind. */
export function describeModel(entry: ModelEntry, ready: boolean, int8Ranges?: Int8Ranges): ModelDescriptionBody {
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
    // A multi-output model lists the names its requests' `outputs` take (bge-m3: dense, sparse, colbert); an embedding
    // model's raw token states (TEI's /embed_all) are not an output of its own, a ColBERT model's vectors are.
    outputs: description.namedOutputs
      ? Object.keys(description.namedOutputs)
      : description.heads.filter((head) => description.colbert || head.kind !== 'token-vectors' || head.method !== 'states').map((head) => OUTPUT_NAMES[head.kind]),
  });
  if (description.kind === 'reranker') return { ...fields('reranker'), activation: logitsHeadOf(description.heads).activation };
  if (description.kind === 'classifier') return { ...fields('classifier'), labels: description.labels, activation: description.labelActivation };
  const prompts = { prompts: description.prompts, default_prompt_name: spec.promptName ?? description.defaultPromptName ?? null };
  const sparse = findHead(description.heads, 'sparse')?.spec;
  const pooled = findHead(description.heads, 'pooled')?.spec;
  const perToken = findHead(description.heads, 'token-vectors')?.spec;
  if (sparse?.method === 'splade' && !pooled) {
    const sides = description.sparse!;
    const splade = { pooling_strategy: sparse.splade.pooling, activation_function: sparse.splade.activation };
    return {
      ...fields('embedding'),
      dimensions: sparse.vocab,
      pooling: `splade ${sparse.splade.pooling}`,
      normalized: false,
      ...prompts,
      sparse: { ...splade, query: sides.query, document: sides.document, default_input_type: sides.defaultSide },
    };
  }
  return {
    ...fields('embedding'),
    // A ColBERT model: a vector per token, none pooled.
    dimensions: pooled?.dimensions ?? perToken!.width,
    pooling: pooled ? pooled.poolingModes.join('+') : 'none',
    normalized: pooled?.normalize ?? (perToken!.method === 'states' ? perToken!.normalize : true),
    ...(description.colbert ? { multi_vector: multiVectorFields(description.colbert.settings) } : {}),
    ...prompts,
    ...(int8Ranges ? { int8_ranges: { starts: Array.from(int8Ranges.starts), steps: Array.from(int8Ranges.steps) } } : {}),
  };
}

/** What GET /models says of a ColBERT model's encoding. */
function multiVectorFields(settings: ColbertSettings) {
  return { similarity: 'MaxSim' as const, query_length: settings.queryLength, document_length: settings.documentLength };
}
