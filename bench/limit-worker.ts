/** One single-thread ONNX Runtime session in a worker thread, for the parallel limit (limit.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { sessionOptions } from '../src/inference/onnx/session-options.ts';
import { feeds, runFor } from './limit.ts';

const { onnxFile, batches } = workerData as { onnxFile: string; batches: Int32Array[][] };
const session = await ort.InferenceSession.create(onnxFile, sessionOptions(1));
// The first run allocates and is slow: not counted.
for (const tensor of Object.values(await session.run(feeds(session, batches[0]!)))) tensor.dispose();
parentPort!.postMessage({ kind: 'ready' });
parentPort!.once('message', async ({ seconds }: { seconds: number }) => {
  const count = await runFor(session, batches, seconds);
  await session.release();
  parentPort!.postMessage({ kind: 'done', ...count });
});
