import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v4 as uuidv4 } from 'uuid';
import { InputTooLongError } from '../embedding-errors.ts';
import { errors } from '../errors.ts';
import { callModel } from '../http/model-call.ts';
import { labelScores, rankedLabels } from '../inference/heads/label-scores.ts';
import type { ClassifierItem } from '../model/classifier.ts';
import type { ModelEntry } from '../registry.ts';
import { classifyRequestSchema, classifyResponseSchema, predictItems, predictRequestSchema, predictResponseSchema } from '../schemas/classify.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';

const errorResponses = { 400: errorResponseSchema, 404: errorResponseSchema, 429: errorResponseSchema, 503: errorResponseSchema };

/** Each item's scores per label (the model's activation, or its logits with `raw`), and the tokens classified. */
async function classifyItems(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: ModelEntry,
  items: ClassifierItem[],
  options: { raw: boolean; truncate: boolean; direction?: 'right' | 'left'; param: string },
): Promise<{ scores: number[][]; totalTokens: number }> {
  const { logits, tokenCounts } = await callModel(
    request,
    reply,
    entry.spec.id,
    // The schema took only classifiers' names.
    async (signal) => (await entry.loaded).classifier!.classify(items, { truncate: options.truncate, direction: options.direction, signal }),
    (error) => (error instanceof InputTooLongError ? errors.itemTooLong(error.index, error.tokens, error.limit, options.param, error.atLeast) : undefined),
  );
  const totalTokens = tokenCounts.reduce((sum, count) => sum + count, 0);
  request.embedding = { model: entry.spec.id, inputs: items.length, tokens: totalTokens };
  const activation = options.raw ? 'none' : entry.description.labelActivation;
  return { scores: logits.map((row) => labelScores(row, activation)), totalTokens };
}

/**
 * A sequence classifier's labels for texts and text pairs: Text Embeddings Inference's POST /predict
 * (each item's labels, highest score first) and vLLM's POST /classify (each text's scores in the
 * labels' order, and the best label). Scores are what transformers' text-classification pipeline
 * gives by default: softmax, or sigmoid for multi-label models and one label.
 */
export const classifyRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const classifier = (model: string | undefined) => (model === undefined ? registry.entries.find((entry) => entry.description.kind === 'classifier')! : registry.resolve(model)!);

  app.post(
    '/predict',
    {
      schema: {
        summary: "Classifies texts and text pairs (Text Embeddings Inference's predict API).",
        tags: ['classify'],
        body: predictRequestSchema(registry),
        response: { 200: predictResponseSchema, ...errorResponses },
      },
      config: { errorShape: 'tei' },
    },
    async (request, reply) => {
      const { body } = request;
      const entry = classifier(body.model);
      const { items, batch } = predictItems(body.inputs);
      const { scores } = await classifyItems(request, reply, entry, items, {
        raw: body.raw_scores === true,
        truncate: body.truncate ?? app.limits.truncate,
        direction: body.truncation_direction?.toLowerCase() as 'right' | 'left' | undefined,
        param: 'inputs',
      });
      const predictions = scores.map((row) => rankedLabels(row, entry.description.labels).map(({ label, score }) => ({ score, label })));
      return batch ? predictions : predictions[0]!;
    },
  );

  app.post(
    '/classify',
    {
      schema: {
        summary: "Classifies texts (vLLM's classify API).",
        tags: ['classify'],
        body: classifyRequestSchema(registry),
        response: { 200: classifyResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const entry = classifier(body.model);
      const texts = typeof body.input === 'string' ? [body.input] : body.input;
      const { scores, totalTokens } = await classifyItems(request, reply, entry, texts.map((text): ClassifierItem => [text]), {
        raw: body.use_activation === false || body.raw_scores === true,
        truncate: body.truncate ?? app.limits.truncate,
        param: 'input',
      });
      const { labels } = entry.description;
      return {
        id: `classify-${uuidv4()}`,
        object: 'list' as const,
        created: Math.floor(Date.now() / 1000),
        model: entry.spec.id,
        data: scores.map((probs, index) => ({ index, label: labels[probs.indexOf(Math.max(...probs))]!, probs, num_classes: labels.length })),
        usage: { prompt_tokens: totalTokens, total_tokens: totalTokens },
      };
    },
  );
};
