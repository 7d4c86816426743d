import { z } from 'zod';
import { findHead } from '../inference/heads/head-spec.ts';
import type { ModelEntry, Registry } from '../registry.ts';
import { MAX_INPUTS } from './embeddings.ts';
import { resolveModelOfKind } from './model-of-kind.ts';
import type { ModelKind } from './models.ts';

/**
 * The models that compare texts: an embedding model by the cosine of its embeddings (a ColBERT model by MaxSim, the
 * first text as the query), a reranker by its score for the pair.
 */
const COMPARING_KINDS: ModelKind[] = ['embedding', 'reranker'];

/** Whether a model compares texts: a reranker, or an embedding model with dense vectors or a ColBERT model's (not a sparse one). */
const comparesTexts = (entry: ModelEntry) =>
  entry.description.kind === 'reranker' || (entry.description.kind === 'embedding' && (findHead(entry.description.heads, 'pooled') !== undefined || entry.description.colbert !== undefined));

/** The model a request names, or when it names none the first served that compares texts. */
export const comparingModel = (registry: Registry, name: string | undefined): ModelEntry | undefined =>
  name === undefined ? registry.entries.find(comparesTexts) : registry.resolve(name);

/** comparingModel, checked: resolveModelOfKind's issues, and a 400 for a sparse model. */
function checkComparingModel(registry: Registry, name: string | undefined, ctx: z.RefinementCtx): void {
  const entry = resolveModelOfKind(registry, name ?? comparingModel(registry, undefined)?.spec.id, COMPARING_KINDS, ctx);
  if (entry && !comparesTexts(entry)) {
    const message = `'${entry.spec.id}' gives sparse vectors, which this route does not compare (it takes the cosine of dense embeddings, a ColBERT model's MaxSim or a reranker's score)`;
    ctx.addIssue({ code: 'custom', path: ['model'], message });
  }
}

const modelField = (registry: Registry) => {
  const ids = registry.entries.filter(comparesTexts).map((entry) => entry.spec.id);
  return z
    .string()
    .optional()
    .meta({
      description: `An embedding model (cosine of the embeddings; a ColBERT model: MaxSim, the first text as the query, as /rerank scores it) or a reranker (its score of each pair): ${ids.join(', ') || 'none served'}. Default: the first served.`,
      examples: ids,
    });
};

const truncateField = z.boolean().optional().meta({ description: "Cut texts over the model's limit (default: the server's TRUNCATE); false refuses them with a 400." });

export function similarityRequestSchema(registry: Registry) {
  return z
    .object({
      inputs: z.object({
        source_sentence: z.string().meta({ description: 'The text the others are compared with.' }),
        sentences: z.array(z.string()).min(1).max(MAX_INPUTS - 1).meta({ description: 'The texts compared with it.' }),
      }),
      parameters: z
        .object({
          truncate: truncateField,
          truncation_direction: z.enum(['right', 'left', 'Right', 'Left']).optional().meta({ description: 'Which end an over-long text loses: right (the default) cuts its end, left its start.' }),
          prompt_name: z.string().nullish().meta({ description: "An embedding model's prompt for every text (GET /models lists them)." }),
        })
        .nullish(),
      model: modelField(registry),
    })
    .superRefine((body, ctx) => checkComparingModel(registry, body.model, ctx))
    .meta({
      description: "Text Embeddings Inference's similarity request.",
      examples: [{ inputs: { source_sentence: 'What is Deep Learning?', sentences: ['What is Machine Learning?', 'Where is Paris?'] } }],
    });
}

export const similarityResponseSchema = z.array(z.number()).meta({ id: 'SimilarityResponse', description: "Per sentence, in the request's order: its similarity to the source sentence." });

const texts = z.union([z.string(), z.array(z.string()).min(1).max(MAX_INPUTS)]);

/**
 * vLLM's score request: `text_1`/`text_2`, or current vLLM's `queries`/`documents`; one against
 * many (a string or a list of one), or pairwise (lists of one length).
 */
export function scoreRequestSchema(registry: Registry) {
  return z
    .object({
      model: modelField(registry),
      text_1: texts.optional().meta({ description: 'The first text(s): one, or as many as text_2.' }),
      text_2: texts.optional().meta({ description: 'The second text(s).' }),
      queries: texts.optional().meta({ description: 'Current vLLM: the same as text_1.' }),
      documents: texts.optional().meta({ description: 'Current vLLM: the same as text_2.' }),
      truncate: truncateField,
      use_activation: z.boolean().optional().meta({ description: "vLLM: for a reranker, false gives its raw logit (default true: its activation)." }),
      user: z.string().optional().meta({ description: 'Accepted and ignored.' }),
    })
    .superRefine((body, ctx) => {
      checkComparingModel(registry, body.model, ctx);
      const first = body.text_1 ?? body.queries;
      const second = body.text_2 ?? body.documents;
      if (first === undefined || second === undefined) {
        ctx.addIssue({ code: 'custom', path: [first === undefined ? 'text_1' : 'text_2'], message: 'give text_1 and text_2 (or queries and documents)' });
        return;
      }
      const firstCount = typeof first === 'string' ? 1 : first.length;
      const secondCount = typeof second === 'string' ? 1 : second.length;
      if (firstCount !== 1 && firstCount !== secondCount) {
        ctx.addIssue({ code: 'custom', path: [body.text_1 === undefined ? 'queries' : 'text_1'], message: `${firstCount} first texts against ${secondCount} second texts: give one first text, or as many as second texts` });
      }
    })
    .meta({ description: "vLLM's score request.", examples: [{ text_1: 'What is the capital of France?', text_2: ['Paris is the capital of France.', 'Berlin is in Germany.'] }] });
}

/** The pairs a score request compares, in its order: one first text against each second text, or pairwise. */
export function scorePairs(body: { text_1?: string | string[] | undefined; text_2?: string | string[] | undefined; queries?: string | string[] | undefined; documents?: string | string[] | undefined }): [string, string][] {
  const list = (value: string | string[] | undefined) => (typeof value === 'string' ? [value] : (value ?? []));
  const first = list(body.text_1 ?? body.queries);
  const second = list(body.text_2 ?? body.documents);
  return second.map((text, index) => [first.length === 1 ? first[0]! : first[index]!, text]);
}

export const scoreResponseSchema = z
  .object({
    id: z.string(),
    object: z.literal('list'),
    created: z.number().int(),
    model: z.string(),
    data: z.array(z.object({ index: z.number().int(), object: z.literal('score'), score: z.number() })),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
  })
  .meta({ id: 'ScoreResponse' });
