/**
 * A fake inference worker: answers [first id, length] per text, and dies on a batch whose first text has 999 tokens.
 * A batch whose first text has 777 tokens says it is finishing at once, and answers 300 ms later.
 */
import { parentPort } from 'node:worker_threads';
import { transfers, type BatchRequest, type CloseRequest, type WorkerMessage } from '../../src/inference/onnx/protocol.ts';
import { VectorJsonWriter } from '../../src/inference/output/vector-text.ts';

const port = parentPort!;
port.on('message', (request: BatchRequest | CloseRequest) => {
  if ('close' in request) return port.close();
  if (request.lengths[0] === 999) process.exit(3);
  const finishing = request.lengths[0] === 777;
  if (finishing) port.postMessage({ kind: 'finishing', id: request.id } satisfies WorkerMessage);
  const texts = new VectorJsonWriter();
  let offset = 0;
  request.lengths.forEach((length) => {
    texts.add(Float32Array.of(request.ids[offset]!, length), 'float');
    offset += length;
  });
  const outputs = [{ head: 0, rows: Int32Array.from(request.lengths, (_, row) => row), ...texts.take() }];
  const paddedTokens = request.lengths.length * Math.max(...request.lengths);
  const answer = () => port.postMessage({ kind: 'rows', id: request.id, last: true, outputs, paddedTokens, runSeconds: 0 } satisfies WorkerMessage, transfers(outputs));
  if (finishing) setTimeout(answer, 300);
  else answer();
});
port.postMessage({ kind: 'ready' } satisfies WorkerMessage);
