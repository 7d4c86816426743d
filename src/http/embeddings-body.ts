export interface EmbeddingsAnswer {
  /** Each input's vector, already JSON text as bytes (see vector-text.ts). */
  embeddings: Uint8Array[];
  tokenCounts: number[];
  model: string;
  totalTokens: number;
  id: string;
  created: number;
}

/** The embeddings response as JSON bytes: what JSON.stringify gives for the response object, written into one buffer. */
export function embeddingsBody(answer: EmbeddingsAnswer): Buffer {
  const { embeddings, tokenCounts } = answer;
  const usage = { prompt_tokens: answer.totalTokens, total_tokens: answer.totalTokens };
  const tail = `],${JSON.stringify({ model: answer.model, usage, id: answer.id, created: answer.created }).slice(1)}`;
  const open = (index: number) => `${index === 0 ? '' : ','}{"object":"embedding","index":${index},"embedding":`;
  const close = (index: number) => `,"num_tokens":${tokenCounts[index]}}`;
  const head = '{"object":"list","data":[';
  // Every piece but the tail is ASCII, so its length is its byte count.
  let size = head.length + Buffer.byteLength(tail);
  embeddings.forEach((embedding, index) => (size += open(index).length + embedding.length + close(index).length));
  const body = Buffer.allocUnsafe(size);
  let offset = body.write(head, 0, 'latin1');
  embeddings.forEach((embedding, index) => {
    offset += body.write(open(index), offset, 'latin1');
    body.set(embedding, offset);
    offset += embedding.length;
    offset += body.write(close(index), offset, 'latin1');
  });
  body.write(tail, offset, 'utf8');
  return body;
}
