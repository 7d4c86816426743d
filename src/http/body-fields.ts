/**
 * What reaches the HTTP thread of a JSON body: only the fields its route reads, each bounded in
 * the small values it may hold. Applied where the body is parsed (the JSON-parse thread for large
 * bodies), so a field no route reads costs nothing here, whatever it holds: copying 3.5 M tiny
 * arrays of an ignored field onto the HTTP thread held it 1–3.5 s in one message. Every value
 * inside a field counts (a list's items, arrays, objects, each of their members), except `input`'s
 * token ids, which are bounded by their count (json-parse-worker.ts); a text counts as one value.
 */

/** Values one item of a list field (a document) or one other field may hold inside it. */
export const MAX_ITEM_VALUES = 1000;
/** Values all fields of one body may hold inside them: JSON.stringify of 100 k values (a rerank returning its documents) takes ~8 ms. */
export const MAX_BODY_VALUES = 100_000;
/** The field whose items may be token ids. */
const IDS_FIELD = 'input';

export interface Refusal {
  message: string;
  param: string;
}

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null;
const isTokenIds = (item: unknown) => Array.isArray(item) && item.every((id) => typeof id === 'number');

/** Values inside `value` (not counting itself), counting stopped once past `stopAfter`. */
function valuesInside(value: unknown, stopAfter = Infinity): number {
  if (!isContainer(value)) return 0;
  let count = 0;
  const pending: object[] = [value];
  while (pending.length > 0 && count <= stopAfter) {
    for (const member of Object.values(pending.pop()!)) {
      count++;
      if (isContainer(member)) pending.push(member);
    }
  }
  return count;
}

/** The values inside a field (a list's items count, and what each holds), or why they are too many. */
function countField(field: string, value: unknown, budget: number): number | Refusal {
  const tokenIds = field === IDS_FIELD && isTokenIds(value);
  if (!isContainer(value) || tokenIds) return 0;
  const items = Array.isArray(value) ? value : [value];
  let total = Array.isArray(value) ? items.length : 0;
  for (const [index, item] of items.entries()) {
    if (total > budget) break;
    if (!isContainer(item) || (field === IDS_FIELD && isTokenIds(item))) continue;
    const count = valuesInside(item, Math.min(MAX_ITEM_VALUES, budget - total));
    if (count > MAX_ITEM_VALUES) {
      const where = Array.isArray(value) ? `${field}[${index}]` : field;
      return { param: field, message: `Invalid '${where}': it holds more than ${MAX_ITEM_VALUES} values (arrays, objects and their members); at most ${MAX_ITEM_VALUES} are allowed in one.` };
    }
    total += count;
  }
  if (total > budget) {
    return { param: field, message: `Invalid '${field}': the body's fields hold more than ${MAX_BODY_VALUES} values (arrays, objects, their members and list items); at most ${MAX_BODY_VALUES} are allowed.` };
  }
  return total;
}

/**
 * The body as the route sees it: of an object, only `fields` (all when undefined); of an array, none of its items (the route's schema
 * refuses an array all the same); a JSON scalar as it is. Or a refusal, when what is kept holds too many values.
 */
export function routeFields(body: unknown, fields: readonly string[] | undefined): { body: unknown } | { refusal: Refusal } {
  if (Array.isArray(body)) return { body: [] };
  if (!isContainer(body)) return { body };
  const kept: Record<string, unknown> = {};
  let total = 0;
  for (const field of fields ?? Object.keys(body)) {
    if (!Object.hasOwn(body, field)) continue;
    const value = (body as Record<string, unknown>)[field];
    const counted = countField(field, value, MAX_BODY_VALUES - total);
    if (typeof counted !== 'number') return { refusal: counted };
    total += counted;
    kept[field] = value;
  }
  if (fields) keepUnreadNames(body, fields, kept);
  return { body: kept };
}

/** Unread fields whose names (not values) still reach the route, so a refusal can ask "did you mean 'input'?" of `inputs`. */
const UNREAD_NAMES = 16;
const UNREAD_NAME_CHARS = 64;

function keepUnreadNames(body: object, fields: readonly string[], kept: Record<string, unknown>) {
  let named = 0;
  for (const name in body) {
    if (named === UNREAD_NAMES) return;
    if (!Object.hasOwn(body, name) || fields.includes(name) || name.length > UNREAD_NAME_CHARS) continue;
    // defineProperty, so that a field named __proto__ stays a field.
    Object.defineProperty(kept, name, { value: null, enumerable: true, writable: true, configurable: true });
    named++;
  }
}

/** One message of a body sent back in parts: a field's value, or some of an array field's items (in order). */
export type BodyPart = { field: string; value: unknown } | { field: string; items: unknown[] };

/**
 * How much one message between threads may carry, as characters of text; any other value counts as VALUE_WEIGHT.
 * Copying a value between threads costs ~30 ns (a number) to ~230 ns (an empty array), a character ~1.5 ns: a part
 * is ~3 ms.
 */
export const PART_WEIGHT = 2 << 20;
const VALUE_WEIGHT = 64;

export function weightOf(value: unknown): number {
  if (typeof value === 'string') return value.length + VALUE_WEIGHT;
  if (!isContainer(value)) return VALUE_WEIGHT;
  let weight = VALUE_WEIGHT;
  for (const member of Object.values(value)) weight += weightOf(member);
  return weight;
}

/**
 * A kept body too heavy for one message, as parts: each field whole, or an array field's items a PART_WEIGHT at a
 * time (an item heavier than that alone in its part); undefined when one message carries it.
 */
export function inParts(body: unknown): BodyPart[] | undefined {
  if (!isContainer(body) || weightOf(body) <= PART_WEIGHT) return undefined;
  const parts: BodyPart[] = [];
  for (const [field, value] of Object.entries(body)) {
    if (!Array.isArray(value)) {
      parts.push({ field, value });
      continue;
    }
    let items: unknown[] = [];
    let weight = 0;
    for (const item of value) {
      const itemWeight = weightOf(item);
      if (items.length > 0 && weight + itemWeight > PART_WEIGHT) {
        parts.push({ field, items });
        items = [];
        weight = 0;
      }
      items.push(item);
      weight += itemWeight;
    }
    parts.push({ field, items });
  }
  return parts;
}
