/**
 * Independent references the tests compare the server against: the Rust
 * `tokenizers` library for token ids, and a float64 forward pass plus
 * sentence-transformers' pooling and normalisation for vectors.
 */
import rustTokenizers from '@anush008/tokenizers';
import { join } from 'node:path';
import type { PoolingMode } from '../../src/inference/heads/pooling.ts';
import type { BertWeights } from './bert-onnx.ts';
import { referenceErf, referenceForward } from './bert-reference.ts';
import type { DenseWeights } from './fixture-model.ts';

/** Code points Python's str.isspace() accepts. */
const PYTHON_SPACES = new Set([0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
for (let c = 0x2000; c <= 0x200a; c++) PYTHON_SPACES.add(c);

function pythonStrip(text: string): string {
  const isSpace = (index: number) => PYTHON_SPACES.has(text.codePointAt(index)!);
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(start)) start++;
  while (end > start && isSpace(end - 1)) end--;
  return text.slice(start, end);
}

/**
 * Token ids as sentence-transformers gets them: the text stripped (and
 * lowercased when do_lower_case), then tokenizer.json with padding off and
 * truncation at max_seq_length (keeping the text's start, or with `left` its end).
 */
export function rustTokenizer(modelDir: string, maxTokens: number, lowercase = false, direction: 'right' | 'left' = 'right'): (text: string) => Promise<number[]> {
  const tokenizer = rustTokenizers.Tokenizer.fromFile(join(modelDir, 'tokenizer.json'));
  tokenizer.disablePadding();
  tokenizer.setTruncation(maxTokens, { direction });
  return async (text) => {
    const stripped = pythonStrip(text);
    return (await tokenizer.encode(lowercase ? stripped.toLowerCase() : stripped)).getIds();
  };
}

/** sentence-transformers' Pooling over the attention mask; `masked` leading tokens have mask 0 (a prompt with include_prompt false). */
function pool(tokens: Float64Array[], mode: PoolingMode, masked = 0): number[] {
  const width = tokens[0]!.length;
  const mask = tokens.map((_, t) => (t < masked ? 0 : 1));
  const column = (d: number) => tokens.map((vector) => vector[d]!);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return Array.from({ length: width }, (_, d) => {
    switch (mode) {
      case 'cls':
        return tokens[0]![d]!;
      case 'lasttoken':
        return tokens.at(-1)![d]!;
      case 'max':
        return Math.max(...column(d).map((x, t) => (mask[t] ? x : -1e9)));
      case 'mean':
        return sum(column(d).map((x, t) => x * mask[t]!)) / sum(mask);
      case 'mean_sqrt_len':
        return sum(column(d).map((x, t) => x * mask[t]!)) / Math.sqrt(sum(mask));
      case 'weightedmean':
        return sum(column(d).map((x, t) => x * (t + 1) * mask[t]!)) / sum(mask.map((m, t) => m * (t + 1)));
    }
  });
}

const MODE_ORDER: PoolingMode[] = ['cls', 'max', 'mean', 'mean_sqrt_len', 'weightedmean', 'lasttoken'];

const ACTIVATIONS: Record<DenseWeights['activation'], (x: number) => number> = {
  Tanh: Math.tanh,
  Identity: (x) => x,
  ReLU: (x) => Math.max(0, x),
  GELU: (x) => 0.5 * x * (1 + referenceErf(x / Math.SQRT2)),
};

/** sentence-transformers' Dense: activation(x W + b), in float64. */
export function dense(vector: number[], layer: DenseWeights): number[] {
  const { rows, cols, data } = layer.weight;
  return Array.from({ length: cols }, (_, o) => {
    let sum = layer.bias ? layer.bias[o]! : 0;
    for (let i = 0; i < rows; i++) sum += vector[i]! * data[i * cols + o]!;
    return ACTIVATIONS[layer.activation](sum);
  });
}

interface HeadOptions {
  pooling: PoolingMode[];
  normalize: boolean;
  dimensions?: number;
  /** Dense layers after the pooling. */
  dense?: DenseWeights[];
  /** Pooling modes concatenate in the config's order (sentence-transformers ≥ 5.4), not the classic fixed one. */
  inGivenOrder?: boolean;
}

/** Pooling, Dense, truncation to `dimensions` and normalisation of some token vectors. */
function pooledVector(tokens: Float64Array[], options: HeadOptions, maskedPromptTokens?: number): number[] {
  const modes = options.inGivenOrder ? options.pooling : MODE_ORDER.filter((mode) => options.pooling.includes(mode));
  let vector = modes.flatMap((mode) => pool(tokens, mode, maskedPromptTokens));
  for (const layer of options.dense ?? []) vector = dense(vector, layer);
  const kept = vector.slice(0, options.dimensions ?? vector.length);
  if (!options.normalize) return kept;
  const norm = Math.sqrt(kept.reduce((a, x) => a + x * x, 0));
  return kept.map((x) => x / norm);
}

export function referenceEmbedding(
  weights: BertWeights,
  ids: number[],
  options: HeadOptions & {
    maskedPromptTokens?: number;
    /** A decoder's causal attention. */
    causal?: boolean;
  },
): number[] {
  return pooledVector(referenceForward(weights, ids, options.causal), options, options.maskedPromptTokens);
}

/**
 * Late chunking (Jina's definition): one forward pass over the whole sequence, then each span's token vectors
 * ([start, end) of `ids`) pooled on their own.
 */
export function referenceLateChunks(weights: BertWeights, ids: number[], spans: [number, number][], options: HeadOptions): number[][] {
  const tokens = referenceForward(weights, ids);
  return spans.map(([start, end]) => pooledVector(tokens.slice(start, end), options));
}
