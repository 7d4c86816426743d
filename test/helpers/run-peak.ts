/**
 * A run's measured peak memory (in a process of its own: run-peak-child.ts) beside the plan's
 * estimate of it, for generated models of the shapes the server meets: an encoder (BERT), and
 * decoders as onnx-community exports them (causal attention, an empty key/value past and
 * `present.N.*` outputs; fp32, fp16 outputs and past, 4-bit MatMulNBits weights), an MLM (SPLADE),
 * and bge-m3 as published (its colbert_linear run on the token states after the graph).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readJson } from '../../src/inference/files/config-json.ts';
import { runPeakBytes, runShapeOf } from '../../src/batching/run-peak.ts';
import type { BertShape } from './bert-onnx.ts';
import { writeBgeM3Fixture } from './bge-m3-fixture.ts';
import { writeFixtureModel, type FixtureOptions } from './fixture-model.ts';
import { writeSparseModel } from './sparse-fixture.ts';

export type GraphKind = 'encoder' | 'decoder' | 'decoder-fp16' | 'decoder-q4' | 'mlm' | 'bge-m3';

const DECODER: FixtureOptions = { family: 'byte-bpe', pooling: ['lasttoken'], graph: { causal: true, past: true } };
const GRAPHS: Record<GraphKind, FixtureOptions> = {
  encoder: {},
  decoder: DECODER,
  'decoder-fp16': { ...DECODER, graph: { causal: true, past: true, fp16: true } },
  'decoder-q4': { ...DECODER, int4: true },
  mlm: {},
  'bge-m3': {},
};

/**
 * Writes a model of `kind` and `shape` under `dir` (bge-m3's colbert_linear `colbertWidth` wide, default the hidden
 * width); returns its graph and the run shape the plan gives it.
 */
export async function writeRunPeakModel(dir: string, kind: GraphKind, shape: Partial<BertShape>, options: { colbertWidth?: number } = {}) {
  const repo = `${kind}-${shape.heads}h`;
  // An MLM (SPLADE) graph: its one output is the vocabulary-wide logits.
  if (kind === 'mlm') await writeSparseModel(dir, repo, { layout: 'st5', shape });
  else if (kind === 'bge-m3') await writeBgeM3Fixture(dir, repo, { layout: 'files', shape, colbertWidth: options.colbertWidth, maxSeqLength: shape.maxPositions });
  else await writeFixtureModel(dir, repo, { ...GRAPHS[kind], shape });
  const config = (await readJson(join(dir, repo, 'config.json')))!;
  const runShape = runShapeOf(config, config.hidden_size as number);
  const extras = kind === 'mlm' ? { logitsWidth: config.vocab_size as number } : kind === 'bge-m3' ? { projectionWidth: options.colbertWidth ?? (config.hidden_size as number) } : {};
  return { onnxPath: join(dir, repo, 'onnx/model.onnx'), runShape: { ...runShape, ...extras } };
}

/**
 * The lengths a worker that serves inputs up to `tokens` runs before its memory settles: with the
 * arena, a length's second run takes more than its first (its memory pattern, one block).
 */
export const settlingLengths = (tokens: number) => [tokens / 2, tokens, (3 * tokens) / 4, tokens].map(Math.round);

/**
 * The peak above the memory before, and what stayed after, of running `lengths` (one input each) in a fresh process:
 * an MLM's as SPLADE runs it (`spladeVocab`), token states through a projection (`projectionWidth`) as bge-m3's ColBERT head.
 */
export async function measureRunPeak(
  onnxPath: string,
  memoryArena: boolean,
  lengths: number[],
  extras: { spladeVocab?: number; projectionWidth?: number } = {},
): Promise<{ peakBytes: number; keptBytes: number }> {
  const child = new URL('./run-peak-child.ts', import.meta.url).pathname;
  const { spladeVocab, projectionWidth } = extras;
  const args = [child, onnxPath, memoryArena ? 'on' : 'off', lengths.join(','), ...(spladeVocab ? [`splade=${spladeVocab}`] : []), ...(projectionWidth ? [`projection=${projectionWidth}`] : [])];
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as { peakBytes: number; keptBytes: number };
}

/** The measured peak of settling at `tokens`, and the plan's estimate for one input of that length. */
export async function peakAndEstimate(model: Awaited<ReturnType<typeof writeRunPeakModel>>, memoryArena: boolean, tokens: number) {
  const measured = await measureRunPeak(model.onnxPath, memoryArena, settlingLengths(tokens), { spladeVocab: model.runShape.logitsWidth, projectionWidth: model.runShape.projectionWidth });
  return { ...measured, estimateBytes: runPeakBytes(model.runShape, 1, tokens, memoryArena) };
}
