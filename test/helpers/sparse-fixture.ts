/**
 * Sparse (SPLADE) model repos as sentence-transformers ≥ 5 saves them, on the fixture BERT with a
 * masked-language head tied to its word embeddings: MLMTransformer + SpladePooling; an
 * inference-free Router (query: SparseStaticEmbedding, document: MLMTransformer + SpladePooling,
 * the MLM at the root or in its module folder); a classic SPLADE repo (…ForMaskedLM, no
 * sentence-transformers files). And SparseEncoder.encode's values in float64 from the same weights.
 */
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BertShape, BertWeights, Matrix, MlmHeadWeights } from './bert-onnx.ts';
import { layerNorm, linear, referenceErf, referenceForward } from './bert-reference.ts';
import { safetensors, writeFixtureModel } from './fixture-model.ts';

export type SparseFixtureLayout = 'st5' | 'classic' | 'router' | 'router-in-folder';

export interface SparseFixtureOptions {
  layout: SparseFixtureLayout;
  pooling?: 'max' | 'sum';
  activation?: 'relu' | 'log1p_relu';
  /** Module type names as sentence-transformers ≥ 5.4 writes them (sentence_transformers.sparse_encoder.modules…). */
  st54?: boolean;
  /** router_config.json's default_route (document by default, as Router.for_query_document). */
  defaultRoute?: 'query' | 'document';
  seed?: number;
  /** sentence_bert_config.json's max_seq_length. */
  maxSeqLength?: number;
  /** The BERT's shape (the fixture's small one, 128 tokens of vocabulary, by default). */
  shape?: Partial<BertShape>;
}

export interface SparseFixture {
  dir: string;
  weights: BertWeights;
  head: MlmHeadWeights;
  vocabulary: string[];
  /** The query side's weight per vocabulary entry (Router layouts). */
  staticWeights: Float32Array | undefined;
  /** Where the graph lies inside the repo (models.txt's onnx=). */
  onnxPath: string;
  /** The folder of the MLM's tokenizer.json. */
  tokenizerDir: string;
}

function mlmHeadWeights(hidden: number, vocab: number, seed: number): MlmHeadWeights {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const values = (n: number, spread: number, center = 0) => Float32Array.from({ length: n }, () => center + random() * spread);
  const transform: Matrix = { rows: hidden, cols: hidden, data: values(hidden * hidden, Math.sqrt(3 / hidden)) };
  // A negative bias makes most logits negative, so that most of the vocabulary weighs 0, as in SPLADE.
  return { transform, transformBias: values(hidden, 0.1), normScale: values(hidden, 0.2, 1), normBias: values(hidden, 0.1), decoderBias: values(vocab, 1, -3) };
}

