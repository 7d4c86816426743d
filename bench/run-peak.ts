/**
 * Measured peak memory of one model run against the plan's estimate (src/batching/run-peak.ts),
 * for generated encoder and decoder graphs (fp32, fp16, 4-bit), with and without ONNX Runtime's
 * arena, each in a fresh process. Prints a markdown table.
 *
 *   node --import tsx bench/run-peak.ts [tokens,…] [shape] [kinds]
 *   e.g. node --import tsx bench/run-peak.ts 512,2048,8192 small encoder,decoder,decoder-fp16,decoder-q4
 *
 * Shapes: small (2 layers × 64, 4 heads), many-heads (2 × 64, 16 heads), minilm (MiniLM-L6: 6 × 384,
 * 12 heads), qwen3-like (4 × 256, 16 heads, Qwen3-Embedding-0.6B's head count), splade-like (2 × 64 with
 * BERT's 30 522-token vocabulary; kind mlm: an MLM graph whose output is the logits). 8192 tokens of
 * `small` takes ~3 GB (5–7 GB with the arena) and a few minutes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peakAndEstimate, writeRunPeakModel, type GraphKind } from '../test/helpers/run-peak.ts';

const SHAPES = {
  small: { layers: 2, hidden: 64, heads: 4, intermediate: 128 },
  'many-heads': { layers: 2, hidden: 64, heads: 16, intermediate: 128 },
  minilm: { layers: 6, hidden: 384, heads: 12, intermediate: 1536 },
  'qwen3-like': { layers: 4, hidden: 256, heads: 16, intermediate: 768 },
  /** With the `mlm` kind: a SPLADE graph, BERT's vocabulary of logits per token. */
  'splade-like': { layers: 2, hidden: 64, heads: 4, intermediate: 128, vocab: 30522 },
};
const [tokenList = '512,2048', shapeName = 'small', kindList = 'encoder,decoder,decoder-fp16,decoder-q4'] = process.argv.slice(2);
const lengths = tokenList.split(',').map(Number);
const baseShape = SHAPES[shapeName as keyof typeof SHAPES];
if (!baseShape) throw new Error(`shape ${shapeName} is not one of ${Object.keys(SHAPES).join(', ')}`);
const dir = await mkdtemp(join(tmpdir(), 'run-peak-'));
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
console.log(`| graph | layers × hidden, heads | tokens | arena | measured peak MB | kept after MB | estimate MB | estimate / measured |`);
console.log(`|---|---|---|---|---|---|---|---|`);
try {
  for (const kind of kindList.split(',') as GraphKind[]) {
    const shape = { ...baseShape, maxPositions: Math.max(...lengths) };
    const model = await writeRunPeakModel(dir, kind, shape);
    for (const tokens of lengths) {
      for (const arena of [true, false]) {
        const { peakBytes, keptBytes, estimateBytes } = await peakAndEstimate(model, arena, tokens);
        console.log(
          `| ${kind} | ${shape.layers} × ${shape.hidden}, ${shape.heads} | ${tokens} | ${arena ? 'on' : 'off'} | ${mb(peakBytes)} | ${mb(keptBytes)} | ${mb(estimateBytes)} | ${(estimateBytes / peakBytes).toFixed(2)} |`,
        );
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
