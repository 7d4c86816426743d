/**
 * A JSON body from pieces: text, and vectors already written as JSON text (bytes, see vector-text.ts), copied once
 * into one buffer rather than parsed and written again.
 */
export function joinJson(pieces: (string | Uint8Array)[]): Buffer {
  let size = 0;
  for (const piece of pieces) size += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
  const body = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const piece of pieces) {
    if (typeof piece === 'string') offset += body.write(piece, offset, 'utf8');
    else {
      body.set(piece, offset);
      offset += piece.length;
    }
  }
  return body;
}

/** `[a,b,c]` of JSON texts, as pieces. */
export function jsonList(items: Uint8Array[]): (string | Uint8Array)[] {
  const pieces: (string | Uint8Array)[] = ['['];
  items.forEach((item, index) => pieces.push(...(index === 0 ? [item] : [',', item])));
  pieces.push(']');
  return pieces;
}
