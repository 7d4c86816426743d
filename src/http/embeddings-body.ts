import type { SparseResult } from '../model/sparse-encoder.ts';

export interface EmbeddingsAnswer {
  /** Each input's vector, already JSON text as bytes (see vector-text.ts); undefined leaves `embedding` out (a multi-output request without dense). */
  embeddings: (Uint8Array | undefined)[];
  /** Per input, more fields of its item as JSON text (`,"name":value…`), after its embedding. */
  extras?: Uint8Array[];
  tokenCounts: number[];
  /** A multi-vector answer: each input's vector count (its `embedding` holds that many rows). */
  rows?: number[];
  model: string;
  totalTokens: number;
  id: string;
  created: number;
}

/** The embeddings response as JSON bytes: what JSON.stringify gives for the response object, written into one buffer. */
export function embeddingsBody(answer: EmbeddingsAnswer): Buffer {
  const { embeddings, tokenCounts, extras, rows } = answer;
  const usage = { prompt_tokens: answer.totalTokens, total_tokens: answer.totalTokens };
  const tail = `],${JSON.stringify({ model: answer.model, usage, id: answer.id, created: answer.created }).slice(1)}`;
  const opens = embeddings.map((embedding, index) => `${index === 0 ? '' : ','}{"object":"embedding","index":${index}${embedding ? ',"embedding":' : ''}`);
  const closes = tokenCounts.map((count, index) => `${rows ? `,"rows":${rows[index]}` : ''},"num_tokens":${count}}`);
  const head = '{"object":"list","data":[';
  // Every piece but the tail is ASCII, so its length is its byte count.
  let size = head.length + Buffer.byteLength(tail);
  embeddings.forEach((embedding, index) => (size += opens[index]!.length + (embedding?.length ?? 0) + (extras?.[index]!.length ?? 0) + closes[index]!.length));
  const body = Buffer.allocUnsafe(size);
  let offset = body.write(head, 0, 'latin1');
  embeddings.forEach((embedding, index) => {
    offset += body.write(opens[index]!, offset, 'latin1');
    if (embedding) {
      body.set(embedding, offset);
      offset += embedding.length;
    }
    const extra = extras?.[index];
    if (extra) {
      body.set(extra, offset);
      offset += extra.length;
    }
    offset += body.write(closes[index]!, offset, 'latin1');
  });
  body.write(tail, offset, 'utf8');
  return body;
}

/** Sparse vectors as the JSON text of their `embedding`: `{"indices":[…],"values":[…]}`. */
export function sparseJson({ embeddings, tokenCounts }: SparseResult): { embeddings: Uint8Array[]; tokenCounts: number[] } {
  return { embeddings: embeddings.map((vector) => Buffer.from(JSON.stringify(vector), 'latin1')), tokenCounts };
}
