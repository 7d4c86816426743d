/**
 * The sparse (SPLADE) layouts of sentence-transformers ≥ 5's SparseEncoder, from a repo's files:
 * - `MLMTransformer` + `SpladePooling` (modules.json): the graph's MLM logits pooled as SpladePooling's
 *   config says;
 * - a `Router` (router_config.json) of an inference-free model: the query side a
 *   `SparseStaticEmbedding` (a weight per vocabulary entry, in its folder's model.safetensors), the
 *   document side MLMTransformer + SpladePooling; `default_route` (else the first route) when a
 *   request names no side;
 * - a classic SPLADE repo without sentence-transformers files: a `…ForMaskedLM` whose graph outputs
 *   `logits` (decided where the graph is read), served with SpladePooling's defaults (max, relu).
 * Returns undefined for every other layout (the dense pipeline of modules.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, type Json } from './config-json.ts';
import { leavesFolder } from './folder-path.ts';
import { readSafetensorsTensors } from './safetensors.ts';
import { SPLADE_ACTIVATIONS, SPLADE_POOLING, type SpladeOptions } from '../heads/splade.ts';
import type { SparseHeadSpec } from '../heads/head-spec.ts';
import { graphOutputNames } from './onnx-external-data.ts';

export const SPARSE_SIDES = ['query', 'document'] as const;
export type SparseSide = (typeof SPARSE_SIDES)[number];

/** How one side turns a text into its sparse vector. */
export type SparseRoute =
  | ({ kind: 'splade' } & SpladeOptions)
  /** SparseStaticEmbedding: each distinct token of the text (no special tokens added) × its weight. */
  | { kind: 'static'; path: string; weightsFile: string };

export interface SparseLayout {
  query: SparseRoute;
  document: SparseRoute;
  /** The side a request that names none gets: a Router's default route; the one side of a plain model. */
  defaultSide: SparseSide;
  /** The folder, inside the model's, holding the MLM's config.json and tokenizer: '' or a Router's document module. */
  mlmPath: string;
}

export const SPLADE_DEFAULTS: SpladeOptions = { pooling: 'max', activation: 'relu' };

/** The module kinds of a sparse pipeline, by the last part of their type name in sentence-transformers' packages. */
const SPARSE_MODULE = /^sentence_transformers?\.(?:[A-Za-z_]+\.)*(MLMTransformer|SpladePooling|SparseStaticEmbedding|Router|Asym)$/;
const kindOf = (type: unknown) => (typeof type === 'string' ? SPARSE_MODULE.exec(type)?.[1] : undefined);

async function spladeOptions(dir: string, path: string): Promise<SpladeOptions> {
  const config = (await readJson(join(dir, path, 'config.json'))) ?? {};
  const pooling = config.pooling_strategy ?? SPLADE_DEFAULTS.pooling;
  const activation = config.activation_function ?? SPLADE_DEFAULTS.activation;
  if (!SPLADE_POOLING.includes(pooling as never)) throw new Error(`${path}/config.json's pooling_strategy ${JSON.stringify(pooling)} is not one of ${SPLADE_POOLING.join(', ')}`);
  if (!SPLADE_ACTIVATIONS.includes(activation as never)) {
    throw new Error(`${path}/config.json's activation_function ${JSON.stringify(activation)} is not one of ${SPLADE_ACTIVATIONS.join(', ')}`);
  }
  return { pooling, activation } as SpladeOptions;
}

/** One route's modules (folder and kind, in order) as the repo lists them. */
interface RouteModule {
  path: string;
  kind: string | undefined;
  type: string;
}

async function routeOf(dir: string, modules: RouteModule[], where: string): Promise<{ route: SparseRoute; mlmPath?: string }> {
  const kinds = modules.map((module) => module.kind ?? module.type).join(' → ');
  if (modules.length === 1 && modules[0]!.kind === 'SparseStaticEmbedding') {
    const { path } = modules[0]!;
    return { route: { kind: 'static', path, weightsFile: join(dir, path, 'model.safetensors') } };
  }
  if (modules.length === 2 && modules[0]!.kind === 'MLMTransformer' && modules[1]!.kind === 'SpladePooling') {
    return { route: { kind: 'splade', ...(await spladeOptions(dir, modules[1]!.path)) }, mlmPath: modules[0]!.path };
  }
  throw new Error(`${where} is ${kinds}; this server runs MLMTransformer → SpladePooling, or SparseStaticEmbedding alone`);
}

