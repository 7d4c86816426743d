/**
 * Whether a repo is bge-m3 (dense + sparse + ColBERT from one forward pass, as FlagEmbedding's
 * BGEM3FlagModel computes them), and where its heads come from:
 * - as published (BAAI/bge-m3): the graph gives token states, and the heads are the repo's
 *   `sparse_linear.pt` (Linear(hidden, 1)) and `colbert_linear.pt` (Linear(hidden, width)), torch.save
 *   files (or those converted to `.safetensors`, read in their place);
 * - an all-in-one export: the graph itself outputs `dense_vecs` [batch, width], `sparse_vecs`
 *   (or `sparse_weights`) [batch, tokens, 1] (each token's relu'd weight) and `colbert_vecs`
 *   [batch, tokens − 1, width] (the tokens after CLS, masked, normalised).
 * The sparse output leaves out the tokens FlagEmbedding drops: the cls, eos, pad and unk tokens of the
 * tokenizer's special tokens map.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { HeadSpec } from '../heads/head-spec.ts';
import { readJson, type Json } from './config-json.ts';
import { graphOutputsOf, type GraphOutput } from './onnx-graph-outputs.ts';
import { readSafetensorsLayout, readSafetensorsTensors, type Tensor } from './safetensors.ts';
import { convertedPath, readTorchStateDict } from './torch-state-dict.ts';

export const BGE_M3_OUTPUTS = ['dense', 'sparse', 'colbert'] as const;
export type BgeM3Output = (typeof BGE_M3_OUTPUTS)[number];
/** Each output's head, by its index among the description's heads (bgeM3HeadSpecs' order). */
export const BGE_M3_HEAD_INDEX: Record<BgeM3Output, number> = { dense: 0, sparse: 1, colbert: 2 };

/** The all-in-one export's output names (the sparse one as two exporters spell it). */
export const GRAPH_HEAD_OUTPUTS = { dense: ['dense_vecs'], sparse: ['sparse_vecs', 'sparse_weights'], colbert: ['colbert_vecs'] } as const;

export interface BgeM3Heads {
  /** `files`: the heads run on the graph's token states; `graph`: the graph outputs the three itself, under `graphOutputs`' names. */
  source: 'files' | 'graph';
  graphOutputs: Record<BgeM3Output, string> | undefined;
  /** The heads' files (a `.pt`, or its `.safetensors` conversion), with `source: 'files'`. */
  sparseFile: string | undefined;
  colbertFile: string | undefined;
  /** A ColBERT vector's width. */
  colbertWidth: number;
  /** Token ids the sparse output leaves out: the cls, eos, pad and unk tokens. */
  droppedTokenIds: number[];
}

/** A head's Linear as the worker runs it: `weight` [out, in] (torch's layout), `bias` [out]. */
export interface Linear {
  weight: Float32Array;
  bias: Float32Array;
}

const exists = (path: string) => access(path).then(() => true, () => false);
const HEAD_FILES = { sparse: 'sparse_linear', colbert: 'colbert_linear' } as const;

/** A head's file: its safetensors conversion when there is one, else the `.pt`, else undefined. */
async function headFile(dir: string, stem: string): Promise<string | undefined> {
  const pt = join(dir, `${stem}.pt`);
  if (await exists(convertedPath(pt))) return convertedPath(pt);
  return (await exists(pt)) ? pt : undefined;
}

const readHead = async (path: string): Promise<Map<string, Tensor>> =>
  path.endsWith('.safetensors') ? readSafetensorsTensors(path, [...(await readSafetensorsLayout(path)).keys()]) : readTorchStateDict(path);

/** A Linear's weight and bias from a head file, checked against the widths it must have (`outFeatures`: any when undefined). */
async function readLinear(path: string, inFeatures: number, outFeatures: number | undefined): Promise<{ linear: Linear; outFeatures: number }> {
  const tensors = await readHead(path);
  const weight = tensors.get('weight');
  const bias = tensors.get('bias');
  if (!weight || !bias) throw new Error(`${path} holds ${[...tensors.keys()].join(', ') || 'nothing'}; a Linear's state dict holds weight and bias`);
  const out = outFeatures ?? weight.shape[0]!;
  if (weight.shape.length !== 2 || weight.shape[1] !== inFeatures || weight.shape[0] !== out || bias.shape.join() !== String(out)) {
    throw new Error(`${path}: weight ${weight.shape.join('x')} and bias ${bias.shape.join('x')} are not a Linear from the token width ${inFeatures}${outFeatures ? ` to ${outFeatures}` : ''}`);
  }
  return { linear: { weight: weight.data, bias: bias.data }, outFeatures: out };
}

/** A head's Linear from its file, for the inference worker (the description checked it at start). */
export async function loadHeadLinear(path: string, inFeatures: number, outFeatures: number): Promise<Linear> {
  return (await readLinear(path, inFeatures, outFeatures)).linear;
}

/** A special token as the tokenizer configs write it: a string, or an object with its content. */
const content = (token: unknown): string | undefined =>
  typeof token === 'string' ? token : typeof token === 'object' && token !== null && typeof (token as Json).content === 'string' ? ((token as Json).content as string) : undefined;

