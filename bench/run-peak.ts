/**
 * Measured peak memory of one model run against the plan's estimate (src/inference/run-peak.ts),
 * for generated encoder and decoder graphs (fp32, fp16, 4-bit), with and without ONNX Runtime's
 * arena, each in a fresh process. Prints a markdown table.
 *
 *   node --import tsx bench/run-peak.ts [tokens,…] [heads] [kinds]
 *   e.g. node --import tsx bench/run-peak.ts 512,2048,8192 4 encoder,decoder,decoder-fp16,decoder-q4
 *
 * 8192 tokens with 4 heads takes ~4 GB (7 GB with the arena) and a few minutes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peakAndEstimate, writeRunPeakModel, type GraphKind } from '../test/helpers/run-peak.ts';

const [tokenList = '512,2048', headCount = '4', kindList = 'encoder,decoder,decoder-fp16,decoder-q4'] = process.argv.slice(2);
const lengths = tokenList.split(',').map(Number);
const heads = Number(headCount);
const dir = await mkdtemp(join(tmpdir(), 'run-peak-'));
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
console.log(`| graph | layers × hidden, heads | tokens | arena | measured peak MB | kept after MB | estimate MB | estimate / measured |`);
console.log(`|---|---|---|---|---|---|---|---|`);
try {
  for (const kind of kindList.split(',') as GraphKind[]) {
    const shape = { layers: 2, hidden: 64, heads, intermediate: 128, maxPositions: Math.max(...lengths) };
    const model = await writeRunPeakModel(dir, kind, shape);
    for (const tokens of lengths) {
      for (const arena of [true, false]) {
        const { peakBytes, keptBytes, estimateBytes } = await peakAndEstimate(model, arena, tokens);
        console.log(
          `| ${kind} | ${shape.layers} × ${shape.hidden}, ${heads} | ${tokens} | ${arena ? 'on' : 'off'} | ${mb(peakBytes)} | ${mb(keptBytes)} | ${mb(estimateBytes)} | ${(estimateBytes / peakBytes).toFixed(2)} |`,
        );
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
