import type { FastifyRequest } from 'fastify';
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { checkInputShape } from '../http/input-shape.ts';
import { callModel } from '../http/model-call.ts';
import { promptChoice } from '../schemas/embeddings.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { modelOfKind } from '../schemas/model-of-kind.ts';
import { teiTokenizeRequestSchema } from '../schemas/tei.ts';
import { tokenizeRequestSchema, tokenizeResponseSchema } from '../schemas/tokenize.ts';

type TeiRequest = z.infer<ReturnType<typeof teiTokenizeRequestSchema>>;

/** Text Embeddings Inference's body names its texts `inputs`; this server's own, `input`. */
const isTeiBody = (body: unknown): boolean => typeof body === 'object' && body !== null && 'inputs' in body && !('input' in body);

/**
 * POST /tokenize: the ids the service would embed per input, so clients can chunk documents to the model's real limit;
 * with TEI's body (`inputs`), TEI's answer: every token of each input with its characters and offsets, errors in its shape.
 */
export const tokenizeRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry } = app;
  const ownSchema = tokenizeRequestSchema(registry);
  const teiSchema = teiTokenizeRequestSchema(registry);
  const ownValidator = validatorCompiler({ schema: ownSchema, method: 'POST', url: '/tokenize', httpPart: 'body' });
  const teiValidator = validatorCompiler({ schema: teiSchema, method: 'POST', url: '/tokenize', httpPart: 'body' });
  app.post(
    '/tokenize',
    {
      schema: {
        summary: "Tokenizes inputs as /embeddings would (prompt, special tokens, truncation), with each input's full count.",
        description:
          "With Text Embeddings Inference's body instead (`inputs`, `add_special_tokens`, `prompt_name`; `model` optional, default the first embedding model), " +
          "TEI's answer: per input, every token as `{id, text, special, start, stop}` (character offsets), errors as `{error, error_type}`.",
        tags: ['tokenize'],
        body: ownSchema,
        response: { 200: tokenizeResponseSchema, 400: errorResponseSchema, 404: errorResponseSchema, 503: errorResponseSchema },
      },
      // TEI's body: its fields reach the route too (see json-body.ts), and are checked by its own schema.
      config: { errorShape: (request) => (isTeiBody(request.body) ? 'tei' : 'openai'), bodyAliases: ['inputs', 'add_special_tokens'] },
      validatorCompiler: () => (data: unknown) => (isTeiBody(data) ? teiValidator(data) : ownValidator(data)),
      preValidation: async (request) => {
        const body = request.body as { input?: unknown; inputs?: unknown } | null;
        const problem = isTeiBody(body) ? checkInputShape(body!.inputs, app.limits.maxRequestTokens, false, 'inputs') : checkInputShape(body?.input, app.limits.maxRequestTokens);
        if (problem) throw problem;
      },
    },
    async (request, reply) => {
      if (isTeiBody(request.body)) {
        const body = request.body as unknown as TeiRequest;
        const entry = modelOfKind(registry, body.model, ['embedding'])!;
        const model = (await entry.loaded).embedder!;
        const tokens = await callModel(request as FastifyRequest, reply, entry.spec.id, (signal) =>
          model.tokenSpans(typeof body.inputs === 'string' ? [body.inputs] : body.inputs, {
            prompt: { promptName: body.prompt_name ?? undefined },
            addSpecialTokens: body.add_special_tokens,
            maxRequestTokens: app.limits.maxRequestTokens,
            signal,
          }),
        );
        // TEI's answer, which the schema above (this server's own) does not describe.
        return reply.send(tokens as never);
      }
      const entry = registry.resolve(request.body.model)!;
      // The schema took only embedding models' names: a model with a pooled head, a sparse one, or a ColBERT one.
      const served = await entry.loaded;
      const { runtime } = served;
      const { input } = request.body;
      const texts = typeof input === 'string' ? [input] : typeof input[0] === 'string' ? (input as string[]) : undefined;
      // Counting is stopped by the deadline and by the client leaving, as embedding is.
      const { encoded } = texts
        ? await callModel(request, reply, entry.spec.id, (signal) => {
            const options = { prompt: promptChoice(request.body), whole: true, maxRequestTokens: app.limits.maxRequestTokens, signal };
            // A ColBERT model shows the ids its side runs (prefix, expansion).
            if (!served.embedder && served.multiVector) return served.multiVector.encode({ texts }, { ...options, side: request.body.input_type ?? undefined });
            return (served.embedder ?? served.sparseEncoder)!.encode({ texts }, options);
          })
        : // Vocabulary ids (a sparse vector's indices): their tokens, as they are.
          { encoded: (typeof input[0] === 'number' ? [input as number[]] : (input as number[][])).map((ids) => ({ ids: Int32Array.from(ids), length: ids.length })) };
      const embedded = encoded.reduce((sum, { ids }) => sum + ids.length, 0);
      return {
        object: 'list' as const,
        data: encoded.map(({ ids, length }, index) => ({
          object: 'tokens' as const,
          index,
          ids: Array.from(ids),
          tokens: runtime.tokenStrings(ids),
          num_tokens: ids.length,
          total_tokens: length,
          truncated: length > ids.length,
        })),
        model: entry.spec.id,
        usage: { prompt_tokens: embedded, total_tokens: embedded },
      };
    },
  );
};
