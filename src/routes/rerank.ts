import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v4 as uuidv4 } from 'uuid';
import { InputTooLongError } from '../embedding-errors.ts';
import { errors } from '../errors.ts';
import { callModel } from '../http/model-call.ts';
import { findHead } from '../inference/heads/head-spec.ts';
import { activate } from '../inference/heads/score-activation.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { cohereRerankResponseSchema, rerankRequestSchema, teiRerankResponseSchema, type RerankRequest } from '../schemas/rerank.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body came in Text Embeddings Inference's shape (`texts`): answered in it. */
    teiShape: boolean;
  }
}

/** The rerank route's options and handler, for each path that reranks (TEI's `/` and `/invocations` too, when they rerank). */
export function rerankRoute(app: FastifyInstance) {
  const { registry } = app;
  if (!app.hasRequestDecorator('teiShape')) app.decorateRequest('teiShape', false);
  const schema = {
    summary: "Scores documents against a query with a cross-encoder (Cohere's and TEI's rerank APIs).",
    description: "Cohere's v2 SDK calls the same route at `/v2/rerank`.",
    tags: ['rerank'],
    body: rerankRequestSchema(registry),
    response: {
      200: cohereRerankResponseSchema.or(teiRerankResponseSchema),
      400: errorResponseSchema,
      404: errorResponseSchema,
      429: errorResponseSchema,
      503: errorResponseSchema,
    },
  };
  const config: FastifyContextConfig = { bodyAliases: ['texts'], errorShape: (request) => (request.teiShape ? 'tei' : 'openai') };
  // TEI's shape: its `texts` are the documents; bounded before validation, as embeddings' inputs are.
  const preValidation = async (request: FastifyRequest) => {
    const body = request.body as Record<string, unknown> | null;
    if (body && typeof body === 'object' && Array.isArray(body.texts) && body.documents === undefined) {
      request.teiShape = true;
      body.documents = body.texts;
    }
    const documents = body?.documents;
    if (Array.isArray(documents) && documents.length > app.limits.maxRerankDocuments) {
      throw errors.tooManyDocuments(documents.length, app.limits.maxRerankDocuments, request.teiShape ? 'texts' : 'documents');
    }
  };
  const handler = async (request: FastifyRequest<{ Body: RerankRequest }>, reply: FastifyReply) => {
    const { body } = request;
    const entry = registry.resolveReranker(body.model)!;
    const texts = body.documents.map((document) => (typeof document === 'string' ? document : document.text));
    const param = request.teiShape ? 'texts' : 'documents';
    const scored = await callModel(
      request,
      reply,
      entry.spec.id,
      async (signal) => {
        const options = {
          // TEI (since 1.9) truncates by default too, and refuses only with `truncate: false`.
          truncate: body.truncate ?? app.limits.truncate,
          direction: body.truncation_direction?.toLowerCase() as 'right' | 'left' | undefined,
          maxDocumentTokens: body.max_tokens_per_doc,
          instruction: body.instruction,
          signal,
        };
        // The schema took only rerankers' and ColBERT models' names; a ColBERT model scores by MaxSim.
        const served = await entry.loaded;
        return served.reranker ? served.reranker.score(body.query, texts, options) : served.multiVector!.score(body.query, texts, options);
      },
      (error) => (error instanceof InputTooLongError ? errors.documentTooLong(error.index, error.tokens, error.limit, param, error.atLeast) : undefined),
    );
    const totalTokens = scored.tokenCounts.reduce((sum, count) => sum + count, 0);
    request.embedding = { model: entry.spec.id, inputs: texts.length, tokens: totalTokens };
    // MaxSim scores (a ColBERT model's) are used as they are.
    const activation = body.raw_scores ? 'identity' : (findHead(entry.description.heads, 'logits')?.spec.activation ?? 'identity');
    // Highest first; equal scores keep the request's order.
    const ranked = scored.logits.map((logit, index) => ({ index, score: activate(logit, activation) })).sort((a, b) => b.score - a.score || a.index - b.index);
    const kept = body.top_n === undefined ? ranked : ranked.slice(0, body.top_n);
    if (request.teiShape) return kept.map(({ index, score }) => ({ index, score, ...(body.return_text ? { text: texts[index]! } : {}) }));
    return {
      id: uuidv4(),
      model: entry.spec.id,
      results: kept.map(({ index, score }) => {
        const document = body.documents[index]!;
        return { index, relevance_score: score, ...(body.return_documents ? { document: typeof document === 'string' ? { text: document } : document } : {}) };
      }),
      usage: { total_tokens: totalTokens },
      meta: { api_version: { version: '2' }, billed_units: { search_units: 1 } },
    };
  };
  return { schema, config, preValidation, handler };
}

/**
 * POST /rerank (also under /v1) and /v2/rerank: a cross-encoder scores each (query, document) pair;
 * results sorted by score, highest first. Cohere's shape, which Jina, vLLM and LiteLLM speak, and on
 * /rerank also Text Embeddings Inference's (`texts` → a bare array, errors in TEI's shape).
 */
export const rerankRoutes = (paths: string[]): FastifyPluginAsyncZod =>
  async (app) => {
    const { handler, ...options } = rerankRoute(app);
    for (const path of paths) app.post(path, options, handler);
  };
