/** A fake inference worker: answers [first id, length] per text, and dies on a batch whose first text has 999 tokens. */
import { parentPort } from 'node:worker_threads';
import type { BatchRequest, CloseRequest, WorkerMessage } from '../../src/inference/protocol.ts';

const port = parentPort!;
port.on('message', (request: BatchRequest | CloseRequest) => {
  if ('close' in request) return port.close();
  if (request.lengths[0] === 999) process.exit(3);
  const embeddings = new Float32Array(request.lengths.length * 2);
  let offset = 0;
  request.lengths.forEach((length, row) => {
    embeddings[row * 2] = request.ids[offset]!;
    embeddings[row * 2 + 1] = length;
    offset += length;
  });
  const rows = Int32Array.from(request.lengths, (_, row) => row);
  const paddedTokens = request.lengths.length * Math.max(...request.lengths);
  port.postMessage({ kind: 'rows', id: request.id, last: true, rows, embeddings, dimensions: 2, paddedTokens, runSeconds: 0 } satisfies WorkerMessage, [embeddings.buffer]);
});
port.postMessage({ kind: 'ready' } satisfies WorkerMessage);