/** The ids of the cls, eos, pad and unk tokens the tokenizer's special tokens map names (special_tokens_map.json, else tokenizer_config.json). */
async function droppedTokenIds(dir: string): Promise<number[]> {
  const map = (await readJson(join(dir, 'special_tokens_map.json'))) ?? (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const tokenizer = (await readJson(join(dir, 'tokenizer.json'))) ?? {};
  const added = new Map(((tokenizer.added_tokens as { id: number; content: string }[] | undefined) ?? []).map((token) => [token.content, token.id]));
  const vocab = (tokenizer.model as Json | undefined)?.vocab;
  const idOf = (token: string): number | undefined => {
    if (added.has(token)) return added.get(token);
    if (Array.isArray(vocab)) {
      const index = vocab.findIndex((entry) => Array.isArray(entry) && entry[0] === token);
      return index >= 0 ? index : undefined;
    }
    return typeof vocab === 'object' && vocab !== null && typeof (vocab as Json)[token] === 'number' ? ((vocab as Json)[token] as number) : undefined;
  };
  const ids = new Set<number>();
  for (const key of ['cls_token', 'eos_token', 'pad_token', 'unk_token']) {
    const token = content(map[key]);
    const id = token === undefined ? undefined : idOf(token);
    if (id !== undefined) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}

/** The all-in-one export's three outputs, when the graph has them all. */
function graphHeads(outputs: GraphOutput[]): Record<BgeM3Output, GraphOutput> | undefined {
  const find = (names: readonly string[]) => outputs.find((output) => names.includes(output.name));
  const dense = find(GRAPH_HEAD_OUTPUTS.dense);
  const sparse = find(GRAPH_HEAD_OUTPUTS.sparse);
  const colbert = find(GRAPH_HEAD_OUTPUTS.colbert);
  return dense && sparse && colbert ? { dense, sparse, colbert } : undefined;
}

/** bge-m3's heads in `dir` (or its graph `onnxFile`), or undefined when the repo is not bge-m3. */
export async function readBgeM3Heads(dir: string, onnxFile: string, hidden: number): Promise<BgeM3Heads | undefined> {
  const inGraph = graphHeads(graphOutputsOf(onnxFile));
  if (inGraph) {
    const { dense, sparse, colbert } = inGraph;
    if (dense.dims.length !== 2 || sparse.dims.length !== 3 || (sparse.dims[2] !== undefined && sparse.dims[2] !== 1) || colbert.dims.length !== 3) {
      const shapes = [dense, sparse, colbert].map(({ name, dims }) => `${name} [${dims.map((dim) => dim ?? '?').join(', ')}]`).join(', ');
      throw new Error(`its graph outputs ${shapes}; an all-in-one bge-m3 export outputs [batch, width], [batch, tokens, 1] (each token's weight) and [batch, tokens - 1, width]`);
    }
    const width = colbert.dims[2];
    return {
      source: 'graph',
      graphOutputs: { dense: dense.name, sparse: sparse.name, colbert: colbert.name },
      sparseFile: undefined,
      colbertFile: undefined,
      colbertWidth: typeof width === 'number' && width > 0 ? width : hidden,
      droppedTokenIds: await droppedTokenIds(dir),
    };
  }
  const sparseFile = await headFile(dir, HEAD_FILES.sparse);
  const colbertFile = await headFile(dir, HEAD_FILES.colbert);
  if (!sparseFile && !colbertFile) return undefined;
  if (!sparseFile || !colbertFile) {
    const missing = sparseFile ? HEAD_FILES.colbert : HEAD_FILES.sparse;
    throw new Error(`it has bge-m3's ${sparseFile ? HEAD_FILES.sparse : HEAD_FILES.colbert} head but not ${join(dir, `${missing}.pt`)}: fetch it with \`npm run download\``);
  }
  const heads: BgeM3Heads = { source: 'files', graphOutputs: undefined, sparseFile, colbertFile, colbertWidth: 0, droppedTokenIds: await droppedTokenIds(dir) };
  // Read once here, so that a file the workers could not read fails the start with its message.
  heads.colbertWidth = (await readLinear(colbertFile, hidden, undefined)).outFeatures;
  await readLinear(sparseFile, hidden, 1);
  return heads;
}

/**
 * The three heads, in BGE_M3_HEAD_INDEX's order. Dense is FlagEmbedding's: the CLS token's state, normalised,
 * whatever Pooling the sentence-transformers config names (an all-in-one export has none).
 */
export function bgeM3HeadSpecs(heads: BgeM3Heads, hidden: number): HeadSpec[] {
  const { graphOutputs } = heads;
  return [
    { kind: 'pooled', poolingModes: ['cls'], dense: [], normalize: true, unrunnable: undefined, dimensions: hidden, vectorOutput: graphOutputs?.dense },
    { kind: 'sparse', method: 'bge-m3', weightsFile: heads.sparseFile, graphOutput: graphOutputs?.sparse, hidden, droppedTokenIds: heads.droppedTokenIds },
    { kind: 'token-vectors', method: 'bge-m3', width: heads.colbertWidth, weightsFile: heads.colbertFile, graphOutput: graphOutputs?.colbert, hidden },
  ];
}
