/**
 * JSON-parse thread entry: decodes and parses request bodies too large to parse on the HTTP
 * thread without stalling it. A large `input` array comes back in parts, one message each, so
 * the HTTP thread copies it in several short steps rather than one long one; an `input` of more
 * token ids than a request may hold never goes back at all (copying 8 M numbers onto the HTTP
 * thread held it ~0.6 s).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadReply } from '../request-thread.ts';
import { nestsDeeperThan, tooDeepMessage } from './json-depth.ts';
import { TOO_MANY_IDS } from './json-parse-thread.ts';

/** Characters of `input` per message back (a number or a small value counts as 8). */
const PART_CHARS = 1 << 20;
const VALUE_CHARS = 8;
const { maxInputIds } = workerData as { maxInputIds: number };

const sizeOf = (item: unknown) => (typeof item === 'string' ? item.length : Array.isArray(item) ? VALUE_CHARS * item.length : VALUE_CHARS);

/** Token ids in an input of ids or of id sequences (0 for texts). */
function tokenIds(input: unknown[]): number {
  if (typeof input[0] === 'number') return input.length;
  let ids = 0;
  for (const item of input) if (Array.isArray(item)) ids += item.length;
  return ids;
}

function parts(input: unknown[]): unknown[][] {
  const found: unknown[][] = [[]];
  let chars = 0;
  for (const item of input) {
    const size = sizeOf(item);
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
  const ids = Array.isArray(input) ? tokenIds(input) : 0;
  if (ids > maxInputIds) {
    parentPort!.postMessage({ id, error: `input holds ${ids} token ids`, errorCode: TOO_MANY_IDS, errorCount: ids } satisfies ThreadReply<unknown>);
    return;
  }
  const split = Array.isArray(input) && input.length > 1 ? parts(input) : [];
  if (split.length < 2) {
    parentPort!.postMessage({ id, result: value } satisfies ThreadReply<unknown>);
    return;
  }
  // The input array (left empty in the result) follows in parts.
  parentPort!.postMessage({ id, result: { ...(value as object), input: [] }, parts: split.length } satisfies ThreadReply<unknown>);
  for (const part of split) parentPort!.postMessage({ id, part } satisfies ThreadReply<unknown, unknown[]>);
});
