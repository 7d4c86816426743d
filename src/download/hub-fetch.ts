/** A body that brings fewer bytes than this in DOWNLOAD_TIMEOUT_MS has stalled: a Hub that drips a byte now and then is as stuck as a silent one. */
export const STALL_BYTES = 64 * 1024;

/** A transfer the Hub did not complete as it should (stalled, too slow, too large, looping); the message says which limit. */
export class TransferError extends Error {
  override name = 'TransferError';
}

export interface TransferLimits {
  /** How long to wait for the answer to start, and the window in which a body must bring STALL_BYTES. */
  timeoutMs: number;
  /** The longest one request may take, body included. */
  totalTimeoutMs: number;
}

/**
 * `response` with its body passed through `onChunk`, which sees each chunk's size before the reader does
 * and may throw to fail the body (the connection is then closed); `onEnd` runs once, however the body ends.
 */
export function observeBody(response: Response, onChunk: (bytes: number) => void, onEnd: () => void = () => {}): Response {
  if (!response.body) {
    onEnd();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(output) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          onEnd();
          return output.close();
        }
        onChunk(value.byteLength);
        output.enqueue(value);
      } catch (error) {
        onEnd();
        await reader.cancel(error).catch(() => undefined);
        throw error;
      }
    },
    cancel(reason) {
      onEnd();
      return reader.cancel(reason);
    },
  });
  const observed = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  Object.defineProperty(observed, 'url', { value: response.url });
  return observed;
}

/**
 * fetch for everything sent to the Hub, by @huggingface/hub or by this code:
 * - an Authorization header goes only to `endpoint`'s own origin (a listing's `Link: next` or a xet link
 *   elsewhere gets none; fetch itself drops it on cross-origin redirects);
 * - no request hangs: the answer must start within `timeoutMs`, its body must bring STALL_BYTES in every
 *   `timeoutMs` until it ends, and the whole must end within `totalTimeoutMs`.
 */
export function hubFetch(endpoint: string, limits: TransferLimits): typeof fetch {
  const origin = new URL(endpoint).origin;
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const headers = new Headers(init?.headers);
    if (url.origin !== origin) headers.delete('authorization');
    const controller = new AbortController();
    init?.signal?.addEventListener('abort', () => controller.abort(init.signal!.reason), { once: true });
    const total = setTimeout(
      () => controller.abort(new TransferError(`not complete after ${limits.totalTimeoutMs} ms (DOWNLOAD_TOTAL_TIMEOUT_MS)`)),
      limits.totalTimeoutMs,
    );
    const answer = setTimeout(() => controller.abort(new Error(`no answer within ${limits.timeoutMs} ms`)), limits.timeoutMs);
    let response: Response;
    try {
      response = await fetch(url, { ...init, headers, signal: controller.signal });
    } catch (error) {
      clearTimeout(total);
      throw error;
    } finally {
      clearTimeout(answer);
    }
    let recent = 0;
    const stall = setInterval(() => {
      if (recent < STALL_BYTES) {
        controller.abort(new TransferError(`the transfer stalled: under ${STALL_BYTES / 1024} KiB in ${limits.timeoutMs} ms (DOWNLOAD_TIMEOUT_MS)`));
      }
      recent = 0;
    }, limits.timeoutMs);
    return observeBody(
      response,
      (bytes) => (recent += bytes),
      () => {
        clearTimeout(total);
        clearInterval(stall);
      },
    );
  };
}
