import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { v4 as uuidv4 } from 'uuid';
import { callModel } from '../http/model-call.ts';
import { logitsHeadOf } from '../inference/heads/head-spec.ts';
import { activate } from '../inference/heads/score-activation.ts';
import type { ModelEntry } from '../registry.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { comparingModel, scorePairs, scoreRequestSchema, scoreResponseSchema, similarityRequestSchema, similarityResponseSchema } from '../schemas/similarity.ts';

const errorResponses = { 400: errorResponseSchema, 404: errorResponseSchema, 429: errorResponseSchema, 503: errorResponseSchema };

/** Cosine similarity in float64 of two vectors given as JSON text. */
function cosineOf(a: Uint8Array, b: Uint8Array): number {
  const x = JSON.parse(Buffer.from(a).toString('latin1')) as number[];
  const y = JSON.parse(Buffer.from(b).toString('latin1')) as number[];
  let dot = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
    yy += y[i]! * y[i]!;
  }
  return dot / Math.sqrt(xx * yy);
}

/**
 * Each pair's similarity: for an embedding model the cosine of the two texts' embeddings (as
 * /v1/embeddings gives them, the id's default prompt or `promptName` applied); for a ColBERT model
 * the MaxSim of the first text as a query with the second as a document (as /rerank gives it); for
 * a reranker its score of the pair (as /rerank gives it, its activation applied unless `raw`).
 */
async function comparePairs(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: ModelEntry,
  pairs: [string, string][],
  options: { truncate: boolean; direction?: 'right' | 'left'; promptName?: string; raw?: boolean },
): Promise<{ scores: number[]; totalTokens: number }> {
  const { truncate, direction } = options;
  const maxRequestTokens = request.server.limits.maxRequestTokens;
  const result = await callModel(request, reply, entry.spec.id, async (signal) => {
    // The schema took only rerankers' names and embedding models' with dense vectors or a ColBERT model's.
    const { embedder, reranker, multiVector } = await entry.loaded;
    const pairScorer = reranker ?? (multiVector?.colbert ? multiVector : undefined);
    if (pairScorer) {
      // MaxSim scores (a ColBERT model's) are used as they are, as /rerank uses them.
      const activation = reranker && !options.raw ? logitsHeadOf(entry.description.heads).activation : 'identity';
      // Pairs of one first text are scored in one call, as /rerank scores a query's documents.
      const byFirst = new Map<string, number[]>();
      pairs.forEach(([first], index) => byFirst.set(first, [...(byFirst.get(first) ?? []), index]));
      const scores = new Array<number>(pairs.length);
      let totalTokens = 0;
      await Promise.all(
        [...byFirst].map(async ([first, indexes]) => {
          const { logits, tokenCounts } = await pairScorer.score(first, indexes.map((index) => pairs[index]![1]), { truncate, direction, signal });
          indexes.forEach((index, k) => (scores[index] = activate(logits[k]!, activation)));
          totalTokens += tokenCounts.reduce((sum, count) => sum + count, 0);
        }),
      );
      return { scores, totalTokens };
    }
    // Each distinct text embedded once.
    const texts = [...new Set(pairs.flat())];
    const { embeddings, tokenCounts } = await embedder!.embed({ texts }, { truncate, truncation: { direction }, maxRequestTokens, signal, prompt: { promptName: options.promptName } });
    const at = new Map(texts.map((text, index) => [text, embeddings[index]!]));
    return { scores: pairs.map(([first, second]) => cosineOf(at.get(first)!, at.get(second)!)), totalTokens: tokenCounts.reduce((sum, count) => sum + count, 0) };
  });
  request.embedding = { model: entry.spec.id, inputs: pairs.length, tokens: result.totalTokens };
  return result;
}

/**
 * How alike texts are: Text Embeddings Inference's POST /similarity (a source sentence against
 * sentences) and vLLM's POST /score (one text against many, or pairwise).
 */
export const similarityRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const comparer = (model: string | undefined) => comparingModel(registry, model)!;

  app.post(
    '/similarity',
    {
      schema: {
        summary: "Compares a sentence with others (Text Embeddings Inference's similarity API).",
        tags: ['similarity'],
        body: similarityRequestSchema(registry),
        response: { 200: similarityResponseSchema, ...errorResponses },
      },
      config: { errorShape: 'tei' },
    },
    async (request, reply) => {
      const { inputs, parameters, model } = request.body;
      const { scores } = await comparePairs(request, reply, comparer(model), inputs.sentences.map((sentence): [string, string] => [inputs.source_sentence, sentence]), {
        truncate: parameters?.truncate ?? app.limits.truncate,
        direction: parameters?.truncation_direction?.toLowerCase() as 'right' | 'left' | undefined,
        promptName: parameters?.prompt_name ?? undefined,
      });
      return scores;
    },
  );

  app.post(
    '/score',
    {
      schema: {
        summary: "Scores text pairs (vLLM's score API): cosine of embeddings, a ColBERT model's MaxSim, or a reranker's score.",
        tags: ['similarity'],
        body: scoreRequestSchema(registry),
        response: { 200: scoreResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const entry = comparer(body.model);
      const { scores, totalTokens } = await comparePairs(request, reply, entry, scorePairs(body), { truncate: body.truncate ?? app.limits.truncate, raw: body.use_activation === false });
      return {
        id: `score-${uuidv4()}`,
        object: 'list' as const,
        created: Math.floor(Date.now() / 1000),
        model: entry.spec.id,
        data: scores.map((score, index) => ({ index, object: 'score' as const, score })),
        usage: { prompt_tokens: totalTokens, total_tokens: totalTokens },
      };
    },
  );
};
