import type { SparseResult } from '../model/sparse-encoder.ts';

export interface EmbeddingsAnswer {
  /** Each input's vector, already JSON text as bytes (see vector-text.ts); undefined leaves `embedding` out (a multi-output request without dense). */
  embeddings: (Uint8Array | undefined)[];
  /** Per input, more fields of its item as JSON text (`,"name":value…`), after its embedding, in parts. */
  extras?: Uint8Array[][];
  tokenCounts: number[];
  model: string;
  totalTokens: number;
  id: string;
  created: number;
}

/** The response's text around the embeddings: before the first, before and after each, and after the last. */
function framing(answer: Omit<EmbeddingsAnswer, 'embeddings'> & { embeddings: unknown[] }, rows?: number[]) {
  const usage = { prompt_tokens: answer.totalTokens, total_tokens: answer.totalTokens };
  return {
    head: '{"object":"list","data":[',
    opens: answer.embeddings.map((embedding, index) => `${index === 0 ? '' : ','}{"object":"embedding","index":${index}${embedding ? ',"embedding":' : ''}`),
    closes: answer.tokenCounts.map((count, index) => `${rows ? `,"rows":${rows[index]}` : ''},"num_tokens":${count}}`),
    tail: `],${JSON.stringify({ model: answer.model, usage, id: answer.id, created: answer.created }).slice(1)}`,
  };
}

/** The embeddings response as JSON bytes: what JSON.stringify gives for the response object, written into one buffer. */
export function embeddingsBody(answer: EmbeddingsAnswer): Buffer {
  const { embeddings, extras } = answer;
  const { head, opens, closes, tail } = framing(answer);
  // Every piece but the tail is ASCII, so its length is its byte count.
  let size = head.length + Buffer.byteLength(tail);
  embeddings.forEach((embedding, index) => {
    size += opens[index]!.length + (embedding?.length ?? 0) + closes[index]!.length;
    for (const part of extras?.[index] ?? []) size += part.length;
  });
  const body = Buffer.allocUnsafe(size);
  let offset = body.write(head, 0, 'latin1');
  embeddings.forEach((embedding, index) => {
    offset += body.write(opens[index]!, offset, 'latin1');
    if (embedding) {
      body.set(embedding, offset);
      offset += embedding.length;
    }
    for (const part of extras?.[index] ?? []) {
      body.set(part, offset);
      offset += part.length;
    }
    offset += body.write(closes[index]!, offset, 'latin1');
  });
  body.write(tail, offset, 'utf8');
  return body;
}

/**
 * A multi-vector embeddings response as the chunks of its JSON text, each input's `embedding` in the parts it was
 * written in, with its `rows`: sent as they are, a large answer (tens of MB) is never copied into one buffer.
 */
export function multiVectorEmbeddingsBody(answer: Omit<EmbeddingsAnswer, 'embeddings'> & { embeddings: Uint8Array[][]; rows: number[] }): Uint8Array[] {
  const { head, opens, closes, tail } = framing(answer, answer.rows);
  const chunks: Uint8Array[] = [Buffer.from(head, 'latin1')];
  answer.embeddings.forEach((parts, index) => chunks.push(Buffer.from(opens[index]!, 'latin1'), ...parts, Buffer.from(closes[index]!, 'latin1')));
  chunks.push(Buffer.from(tail, 'utf8'));
  return chunks;
}

/** Sparse vectors as the JSON text of their `embedding`: `{"indices":[…],"values":[…]}`. */
export function sparseJson({ embeddings, tokenCounts }: SparseResult): { embeddings: Uint8Array[]; tokenCounts: number[] } {
  return { embeddings: embeddings.map((vector) => Buffer.from(JSON.stringify(vector), 'latin1')), tokenCounts };
}
