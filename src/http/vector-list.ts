/** JSON bytes of `head`, then vectors' JSON texts (vector-text.ts) separated by commas, then `tail`: a response holding the vectors as they came from the workers. */
export function withVectors(head: string, vectors: Uint8Array[], tail: string): Buffer {
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail) + Math.max(0, vectors.length - 1);
  for (const vector of vectors) size += vector.length;
  const body = Buffer.allocUnsafe(size);
  let offset = body.write(head, 0, 'utf8');
  vectors.forEach((vector, index) => {
    if (index > 0) body[offset++] = 0x2c; // ','
    body.set(vector, offset);
    offset += vector.length;
  });
  body.write(tail, offset, 'utf8');
  return body;
}
