/**
 * JSON-parse thread entry: decodes and parses request bodies too large to parse on the HTTP
 * thread without stalling it. A large `input` array comes back in parts, one message each, so
 * the HTTP thread copies it in several short steps rather than one long one.
 */
import { parentPort } from 'node:worker_threads';
import type { ThreadReply } from '../request-thread.ts';
import { nestsDeeperThan, tooDeepMessage } from './json-depth.ts';

/** Characters of `input` per message back. */
const PART_CHARS = 1 << 20;

function parts(input: unknown[]): unknown[][] {
  const found: unknown[][] = [[]];
  let chars = 0;
  for (const item of input) {
    const size = typeof item === 'string' ? item.length : 16;
    if (chars > 0 && chars + size > PART_CHARS) {
      found.push([]);
      chars = 0;
    }
    found.at(-1)!.push(item);
    chars += size;
  }
  return found;
}

parentPort!.on('message', ({ id, body }: { id: number; body: Uint8Array }) => {
  let value: unknown;
  try {
    if (nestsDeeperThan(body)) throw new Error(tooDeepMessage);
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    value = text === '' ? undefined : JSON.parse(text);
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message } satisfies ThreadReply<unknown>);
    return;
  }
  const input = (value as { input?: unknown } | null)?.input;
  const split = Array.isArray(input) && input.length > 1 ? parts(input) : [];
  if (split.length < 2) {
    parentPort!.postMessage({ id, result: value } satisfies ThreadReply<unknown>);
    return;
  }
  // The input array (left empty in the result) follows in parts.
  parentPort!.postMessage({ id, result: { ...(value as object), input: [] }, parts: split.length } satisfies ThreadReply<unknown>);
  for (const part of split) parentPort!.postMessage({ id, part } satisfies ThreadReply<unknown, unknown[]>);
});
