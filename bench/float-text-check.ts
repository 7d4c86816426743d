/**
 * `node --import tsx bench/float-text-check.ts`: every float32 bit pattern (2^32) through
 * writeFloatText, compared with JSON.stringify, on every core. Too long for `npm test` (~11 min
 * on 2 cores; the tests check two million); run it after any change to src/inference/output/float-text.ts.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { floatTextMismatch } from '../test/helpers/float-text.ts';

if (isMainThread && process.argv.slice(2).some((arg) => arg === '--help' || arg === '-h')) {
  console.log('usage: node --import tsx bench/float-text-check.ts\nChecks writeFloatText against JSON.stringify on all 2^32 float32 bit patterns, on every core (~11 min on 2 cores).');
  process.exit(0);
}

interface Share {
  from: number;
  to: number;
}
interface Outcome {
  checked: number;
  mismatches: string[];
}

function check({ from, to }: Share): Outcome {
  const mismatches: string[] = [];
  for (let pattern = from; pattern < to; pattern++) {
    const mismatch = floatTextMismatch(pattern);
    if (mismatch !== undefined) mismatches.push(mismatch);
  }
  return { checked: to - from, mismatches };
}

if (isMainThread) {
  const threads = availableParallelism();
  const started = performance.now();
  const shares = Array.from({ length: threads }, (_, index) => ({ from: Math.floor((index * 2 ** 32) / threads), to: Math.floor(((index + 1) * 2 ** 32) / threads) }));
  const outcomes = await Promise.all(
    shares.map(
      (share) =>
        new Promise<Outcome>((resolve, reject) => {
          const worker = new Worker(new URL('../src/threads/worker-bootstrap.mjs', import.meta.url), { workerData: { entry: import.meta.url, ...share } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  const mismatches = outcomes.flatMap((outcome) => outcome.mismatches);
  const checked = outcomes.reduce((sum, outcome) => sum + outcome.checked, 0);
  console.log(`${checked} float32 values on ${threads} threads in ${Math.round((performance.now() - started) / 1000)} s: ${mismatches.length} differ from JSON.stringify`);
  for (const mismatch of mismatches.slice(0, 20)) console.log(`  ${mismatch}`);
  process.exitCode = mismatches.length === 0 ? 0 : 1;
} else {
  parentPort!.postMessage(check(workerData as Share));
}
