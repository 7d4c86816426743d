import { siblingModule } from '../threads/module-url.ts';
import { RequestThread } from '../threads/request-thread.ts';
import type { BodyPart } from './body-fields.ts';

/**
 * Parses large JSON bodies on a thread of their own. On the HTTP thread, decoding and parsing a
 * 19 MB body took 35–140 ms in one block; handing the raw bytes over and receiving back only the
 * fields the route reads, in parts, costs a fraction of that in short steps. A body that is not
 * JSON, or whose fields hold too much, rejects with ThreadRequestError.
 */
/** The ThreadRequestError code of a body with more token ids than a request may hold (its count says how many). */
export const TOO_MANY_IDS = 'too_many_ids';
/** The ThreadRequestError code of a body whose fields hold too many values (see body-fields.ts; its param names the field). */
export const TOO_MANY_VALUES = 'too_many_values';


export class JsonParseThread {
  private readonly thread: RequestThread<{ body: Uint8Array; fields: readonly string[] | undefined }, unknown, BodyPart>;

  /** `maxInputIds`: a body whose `input` holds more token ids is refused with a ThreadRequestError coded TOO_MANY_IDS. */
  constructor(maxInputIds: number) {
    this.thread = new RequestThread(siblingModule(import.meta.url, 'json-parse-worker'), { maxInputIds });
  }

  /**
   * The body's `fields` (those the route reads; all when undefined), from the body as one buffer of its own, which is handed over (the
   * caller must not use it again), or as chunks, which are gathered into one first: cloning 19 MB of chunks into a
   * message held the HTTP thread 20–35 ms, about what gathering them costs.
   */
  async parse(body: Uint8Array | Uint8Array[], fields: readonly string[] | undefined): Promise<unknown> {
    const owned = Array.isArray(body) ? gather(body) : body;
    const { result, parts } = await this.thread.request({ body: owned, fields }, [owned.buffer as ArrayBuffer]);
    return parts.length === 0 ? result : assemble(parts);
  }

  close() {
    return this.thread.close();
  }
}

function assemble(parts: BodyPart[]): Record<string, unknown> {
  const itemsByField = new Map<string, unknown[][]>();
  const body: Record<string, unknown> = {};
  for (const part of parts) {
    if ('value' in part) body[part.field] = part.value;
    else if (itemsByField.has(part.field)) itemsByField.get(part.field)!.push(part.items);
    else itemsByField.set(part.field, [part.items]);
  }
  for (const [field, items] of itemsByField) body[field] = ([] as unknown[]).concat(...items);
  return body;
}

function gather(chunks: Uint8Array[]): Uint8Array {
  const body = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
