/**
 * Late interaction's score, PyLate's colbert_scores for one (query, document) pair: for each query
 * vector the best dot product with any of the document's vectors, summed (no division by the
 * query's length). Rows are float32 vectors of `width` back to back.
 */
export function maxSim(query: Float32Array, document: Float32Array, width: number): number {
  const documentRows = document.length / width;
  // No vectors to match (every token skipped): nothing matches, as colbert_scores' mask gives.
  if (documentRows === 0) return 0;
  let total = 0;
  for (let q = 0; q < query.length; q += width) {
    let best = -Infinity;
    for (let d = 0; d < documentRows; d++) {
      let dot = 0;
      for (let i = 0, at = d * width; i < width; i++) dot += query[q + i]! * document[at + i]!;
      if (dot > best) best = dot;
    }
    total += best;
  }
  return total;
}
