import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Floats written between two yields to the event loop: ~5 ms of JSON. A 2048 × 384 float answer in one go took ~150 ms. */
const SLICE_FLOATS = 24_576;

/** Little-endian float32 bytes, base64: what the OpenAI SDKs decode. Typed arrays use the platform's byte order; every platform onnxruntime-node ships binaries for is little-endian. */
const toBase64 = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');

export interface EmbeddingsAnswer {
  vectors: Float32Array[];
  tokenCounts: number[];
  encoding: 'float' | 'base64';
  model: string;
  totalTokens: number;
  id: string;
  created: number;
}

/**
 * The embeddings response as JSON text, the same bytes JSON.stringify gives for the
 * response object, written in slices so a large answer does not stall the HTTP thread.
 */
export async function embeddingsBody(answer: EmbeddingsAnswer): Promise<string> {
  const { vectors, tokenCounts, encoding } = answer;
  const parts: string[] = [];
  let sliceFloats = 0;
  for (const [index, vector] of vectors.entries()) {
    if (sliceFloats >= SLICE_FLOATS) {
      await yieldToEventLoop();
      sliceFloats = 0;
    }
    const embedding = encoding === 'base64' ? `"${toBase64(vector)}"` : JSON.stringify(Array.from(vector));
    parts.push(`{"object":"embedding","index":${index},"embedding":${embedding},"num_tokens":${tokenCounts[index]}}`);
    sliceFloats += vector.length;
  }
  const usage = { prompt_tokens: answer.totalTokens, total_tokens: answer.totalTokens };
  const tail = JSON.stringify({ model: answer.model, usage, id: answer.id, created: answer.created }).slice(1);
  return `{"object":"list","data":[${parts.join(',')}],${tail}`;
}