/** An MLM module's folder: its own when it holds the model's config.json, else the repo's root (the layout of repos converted in place). */
async function mlmFolder(dir: string, path: string): Promise<string> {
  if (path === '') return '';
  return (await readJson(join(dir, path, 'config.json'))) ? path : '';
}

async function routerLayout(dir: string, routerPath: string): Promise<SparseLayout> {
  const config = (await readJson(join(dir, routerPath, 'router_config.json'))) ?? (await readJson(join(dir, routerPath, 'config.json')));
  const types = config?.types as Json | undefined;
  const structure = config?.structure as Record<string, unknown> | undefined;
  if (!types || !structure) throw new Error(`${join(routerPath, 'router_config.json')} has no types and structure`);
  const routes = Object.keys(structure);
  const unknown = routes.filter((name) => !SPARSE_SIDES.includes(name as SparseSide));
  if (unknown.length > 0 || routes.length === 0) throw new Error(`the Router's routes are ${routes.join(', ') || 'none'}; this server serves the routes query and document`);
  const parameters = (config!.parameters as Json | undefined) ?? {};
  const defaultSide = (parameters.default_route ?? (parameters.allow_empty_key === false ? undefined : routes[0])) as SparseSide | undefined;
  if (defaultSide === undefined || !routes.includes(defaultSide)) throw new Error(`the Router's default_route ${JSON.stringify(parameters.default_route)} is not one of its routes`);
  const found: Partial<Record<SparseSide, { route: SparseRoute; mlmPath?: string }>> = {};
  for (const side of routes as SparseSide[]) {
    const ids = structure[side];
    if (!Array.isArray(ids) || ids.length === 0) throw new Error(`the Router's ${side} route lists no modules`);
    const modules = ids.map((id) => {
      if (typeof id !== 'string' || typeof types[id] !== 'string') throw new Error(`the Router's ${side} route names ${JSON.stringify(id)}, which its types do not`);
      const path = join(routerPath, id);
      if (leavesFolder(path)) throw new Error(`the Router's module ${JSON.stringify(id)} leaves the model's folder`);
      return { path, kind: kindOf(types[id]), type: types[id] as string };
    });
    found[side] = await routeOf(dir, modules, `the Router's ${side} route`);
  }
  const mlm = [found.query?.mlmPath, found.document?.mlmPath].filter((path) => path !== undefined);
  if (mlm.length === 0) throw new Error('neither of the Router\'s routes runs an MLMTransformer: there is no graph to serve');
  if (mlm.length === 2) throw new Error('both of the Router\'s routes run an MLMTransformer of their own; this server runs one graph per model');
  const only = (found.query ?? found.document)!.route;
  return {
    query: found.query?.route ?? only,
    document: found.document?.route ?? only,
    defaultSide,
    mlmPath: await mlmFolder(dir, mlm[0]!),
  };
}

/** The sparse layout modules.json describes, or undefined when it describes none. */
export async function readSparseLayout(dir: string): Promise<SparseLayout | undefined> {
  const modules = await readJson(join(dir, 'modules.json'));
  if (!Array.isArray(modules)) return undefined;
  const entries = (modules as Json[]).map((entry) => ({ path: String(entry?.path ?? ''), type: String(entry?.type ?? ''), kind: kindOf(entry?.type) }));
  if (!entries.some((entry) => entry.kind !== undefined)) return undefined;
  for (const entry of entries) if (leavesFolder(entry.path)) throw new Error(`modules.json's module ${entry.type} has the path ${JSON.stringify(entry.path)}, which leaves the model's folder`);
  if (entries.length === 1 && (entries[0]!.kind === 'Router' || entries[0]!.kind === 'Asym')) return routerLayout(dir, entries[0]!.path);
  const { route, mlmPath } = await routeOf(dir, entries, 'modules.json');
  if (route.kind !== 'splade') throw new Error('modules.json has a SparseStaticEmbedding alone: there is no graph to serve');
  return { query: route, document: route, defaultSide: 'document', mlmPath: await mlmFolder(dir, mlmPath!) };
}

