/**
 * How deep a JSON body may nest arrays and objects. Requests nest three levels (`{"input": [[ids]]}`);
 * extra fields clients add are shallow. A body nested hundreds of thousands deep parses, but
 * copying the result between threads or walking it recursively overflows the stack.
 */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** Whether the JSON text in `bytes` (UTF-8) opens more than `limit` arrays or objects inside each other: one linear scan, before parsing. */
export function nestsDeeperThan(bytes: Uint8Array, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index]!;
    if (byte === QUOTE) {
      // Skip the string (multi-byte UTF-8 never holds these ASCII bytes).
      for (index++; index < bytes.length && bytes[index] !== QUOTE; index++) if (bytes[index] === BACKSLASH) index++;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

export const tooDeepMessage = `the JSON nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`;
