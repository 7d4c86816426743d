/**
 * JSON-parse thread entry: decodes and parses request bodies too large to parse on the HTTP
 * thread without stalling it, keeps only the fields the route reads (body-fields.ts), and sends
 * them back in parts of bounded size, one message each, so the HTTP thread copies them in short
 * steps rather than one long one. An `input` of more token ids than a request may hold never goes
 * back at all (copying 8 M numbers onto the HTTP thread held it ~0.6 s).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadReply } from '../request-thread.ts';
import { routeFields } from './body-fields.ts';
import { nestsDeeperThan, tooDeepMessage } from './json-depth.ts';
import { TOO_MANY_IDS, TOO_MANY_VALUES, type BodyPart } from './json-parse-thread.ts';

/**
 * How much one message back may carry, as characters of text; any other value counts as VALUE_WEIGHT. Copying a
 * value between threads costs ~30 ns (a number) to ~230 ns (an empty array), a character ~1.5 ns: a part is ~3 ms.
 */
const PART_WEIGHT = 2 << 20;
const VALUE_WEIGHT = 64;
const { maxInputIds } = workerData as { maxInputIds: number };

function weightOf(value: unknown): number {
  if (typeof value === 'string') return value.length + VALUE_WEIGHT;
  if (typeof value !== 'object' || value === null) return VALUE_WEIGHT;
  let weight = VALUE_WEIGHT;
  for (const member of Object.values(value)) weight += weightOf(member);
  return weight;
}

/** Token ids in an input of ids or of id sequences (0 for texts). */
function tokenIds(input: unknown[]): number {
  if (typeof input[0] === 'number') return input.length;
  let ids = 0;
  for (const item of input) if (Array.isArray(item)) ids += item.length;
  return ids;
}

/** The fields as parts: a field whole, or an array field's items a part's weight at a time. */
function* parts(body: Record<string, unknown>): Generator<BodyPart> {
  for (const [field, value] of Object.entries(body)) {
    if (!Array.isArray(value)) {
      yield { field, value };
      continue;
    }
    let items: unknown[] = [];
    let weight = 0;
    for (const item of value) {
      const itemWeight = weightOf(item);
      if (items.length > 0 && weight + itemWeight > PART_WEIGHT) {
        yield { field, items };
        items = [];
        weight = 0;
      }
      items.push(item);
      weight += itemWeight;
    }
    yield { field, items };
  }
}

type Reply = ThreadReply<unknown, BodyPart>;

function answer(id: number, body: Uint8Array, fields: string[]): Reply[] {
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
  if (typeof kept.body !== 'object' || kept.body === null || weightOf(kept.body) <= PART_WEIGHT) return [{ id, result: kept.body }];
  const split = [...parts(kept.body as Record<string, unknown>)];
  return [{ id, result: {}, parts: split.length }, ...split.map((part) => ({ id, part }))];
}

parentPort!.on('message', ({ id, body, fields }: { id: number; body: Uint8Array; fields: string[] }) => {
  for (const reply of answer(id, body, fields)) parentPort!.postMessage(reply);
});
