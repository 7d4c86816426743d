/**
 * JSON-parse thread entry: decodes and parses request bodies too large to parse on the HTTP
 * thread without stalling it, keeps only the fields the route reads (body-fields.ts), and sends
 * them back in parts of bounded size, one message each, so the HTTP thread copies them in short
 * steps rather than one long one. An `input` of more token ids than a request may hold never goes
 * back at all (copying 8 M numbers onto the HTTP thread held it ~0.6 s).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadReply } from '../threads/request-thread.ts';
import { inParts, routeFields, type BodyPart } from './body-fields.ts';
import { nestsDeeperThan, tooDeepMessage } from './json-depth.ts';
import { TOO_MANY_IDS, TOO_MANY_VALUES } from './json-parse-thread.ts';

const { maxInputIds } = workerData as { maxInputIds: number };

/** Token ids in an input of ids or of id sequences (0 for texts). */
function tokenIds(input: unknown[]): number {
  if (typeof input[0] === 'number') return input.length;
  let ids = 0;
  for (const item of input) if (Array.isArray(item)) ids += item.length;
  return ids;
}

type Reply = ThreadReply<unknown, BodyPart>;

function answer(id: number, body: Uint8Array, fields: string[] | undefined): Reply[] {
  let value: unknown;
  try {
    if (nestsDeeperThan(body)) throw new Error(tooDeepMessage);
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    value = text === '' ? undefined : JSON.parse(text);
  } catch (error) {
    return [{ id, error: (error as Error).message }];
  }
  const kept = routeFields(value, fields);
  if ('refusal' in kept) return [{ id, error: kept.refusal.message, errorCode: TOO_MANY_VALUES, errorParam: kept.refusal.param }];
  const input = (kept.body as { input?: unknown } | null)?.input;
  const ids = Array.isArray(input) ? tokenIds(input) : 0;
  if (ids > maxInputIds) return [{ id, error: `input holds ${ids} token ids`, errorCode: TOO_MANY_IDS, errorCount: ids }];
  const split = inParts(kept.body);
  if (!split) return [{ id, result: kept.body }];
  return [{ id, result: {}, parts: split.length }, ...split.map((part) => ({ id, part }))];
}

parentPort!.on('message', ({ id, body, fields }: { id: number; body: Uint8Array; fields: string[] | undefined }) => {
  for (const reply of answer(id, body, fields)) parentPort!.postMessage(reply);
});
