/**
 * The examples Swagger UI shows for each response, in place of the "string", 0 and
 * "additionalProp1" it would make up from the schemas: the served models as GET /models describes
 * them, and error bodies from the error catalogue, as the server words them.
 */
import { errors } from '../errors.ts';
import { logitsHeadOf } from '../inference/heads/head-spec.ts';
import { activate } from '../inference/heads/score-activation.ts';
import type { Registry } from '../registry.ts';
import { workingExample } from '../schemas/embeddings.ts';
import { cohereTruncateHint } from '../schemas/cohere.ts';
import { rerankExample } from '../schemas/rerank.ts';
import { describeModel } from '../schemas/models.ts';

type Body = unknown;

export interface OpenApiExamples {
  /** Per listed path, per status: its example body. */
  responses: Record<string, Record<string, Body>>;
  /** Per status: the example error body of an operation that has none of its own. */
  errors: Record<string, Body>;
  /** Path parameters' examples, by name. */
  parameters: Record<string, string>;
}

/** A date in the past, so that every example reads the same on every start. */
const CREATED = 1_765_065_600;
const EXAMPLE_ID = '5f0c8a36-2f55-4a57-9a40-7e3b1c9a2d11';

/**
 * Token ids and strings of workingExample's text for BERT's uncased WordPiece vocabulary (all-MiniLM-L6-v2,
 * bge-small-en-v1.5 and the ms-marco cross-encoders share it).
 */
const TOKENS = ['[CLS]', 'the', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog', '.', '[SEP]'];
const TOKEN_IDS = [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102];
/** A cross-encoder's logits for rerankExample's documents, and the pairs' tokens in all (BERT's uncased vocabulary). */
const RERANK_LOGITS = [8.6071, -11.247];
const RERANK_TOKENS = 32;
/** A three-label sentiment classifier's scores for "I love this!" (softmax), and its tokens. */
const CLASS_SCORES = { negative: 0.0075, neutral: 0.0213, positive: 0.9712 };
const CLASSIFY_TOKENS = 6;
/** Cosine similarities of the similarity and score examples' sentences to their first. */
const SIMILARITIES = [0.8347, 0.1203];
/** The first values of an embedding: Swagger shows them in place of the model's hundreds. */
const VECTOR = [-0.0312, 0.0845, 0.0127, -0.0561, 0.0398, -0.0094, 0.0716, -0.0243];

export function openApiExamples(registry: Registry, limits: { bodyLimit: number; requestTimeoutMs: number }): OpenApiExamples {
  const embedder = registry.entries.find((entry) => entry.description.kind === 'embedding');
  const embedderId = workingExample(registry).model ?? 'all-MiniLM-L6-v2';
  const reranker = rerankExample(registry);
  const classifierId = registry.entries.find((entry) => entry.description.kind === 'classifier')?.spec.id ?? 'twitter-roberta-base-sentiment-latest';
  const rerankerEntry = registry.entries.find((entry) => entry.spec.id === reranker.model);
  const activation = rerankerEntry ? logitsHeadOf(rerankerEntry.description.heads).activation : 'sigmoid';
  const usage = { prompt_tokens: TOKENS.length, total_tokens: TOKENS.length };
  const models = registry.entries.map((entry) => ({ ...describeModel(entry, true), created: CREATED }));
  const maxTokens = embedder?.description.maxTokens ?? 512;
  return {
    responses: {
      '/v1/embeddings': {
        200: {
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: VECTOR, num_tokens: TOKENS.length }],
          model: embedderId,
          usage,
          id: EXAMPLE_ID,
          created: CREATED,
        },
        400: errors.inputTooLong(0, maxTokens + 300, maxTokens, false).toBody(),
      },
      '/v1/embed': {
        200: {
          id: EXAMPLE_ID,
          response_type: 'embeddings_floats',
          embeddings: [VECTOR],
          texts: [workingExample(registry).input],
          meta: { api_version: { version: '1' }, billed_units: { input_tokens: TOKENS.length } },
        },
        400: errors.inputTooLong(0, maxTokens + 300, maxTokens, false, 'texts', cohereTruncateHint(maxTokens)).toBody(),
      },
      '/v1/rerank': {
        200: {
          id: EXAMPLE_ID,
          model: reranker.model ?? 'ms-marco-MiniLM-L6-v2',
          results: RERANK_LOGITS.map((logit, index) => ({ index, relevance_score: Number(activate(logit, activation).toFixed(4)) })),
          usage: { total_tokens: RERANK_TOKENS },
          meta: { api_version: { version: '2' }, billed_units: { search_units: 1 } },
        },
        400: errors.wrongModelKind(embedderId, 'embedding').toBody(),
        404: errors.modelNotFound('rerank-english-v3.0', registry.ids).toBody(),
      },
      '/v1/predict': {
        200: Object.entries(CLASS_SCORES).map(([label, score]) => ({ score, label })).sort((a, b) => b.score - a.score),
        400: errors.wrongModelKind(embedderId, 'embedding').toBody(),
      },
      '/v1/classify': {
        200: {
          id: `classify-${EXAMPLE_ID}`,
          object: 'list',
          created: CREATED,
          model: classifierId,
          data: [{ index: 0, label: 'positive', probs: Object.values(CLASS_SCORES), num_classes: 3 }],
          usage: { prompt_tokens: CLASSIFY_TOKENS, total_tokens: CLASSIFY_TOKENS },
        },
        400: errors.wrongModelKind(embedderId, 'embedding').toBody(),
      },
      '/v1/similarity': {
        200: SIMILARITIES,
        400: errors.wrongModelKind(classifierId, 'classifier').toBody(),
      },
      '/v1/score': {
        200: {
          id: `score-${EXAMPLE_ID}`,
          object: 'list',
          created: CREATED,
          model: embedderId,
          data: SIMILARITIES.map((score, index) => ({ index, object: 'score', score })),
          usage: { prompt_tokens: 2 * TOKENS.length, total_tokens: 2 * TOKENS.length },
        },
        400: errors.wrongModelKind(classifierId, 'classifier').toBody(),
      },
      '/v1/tokenize': {
        200: {
          object: 'list',
          data: [{ object: 'tokens', index: 0, ids: TOKEN_IDS, tokens: TOKENS, num_tokens: TOKENS.length, total_tokens: TOKENS.length, truncated: false }],
          model: embedderId,
          usage,
        },
        400: errors.unknownPrompt('query', Object.keys(embedder?.description.prompts ?? {})).toBody(),
      },
      '/v1/models': { 200: { object: 'list', data: models } },
      '/v1/models/{model}': { 200: models[0] },
      '/health': { 200: { status: 'ok' } },
      '/ready': { 200: { status: 'ready' }, 503: errors.notReady().toBody() },
    },
    errors: {
      401: errors.invalidApiKey(false).toBody(),
      404: errors.modelNotFound('text-embedding-3-small', registry.ids).toBody(),
      413: errors.bodyTooLarge(limits.bodyLimit).toBody(),
      429: errors.overloaded().toBody(),
      503: errors.timeout(limits.requestTimeoutMs).toBody(),
    },
    parameters: { model: registry.ids[0] ?? 'all-MiniLM-L6-v2' },
  };
}