/** A classic SPLADE repo: a …ForMaskedLM config and no modules.json, served with SpladePooling's defaults. */
function classicSpladeLayout(): SparseLayout {
  const route: SparseRoute = { kind: 'splade', ...SPLADE_DEFAULTS };
  return { query: route, document: route, defaultSide: 'document', mlmPath: '' };
}

const isMaskedLm = (config: Json) =>
  Array.isArray(config.architectures) && (config.architectures as unknown[]).some((name) => typeof name === 'string' && name.endsWith('ForMaskedLM'));

/**
 * A SparseStaticEmbedding's weight per vocabulary entry (its `weight` tensor). Its tokenizer must be
 * the model's (the one that tokenises both sides here); a longer weight vector than the vocabulary is refused.
 */
export async function readStaticWeights(dir: string, route: Extract<SparseRoute, { kind: 'static' }>, tokenizerDir: string, vocabSize: number): Promise<Float32Array> {
  const own = await readFile(join(dir, route.path, 'tokenizer.json'), 'utf8').catch(() => undefined);
  if (own !== undefined && own !== (await readFile(join(tokenizerDir, 'tokenizer.json'), 'utf8'))) {
    throw new Error(`${route.path}/tokenizer.json differs from the model's tokenizer.json; this server tokenises both sides with one tokenizer`);
  }
  let tensors;
  try {
    tensors = await readSafetensorsTensors(route.weightsFile, ['weight']);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${route.weightsFile} is missing: fetch it with \`npm run download\``);
    throw error;
  }
  const weight = tensors.get('weight');
  if (!weight || weight.shape.length !== 1) throw new Error(`${route.weightsFile} has no one-dimensional "weight" tensor`);
  if (weight.shape[0]! > vocabSize) throw new Error(`${route.weightsFile} has ${weight.shape[0]} weights, more than the vocabulary's ${vocabSize} tokens`);
  return weight.data;
}

/** How a sparse model's sides compute, as the description carries it. */
export interface SparseSides {
  /** Per side: through the graph (the model's sparse head), or the static weights (no graph run). */
  query: 'graph' | 'static';
  document: 'graph' | 'static';
  defaultSide: SparseSide;
  /** The static side's weight per vocabulary entry. */
  staticWeights: Float32Array | undefined;
}

/** A classic SPLADE repo's layout: a …ForMaskedLM config, no modules.json, and a graph that outputs `logits`; else undefined. */
export async function classicSparseLayout(dir: string, config: Json, onnxFile: string): Promise<SparseLayout | undefined> {
  if ((await readJson(join(dir, 'modules.json'))) !== undefined || !isMaskedLm(config)) return undefined;
  return graphOutputNames(onnxFile).includes('logits') ? classicSpladeLayout() : undefined;
}

/** The sparse head (the graph's side) and the sides, once the vocabulary and the tokenizer's folder are known. */
export async function sparseParts(dir: string, layout: SparseLayout, vocab: number): Promise<{ head: SparseHeadSpec; sides: SparseSides }> {
  const graphSide = [layout.query, layout.document].find((route) => route.kind === 'splade')!;
  const staticSide = [layout.query, layout.document].find((route) => route.kind === 'static');
  const kindOfSide = (route: SparseRoute) => (route.kind === 'static' ? 'static' : 'graph');
  const { kind: _, ...splade } = graphSide as Extract<SparseRoute, { kind: 'splade' }>;
  return {
    head: { kind: 'sparse', method: 'splade', vocab, splade },
    sides: {
      query: kindOfSide(layout.query),
      document: kindOfSide(layout.document),
      defaultSide: layout.defaultSide,
      staticWeights: staticSide ? await readStaticWeights(dir, staticSide as Extract<SparseRoute, { kind: 'static' }>, join(dir, layout.mlmPath), vocab) : undefined,
    },
  };
}
