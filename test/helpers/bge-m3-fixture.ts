/**
 * Generated bge-m3 snapshots: an XLM-R tokenizer (SentencePiece Unigram, <s> … </s>) over a small
 * generated encoder, laid out as BAAI/bge-m3 is published (CLS Pooling and Normalize modules,
 * special_tokens_map.json, and the heads as torch.save'd float16 `sparse_linear.pt` and
 * `colbert_linear.pt`), or as an all-in-one export whose graph outputs dense_vecs, sparse_vecs and
 * colbert_vecs itself. Then a float64 reference of what BGEM3FlagModel.encode returns.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BertShape, BertWeights, Matrix } from './bert-onnx.ts';
import { referenceForward } from './bert-reference.ts';
import { writeFixtureModel, type FixtureOptions } from './fixture-model.ts';
import { asHalf, torchSaveBytes } from './torch-pt.ts';

/** The unigram fixture tokenizer's special tokens: <s> 0, <pad> 1, </s> 2, <unk> 3 (and <mask>, which bge-m3 keeps). */
export const DROPPED_IDS = [0, 1, 2, 3];

export interface BgeM3Fixture {
  dir: string;
  weights: BertWeights;
  /** The heads as the model holds them ([out, in], as torch's Linear; float16-rounded for `.pt` heads). */
  sparseWeight: Float32Array;
  sparseBias: number;
  colbertWeight: Float32Array;
  colbertBias: Float32Array;
  colbertWidth: number;
}

export interface BgeM3FixtureOptions {
  /** `files`: published, heads in `.pt` files; `graph`: an all-in-one export. */
  layout: 'files' | 'graph';
  /** The all-in-one export's name for the sparse output (exporters write sparse_vecs or sparse_weights). */
  sparseName?: string;
  /** A ColBERT width other than the token width (FlagEmbedding's colbert_dim). */
  colbertWidth?: number;
  shape?: Partial<BertShape>;
  maxSeqLength?: number;
}

function seeded(seed: number): () => number {
  let state = seed;
  return () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
}

/** [out, in] → [in, out], the graph's MatMul layout. */
function forGraph(weight: Float32Array, out: number, inFeatures: number): Matrix {
  const data = new Float32Array(weight.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inFeatures; i++) data[i * out + o] = weight[o * inFeatures + i]!;
  return { rows: inFeatures, cols: out, data };
}

export async function writeBgeM3Fixture(artifactsDir: string, repo: string, options: BgeM3FixtureOptions): Promise<BgeM3Fixture> {
  const shape = { layers: 2, hidden: 32, heads: 4, ...options.shape };
  const hidden = shape.hidden;
  const colbertWidth = options.colbertWidth ?? hidden;
  const random = seeded(29);
  // Half the tokens with a negative sparse logit, so that relu drops some.
  const raw = {
    sparseWeight: Float32Array.from({ length: hidden }, () => random() / Math.sqrt(hidden)),
    sparseBias: 0.05,
    colbertWeight: Float32Array.from({ length: colbertWidth * hidden }, () => random() / Math.sqrt(hidden)),
    colbertBias: Float32Array.from({ length: colbertWidth }, () => random() * 0.1),
  };
  // The published heads are float16; the reference uses the values the files hold.
  const held = options.layout === 'files'
    ? { sparseWeight: asHalf(raw.sparseWeight), sparseBias: asHalf(Float32Array.of(raw.sparseBias))[0]!, colbertWeight: asHalf(raw.colbertWeight), colbertBias: asHalf(raw.colbertBias) }
    : raw;
  const fixtureOptions: FixtureOptions = {
    family: 'unigram',
    shape,
    pooling: ['cls'],
    normalize: true,
    maxSeqLength: options.maxSeqLength ?? 24,
    graph:
      options.layout === 'graph'
        ? {
            bgeM3: {
              sparse: forGraph(held.sparseWeight, 1, hidden),
              sparseBias: Float32Array.of(held.sparseBias),
              colbert: forGraph(held.colbertWeight, colbertWidth, hidden),
              colbertBias: held.colbertBias,
              sparseName: options.sparseName,
            },
          }
        : undefined,
  };
  const model = await writeFixtureModel(artifactsDir, repo, fixtureOptions);
  const specials = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', sep_token: '</s>', pad_token: '<pad>', cls_token: '<s>', mask_token: '<mask>' };
  await writeFile(join(model.dir, 'special_tokens_map.json'), JSON.stringify(Object.fromEntries(Object.entries(specials).map(([key, content]) => [key, { content, lstrip: key === 'mask_token', normalized: false, rstrip: false, single_word: false }]))));
  if (options.layout === 'files') {
    await writeFile(join(model.dir, 'sparse_linear.pt'), torchSaveBytes({ weight: { shape: [1, hidden], data: raw.sparseWeight, half: true }, bias: { shape: [1], data: Float32Array.of(raw.sparseBias), half: true } }, 'sparse_linear'));
    await writeFile(join(model.dir, 'colbert_linear.pt'), torchSaveBytes({ weight: { shape: [colbertWidth, hidden], data: raw.colbertWeight, half: true }, bias: { shape: [colbertWidth], data: raw.colbertBias, half: true } }, 'colbert_linear'));
  } else {
    // All-in-one exports ship no sentence-transformers modules and no heads files.
    for (const file of ['modules.json', '1_Pooling']) await rm(join(model.dir, file), { recursive: true });
  }
  return { dir: model.dir, weights: model.weights, ...held, colbertWidth };
}

export interface BgeM3Reference {
  dense: number[];
  /** Ascending token ids and their weights. */
  sparse: { indices: number[]; values: number[] };
  colbert: number[][];
}

const normalized = (vector: number[]) => {
  const norm = Math.max(Math.sqrt(vector.reduce((a, x) => a + x * x, 0)), 1e-12);
  return vector.map((x) => x / norm);
};

/** What BGEM3FlagModel.encode(return_dense, return_sparse, return_colbert_vecs) gives for one text's ids, in float64. */
export function referenceBgeM3(fixture: BgeM3Fixture, ids: number[]): BgeM3Reference {
  const hidden = fixture.weights.shape.hidden;
  const states = referenceForward(fixture.weights, ids);
  const best = new Map<number, number>();
  states.forEach((state, t) => {
    if (DROPPED_IDS.includes(ids[t]!)) return;
    let logit = fixture.sparseBias;
    for (let i = 0; i < hidden; i++) logit += fixture.sparseWeight[i]! * state[i]!;
    const weight = Math.max(0, logit);
    if (weight > 0 && weight > (best.get(ids[t]!) ?? 0)) best.set(ids[t]!, weight);
  });
  const indices = [...best.keys()].sort((a, b) => a - b);
  const colbert = states.slice(1).map((state) =>
    normalized(
      Array.from({ length: fixture.colbertWidth }, (_, o) => {
        let sum = fixture.colbertBias[o]!;
        for (let i = 0; i < hidden; i++) sum += fixture.colbertWeight[o * hidden + i]! * state[i]!;
        return sum;
      }),
    ),
  );
  return { dense: normalized([...states[0]!]), sparse: { indices, values: indices.map((id) => best.get(id)!) }, colbert };
}
