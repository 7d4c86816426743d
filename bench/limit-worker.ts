/** One single-thread ONNX Runtime session in a worker thread, for the parallel limit (limit.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { sessionOptions } from '../src/inference/session-options.ts';
import { feeds } from './limit.ts';

const { onnxFile, batches } = workerData as { onnxFile: string; batches: Int32Array[][] };
const session = await ort.InferenceSession.create(onnxFile, sessionOptions(1));
const run = async (batch: Int32Array[]) => {
  const output = await session.run(feeds(session.inputNames, batch));
  for (const tensor of Object.values(output)) tensor.dispose();
};
await run(batches[0]!);
parentPort!.postMessage({ kind: 'ready' });
parentPort!.once('message', async ({ seconds }: { seconds: number }) => {
  let texts = 0;
  let tokens = 0;
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i = (i + 1) % batches.length) {
    await run(batches[i]!);
    texts += batches[i]!.length;
    tokens += batches[i]!.reduce((sum, ids) => sum + ids.length, 0);
  }
  await session.release();
  parentPort!.postMessage({ kind: 'done', texts, tokens, seconds: (performance.now() - started) / 1000 });
});
