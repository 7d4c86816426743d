import type { FastifyReply, FastifyRequest } from 'fastify';
import { Cancellation, type CancelSignal } from '../cancellation.ts';
import { errors, type ApiError } from '../errors.ts';
import { fromEmbeddingError } from './error-handler.ts';

/**
 * Runs a request's call into a model. A client that hangs up, or a request past its deadline
 * (REQUEST_TIMEOUT_MS), cancels it: its queued work is dropped, not computed. One cancellation and
 * a plain timer: AbortSignal.timeout with AbortSignal.any took ~5% of the HTTP thread under load.
 * Failures leave as the catalogue's errors (`explain` may word the model layer's first); anything
 * else is logged and answered 503 inference_failed.
 */
export async function callModel<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  model: string,
  call: (signal: CancelSignal) => Promise<T>,
  explain: (error: unknown) => ApiError | undefined = () => undefined,
): Promise<T> {
  const cancel = new Cancellation();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) cancel.abort(errors.clientClosed());
  });
  const { requestTimeoutMs } = request.server.limits;
  const deadline = setTimeout(() => cancel.abort(errors.timeout(requestTimeoutMs)), requestTimeoutMs);
  try {
    return await call(cancel);
  } catch (error) {
    if (cancel.aborted) throw cancel.reason;
    const known = explain(error) ?? fromEmbeddingError(error);
    if (known) throw known;
    request.log.error({ err: error, model }, 'the model call failed');
    throw errors.inferenceFailed();
  } finally {
    clearTimeout(deadline);
  }
}