export async function writeSparseModel(artifactsDir: string, repo: string, options: SparseFixtureOptions): Promise<SparseFixture> {
  const seed = options.seed ?? 11;
  const shape = { vocab: 128, hidden: 32, seed, ...options.shape };
  const head = mlmHeadWeights(shape.hidden, shape.vocab, seed + 5);
  const model = await writeFixtureModel(artifactsDir, repo, { shape, graph: { mlmHead: head }, maxSeqLength: options.maxSeqLength ?? 24 });
  const { dir } = model;
  const write = async (path: string, content: string | Uint8Array) => {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  };
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  await write('config.json', JSON.stringify({ ...config, architectures: ['BertForMaskedLM'] }));
  await rm(join(dir, '1_Pooling'), { recursive: true, force: true });
  await rm(join(dir, 'modules.json'));
  const type = (kind: string) => (options.st54 ? `sentence_transformers.sparse_encoder.modules.${kind}` : `sentence_transformers.sparse_encoder.models.${kind}`);
  const splade = JSON.stringify({ pooling_strategy: options.pooling ?? 'max', activation_function: options.activation ?? 'relu', word_embedding_dimension: shape.vocab });
  let staticWeights: Float32Array | undefined;
  let onnxPath = 'onnx/model.onnx';
  let tokenizerDir = dir;
  if (options.layout === 'st5') {
    await write('modules.json', JSON.stringify([
      { idx: 0, name: '0', path: '', type: type('MLMTransformer') },
      { idx: 1, name: '1', path: '1_SpladePooling', type: type('SpladePooling') },
    ]));
    await write('1_SpladePooling/config.json', splade);
    await write('config_sentence_transformers.json', JSON.stringify({ model_type: 'SparseEncoder', prompts: { query: '', document: '' }, default_prompt_name: null, similarity_fn_name: 'dot' }));
  }
  if (options.layout === 'router' || options.layout === 'router-in-folder') {
    let state = seed + 9;
    const random = () => (state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    // An IDF-like weight per token; special tokens and a few others weigh 0, as in the published files.
    staticWeights = Float32Array.from({ length: shape.vocab }, (_, id) => (id < 5 || id % 7 === 0 ? 0 : 0.5 + 4 * random()));
    const query = 'query_0_SparseStaticEmbedding';
    const documentModule = 'document_0_MLMTransformer';
    await write('modules.json', JSON.stringify([{ idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Router' }]));
    await write('router_config.json', JSON.stringify({
      types: { [query]: type('SparseStaticEmbedding'), [documentModule]: type('MLMTransformer'), document_1_SpladePooling: type('SpladePooling') },
      structure: { query: [query], document: [documentModule, 'document_1_SpladePooling'] },
      parameters: { default_route: options.defaultRoute ?? 'document', allow_empty_key: true },
    }));
    await write(`${query}/config.json`, JSON.stringify({ frozen: true }));
    await write(`${query}/model.safetensors`, safetensors({ weight: { shape: [shape.vocab], data: staticWeights } }));
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) await cp(join(dir, file), join(dir, query, file));
    await write('document_1_SpladePooling/config.json', splade);
    if (options.layout === 'router-in-folder') {
      // The layout Router.save writes: the MLM's configs, tokenizer and graph in its module folder, none at the root.
      await mkdir(join(dir, documentModule), { recursive: true });
      for (const file of ['config.json', 'sentence_bert_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'onnx']) {
        await cp(join(dir, file), join(dir, documentModule, file), { recursive: true });
        await rm(join(dir, file), { recursive: true });
      }
      onnxPath = `${documentModule}/onnx/model.onnx`;
      tokenizerDir = join(dir, documentModule);
    }
  }
  if (options.layout === 'classic') await rm(join(dir, 'sentence_bert_config.json'));
  return { dir, weights: model.weights, head, vocabulary: model.vocabulary, staticWeights, onnxPath, tokenizerDir };
}

/** One text's MLM logits (float64), [tokens][vocab]. */
export function referenceLogits(fixture: Pick<SparseFixture, 'weights' | 'head'>, ids: number[]): Float64Array[] {
  const { weights, head } = fixture;
  const gelu = (u: number) => 0.5 * u * (1 + referenceErf(u / Math.SQRT2));
  const transformed = layerNorm(linear(referenceForward(weights, ids), head.transform, head.transformBias).map((vector) => vector.map(gelu)), head.normScale, head.normBias);
  const { rows: vocab, cols: hidden, data } = weights.wordEmbeddings;
  return transformed.map((vector) => {
    const logits = Float64Array.from(head.decoderBias);
    for (let v = 0; v < vocab; v++) for (let i = 0; i < hidden; i++) logits[v]! += vector[i]! * data[v * hidden + i]!;
    return logits;
  });
}

/** SparseEncoder.encode on the document (MLM) side, in float64: SpladePooling, then max_active_dims; non-zeros by id. */
export function referenceSplade(
  fixture: Pick<SparseFixture, 'weights' | 'head'>,
  ids: number[],
  options: { pooling?: 'max' | 'sum'; activation?: 'relu' | 'log1p_relu'; maxActiveDims?: number } = {},
): { indices: number[]; values: number[] } {
  const transform = (x: number) => {
    const once = Math.log1p(Math.max(0, x));
    return options.activation === 'log1p_relu' ? Math.log1p(once) : once;
  };
  const logits = referenceLogits(fixture, ids);
  const pooled = logits[0]!.map((_, v) => {
    const weights = logits.map((token) => transform(token[v]!));
    return options.pooling === 'sum' ? weights.reduce((a, b) => a + b, 0) : Math.max(...weights);
  });
  return topNonZeros(pooled, options.maxActiveDims);
}

/** SparseStaticEmbedding: each distinct token (no special tokens) × its weight. */
export function referenceStatic(staticWeights: Float32Array, contentIds: number[], maxActiveDims?: number): { indices: number[]; values: number[] } {
  const dense = new Float64Array(staticWeights.length);
  for (const id of contentIds) dense[id] = staticWeights[id]!;
  return topNonZeros(dense, maxActiveDims);
}

function topNonZeros(dense: Float64Array, k: number | undefined) {
  let order = [...dense.keys()].filter((v) => dense[v] !== 0);
  if (k !== undefined && order.length > k) order = order.sort((a, b) => Math.abs(dense[b]!) - Math.abs(dense[a]!)).slice(0, k).sort((a, b) => a - b);
  return { indices: order, values: order.map((v) => dense[v]!) };
}

/**
 * The same non-zero ids, and each weight within 1e-5 of the reference's: relative for weights of 1 and
 * more, absolute below (a float32 forward pass is off by ~1e-6 in every logit, which is 3e-5 of a weight of 0.045).
 */
export function assertSparseEqual(actual: { indices: ArrayLike<number>; values: ArrayLike<number> }, reference: { indices: number[]; values: number[] }, what: string) {
  assert.deepEqual(Array.from(actual.indices), reference.indices, `${what}: the non-zero token ids`);
  Array.from(actual.values).forEach((value, k) => {
    const expected = reference.values[k]!;
    assert.ok(Math.abs(value - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${what}, token ${reference.indices[k]}: ${value} vs ${expected}`);
  });
}

