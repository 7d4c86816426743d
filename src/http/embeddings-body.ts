export interface EmbeddingsAnswer {
  /** Each input's vector, already JSON text (see vector-text.ts). */
  embeddings: string[];
  tokenCounts: number[];
  model: string;
  totalTokens: number;
  id: string;
  created: number;
}

/** The embeddings response as JSON text, the same bytes JSON.stringify gives for the response object. */
export function embeddingsBody(answer: EmbeddingsAnswer): string {
  const { embeddings, tokenCounts } = answer;
  const data = embeddings.map((embedding, index) => `{"object":"embedding","index":${index},"embedding":${embedding},"num_tokens":${tokenCounts[index]}}`);
  const usage = { prompt_tokens: answer.totalTokens, total_tokens: answer.totalTokens };
  const tail = JSON.stringify({ model: answer.model, usage, id: answer.id, created: answer.created }).slice(1);
  return `{"object":"list","data":[${data.join(',')}],${tail}`;
}
