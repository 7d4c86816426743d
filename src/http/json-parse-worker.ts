/** JSON-parse thread entry: decodes and parses request bodies too large to parse on the HTTP thread without stalling it. */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', ({ id, chunks }: { id: number; chunks: Uint8Array[] }) => {
  try {
    const text = Buffer.concat(chunks).toString('utf8');
    parentPort!.postMessage({ id, value: text === '' ? undefined : JSON.parse(text) });
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message });
  }
});
