/**
 * The ceiling: the same texts embedded by onnxruntime-node in this process, in
 * length-sorted batches, with the server's thread count and no HTTP, queue or
 * pooling around it. Tries several batch sizes and keeps the best.
 */
import ort from 'onnxruntime-node';
import { sessionOptions } from '../src/inference/session-options.ts';

export interface LimitResult {
  batchSize: number;
  textsPerSecond: number;
  tokensPerSecond: number;
  bySize: { batchSize: number; textsPerSecond: number }[];
}

function feeds(inputNames: readonly string[], batch: Int32Array[]) {
  const seqLen = Math.max(...batch.map((ids) => ids.length));
  const ids = new BigInt64Array(batch.length * seqLen);
  const mask = new BigInt64Array(batch.length * seqLen);
  batch.forEach((sequence, row) => {
    sequence.forEach((id, t) => {
      ids[row * seqLen + t] = BigInt(id);
      mask[row * seqLen + t] = 1n;
    });
  });
  const dims = [batch.length, seqLen];
  const all: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), dims),
  };
  return Object.fromEntries(inputNames.map((name) => [name, all[name]!]));
}

function shuffle<T>(items: T[]) {
  let seed = 12345;
  for (let i = items.length - 1; i > 0; i--) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    const j = seed % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

export async function measureLimit(
  onnxFile: string,
  sequences: Int32Array[],
  threads: number,
  batchSizes = [1, 8, 16, 32, 64],
  secondsPerSize = 5,
): Promise<LimitResult> {
  const session = await ort.InferenceSession.create(onnxFile, sessionOptions(threads));
  const sorted = sequences.slice().sort((a, b) => a.length - b.length);
  await session.run(feeds(session.inputNames, sorted.slice(0, 8)));
  const bySize: LimitResult['bySize'] = [];
  let best = { batchSize: 0, textsPerSecond: 0, tokensPerSecond: 0 };
  for (const batchSize of batchSizes) {
    // Length-sorted batches, run in a shuffled order until time is up: every size sees the same length mix.
    const batches: Int32Array[][] = [];
    for (let start = 0; start < sorted.length; start += batchSize) batches.push(sorted.slice(start, start + batchSize));
    shuffle(batches);
    let texts = 0;
    let tokens = 0;
    const started = performance.now();
    for (let i = 0; performance.now() - started < secondsPerSize * 1000; i = (i + 1) % batches.length) {
      const batch = batches[i]!;
      const output = await session.run(feeds(session.inputNames, batch));
      for (const tensor of Object.values(output)) tensor.dispose();
      texts += batch.length;
      tokens += batch.reduce((sum, ids) => sum + ids.length, 0);
    }
    const seconds = (performance.now() - started) / 1000;
    bySize.push({ batchSize, textsPerSecond: texts / seconds });
    if (texts / seconds > best.textsPerSecond) best = { batchSize, textsPerSecond: texts / seconds, tokensPerSecond: tokens / seconds };
  }
  await session.release();
  return { ...best, bySize };
}
