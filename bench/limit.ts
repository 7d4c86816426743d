/**
 * The ceiling: the same texts embedded by onnxruntime-node in length-sorted
 * batches, with no HTTP, queue or pooling around them; several batch sizes
 * tried, the best kept. Two forms: N single-thread sessions in N worker
 * threads (what the cores can do: the limit the server is held to), and one
 * session with N threads (what a single-session server gets).
 */
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { graphInputs, type FeedBuilder } from '../src/inference/onnx/graph-inputs.ts';
import { sessionOptions } from '../src/inference/onnx/session-options.ts';

export interface LimitResult {
  batchSize: number;
  textsPerSecond: number;
  tokensPerSecond: number;
  bySize: { batchSize: number; textsPerSecond: number }[];
}

const feedBuilders = new WeakMap<ort.InferenceSession, FeedBuilder>();

/** A batch's feeds, right-padded with 0, as the server's workers build them (graph-inputs.ts: decoders' positions and empty past too). */
export function feeds(session: ort.InferenceSession, batch: Int32Array[]) {
  let build = feedBuilders.get(session);
  if (!build) feedBuilders.set(session, (build = graphInputs(session)));
  const seqLen = Math.max(...batch.map((ids) => ids.length));
  const ids = new Int32Array(batch.length * seqLen);
  const mask = new Int32Array(batch.length * seqLen);
  batch.forEach((sequence, row) => {
    ids.set(sequence, row * seqLen);
    mask.fill(1, row * seqLen, row * seqLen + sequence.length);
  });
  return build(ids, mask, batch.length, seqLen);
}

function shuffle<T>(items: T[]) {
  let seed = 12345;
  for (let i = items.length - 1; i > 0; i--) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    const j = seed % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/** Length-sorted batches of `batchSize`, in a shuffled order: every size sees the same length mix. */
function batchesOf(sorted: Int32Array[], batchSize: number): Int32Array[][] {
  const batches: Int32Array[][] = [];
  for (let start = 0; start < sorted.length; start += batchSize) batches.push(sorted.slice(start, start + batchSize));
  shuffle(batches);
  return batches;
}

/** What running batches for a while gave. */
export interface RunCount {
  texts: number;
  tokens: number;
  seconds: number;
}

/** Runs `batches` in turn on the session until `seconds` have passed. */
export async function runFor(session: ort.InferenceSession, batches: Int32Array[][], seconds: number): Promise<RunCount> {
  let texts = 0;
  let tokens = 0;
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i = (i + 1) % batches.length) {
    const batch = batches[i]!;
    const output = await session.run(feeds(session, batch));
    for (const tensor of Object.values(output)) tensor.dispose();
    texts += batch.length;
    tokens += batch.reduce((sum, ids) => sum + ids.length, 0);
  }
  return { texts, tokens, seconds: (performance.now() - started) / 1000 };
}

/** Measures each batch size on the same length-sorted texts and keeps the best. */
async function bestBatchSize(sequences: Int32Array[], batchSizes: number[], measure: (batches: Int32Array[][]) => Promise<RunCount>): Promise<LimitResult> {
  const sorted = sequences.slice().sort((a, b) => a.length - b.length);
  const bySize: LimitResult['bySize'] = [];
  let best = { batchSize: 0, textsPerSecond: 0, tokensPerSecond: 0 };
  for (const batchSize of batchSizes) {
    const { texts, tokens, seconds } = await measure(batchesOf(sorted, batchSize));
    bySize.push({ batchSize, textsPerSecond: texts / seconds });
    if (texts / seconds > best.textsPerSecond) best = { batchSize, textsPerSecond: texts / seconds, tokensPerSecond: tokens / seconds };
  }
  return { ...best, bySize };
}

/** Two measurements of one limit as one: each batch size's rate averaged, the best size kept. */
export function meanLimit(first: LimitResult, second: LimitResult): LimitResult {
  const bySize = first.bySize.map(({ batchSize, textsPerSecond }) => ({
    batchSize,
    textsPerSecond: (textsPerSecond + second.bySize.find((other) => other.batchSize === batchSize)!.textsPerSecond) / 2,
  }));
  const best = bySize.reduce((a, b) => (b.textsPerSecond > a.textsPerSecond ? b : a));
  // Every size runs the same mix of texts: tokens per text is about the same whichever size ran.
  const tokensPerText = first.tokensPerSecond / first.textsPerSecond;
  return { ...best, tokensPerSecond: best.textsPerSecond * tokensPerText, bySize };
}

/** N single-thread sessions, one per worker thread, all running at once. */
export function measureParallelLimit(
  onnxFile: string,
  sequences: Int32Array[],
  sessions: number,
  batchSizes = [1, 8, 32],
  secondsPerSize = 4,
): Promise<LimitResult> {
  return bestBatchSize(sequences, batchSizes, async (batches) => {
    // Each session starts at a different place in the batch list, so together they cover the mix.
    const workers = Array.from({ length: sessions }, (_, index) => {
      const offset = Math.floor((index * batches.length) / sessions);
      return new Worker(new URL('../src/threads/worker-bootstrap.mjs', import.meta.url), {
        workerData: { entry: new URL('./limit-worker.ts', import.meta.url).href, onnxFile, batches: [...batches.slice(offset), ...batches.slice(0, offset)] },
      });
    });
    const message = (worker: Worker, kind: string) =>
      new Promise<RunCount>((resolve, reject) => {
        worker.on('message', (reply: RunCount & { kind: string }) => reply.kind === kind && resolve(reply));
        worker.once('error', reject);
      });
    await Promise.all(workers.map((worker) => message(worker, 'ready')));
    const done = workers.map((worker) => message(worker, 'done'));
    for (const worker of workers) worker.postMessage({ seconds: secondsPerSize });
    const results = await Promise.all(done);
    await Promise.all(workers.map((worker) => worker.terminate()));
    return {
      texts: results.reduce((sum, result) => sum + result.texts, 0),
      tokens: results.reduce((sum, result) => sum + result.tokens, 0),
      seconds: Math.max(...results.map((result) => result.seconds)),
    };
  });
}

/** One session with `threads` intra-op threads. */
export async function measureLimit(
  onnxFile: string,
  sequences: Int32Array[],
  threads: number,
  batchSizes = [1, 8, 32],
  secondsPerSize = 4,
): Promise<LimitResult> {
  const session = await ort.InferenceSession.create(onnxFile, sessionOptions(threads));
  await session.run(feeds(session, sequences.slice(0, 8)));
  const result = await bestBatchSize(sequences, batchSizes, (batches) => runFor(session, batches, secondsPerSize));
  await session.release();
  return result;
}

/**
 * Both limits of `onnxFile` on the sequences, measured just before the scenarios and again just after (the server
 * idles meanwhile), each the mean of the two: the machine's speed drifts over minutes.
 */
export async function limitsAroundScenarios<T>(
  onnxFile: string,
  sequences: Int32Array[],
  cpus: number,
  secondsPerSize: number,
  scenarios: () => Promise<T>,
  batchSizes?: number[],
) {
  const limits = async () => ({
    parallel: await measureParallelLimit(onnxFile, sequences, cpus, batchSizes, secondsPerSize),
    oneSession: await measureLimit(onnxFile, sequences, cpus, batchSizes, secondsPerSize),
  });
  const before = await limits();
  const results = await scenarios();
  const after = await limits();
  return { results, parallel: meanLimit(before.parallel, after.parallel), oneSession: meanLimit(before.oneSession, after.oneSession) };
}
