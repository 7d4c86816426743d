/**
 * sentence-transformers' module pipeline as a model's files describe it (`modules.json` and each
 * module's config), in both formats: the classic one (`sentence_transformers.models.Pooling`, the
 * `pooling_mode_*_tokens` booleans) and sentence-transformers ≥ 5.4's (types under
 * `sentence_transformers.base.modules…` / `sentence_transformers.sentence_transformer.modules…`,
 * Pooling `{embedding_dimension, pooling_mode, include_prompt}`). The worker runs what this
 * describes: the graph's token vectors → Pooling → each Dense in order → Normalize.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { positive, readJson, type Json } from './config-json.ts';
import { checkDenseWeights } from '../heads/dense.ts';
import { leavesFolder } from './folder-path.ts';
import { POOLING_MODES, type PoolingMode } from '../heads/pooling.ts';

/** Activations sentence-transformers' Dense names (torch.nn classes), as this server computes them. */
export const DENSE_ACTIVATIONS = ['Tanh', 'Identity', 'ReLU', 'Sigmoid', 'GELU', 'SiLU'] as const;
export type DenseActivation = (typeof DENSE_ACTIVATIONS)[number];

export interface DenseLayer {
  /** The module's folder, for messages. */
  path: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: DenseActivation;
  /** Adds the input (projected when the widths differ) to the output. */
  residual: boolean;
  /** `<module>/model.safetensors`. */
  weightsFile: string;
}

export interface ModulePipeline {
  /** Pooling modes, concatenated in this order. */
  poolingModes: PoolingMode[];
  /** The token vectors' width the Pooling config states, if it does. */
  tokenWidth: number | undefined;
  /** Pooling's include_prompt: false leaves the prompt's tokens out of the pooling. */
  includePrompt: boolean;
  dense: DenseLayer[];
  normalize: boolean;
  /**
   * Why this server cannot run the pipeline itself (a Dense layer whose weights exist only as
   * pytorch_model.bin): then only a graph that outputs `sentence_embedding` serves the model.
   */
  unrunnable: string | undefined;
}


interface ModuleEntry {
  path: string;
  type: string;
}

/** The module kinds this server runs, by the last part of their type name in sentence-transformers' own packages (and PyLate's Dense, which projects token vectors). */
const KNOWN_MODULE = /^(?:sentence_transformers?\.(?:[A-Za-z_]+\.)*(Transformer|Pooling|Dense|Normalize)|pylate\.models\.(?:Dense\.)?(Dense))$/;

/** Pooling mode names of the ≥ 5.4 config and the classic keys, to ours. */
const MODE_NAMES: Record<string, PoolingMode> = {
  cls: 'cls',
  max: 'max',
  mean: 'mean',
  mean_sqrt_len_tokens: 'mean_sqrt_len',
  weightedmean: 'weightedmean',
  lasttoken: 'lasttoken',
};
const CLASSIC_KEYS: [string, PoolingMode][] = [
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len'],
  ['pooling_mode_weightedmean_tokens', 'weightedmean'],
  ['pooling_mode_lasttoken', 'lasttoken'],
];


const exists = (path: string) => access(path).then(() => true, () => false);

/** Pooling modes from either config format; none enabled means mean, as sentence-transformers does. */
export function poolingModesFromConfig(config: Json | undefined): PoolingMode[] {
  if (!config) return ['mean'];
  const { pooling_mode: named } = config;
  if (named !== undefined) {
    const names = Array.isArray(named) ? named : [named];
    const modes = names.map((name) => (typeof name === 'string' ? MODE_NAMES[name] : undefined));
    if (names.length === 0 || modes.some((mode) => mode === undefined)) {
      throw new Error(`1_Pooling's pooling_mode ${JSON.stringify(named)} is not one of ${Object.keys(MODE_NAMES).join(', ')}`);
    }
    return modes as PoolingMode[];
  }
  const modes = CLASSIC_KEYS.filter(([key]) => config[key] === true).map(([, mode]) => mode);
  return modes.length > 0 ? modes : ['mean'];
}

/** A Dense module's config (its `config.json`) and weights. */
async function denseLayer(dir: string, module: ModuleEntry): Promise<{ layer: DenseLayer; unrunnable?: string }> {
  const config = (await readJson(join(dir, module.path, 'config.json'))) ?? {};
  const inFeatures = positive(config.in_features);
  const outFeatures = positive(config.out_features);
  if (!inFeatures || !outFeatures) throw new Error(`${module.path}/config.json has no in_features and out_features`);
  const activationName = typeof config.activation_function === 'string' ? config.activation_function : 'torch.nn.modules.activation.Tanh';
  const activation = DENSE_ACTIVATIONS.find((name) => activationName.split('.').at(-1) === name && activationName.startsWith('torch.'));
  if (!activation) {
    throw new Error(`${module.path} uses the activation ${activationName}, which this server does not compute (it computes ${DENSE_ACTIVATIONS.join(', ')})`);
  }
  if ((config.module_input_name ?? 'sentence_embedding') !== 'sentence_embedding' || (config.module_output_name ?? 'sentence_embedding') !== 'sentence_embedding') {
    throw new Error(`${module.path} reads or writes other features than sentence_embedding, which this server cannot run`);
  }
  const weightsFile = join(dir, module.path, 'model.safetensors');
  const layer: DenseLayer = { path: module.path, inFeatures, outFeatures, bias: config.bias !== false, activation, residual: config.use_residual === true, weightsFile };
  if (await exists(weightsFile)) {
    await checkDenseWeights(layer);
    return { layer };
  }
  const why = (await exists(join(dir, module.path, 'pytorch_model.bin')))
    ? `${module.path} has its weights only as pytorch_model.bin, which this server does not read: convert them to ${module.path}/model.safetensors (safetensors.torch.save_file)`
    : `${weightsFile} is missing: fetch it with \`npm run download\``;
  return { layer, unrunnable: why };
}

/** modules.json's entries, each a folder inside the model's (or the model's own, ''). */
function moduleEntries(json: unknown): ModuleEntry[] {
  if (json === undefined) return [];
  if (!Array.isArray(json)) throw new Error('modules.json is not a list of modules');
  return json.map((entry: Partial<ModuleEntry> | null, index) => {
    const { path, type } = entry ?? {};
    if (typeof path !== 'string' || typeof type !== 'string') throw new Error(`modules.json's module ${index} has no path and type`);
    if (leavesFolder(path)) throw new Error(`modules.json's module ${type} has the path ${JSON.stringify(path)}, which leaves the model's folder: a module's path is a folder inside it`);
    return { path, type };
  });
}

/** The pipeline `modules.json` describes; a repo without one is a Transformer and mean Pooling (sentence-transformers' default). */
export async function readModulePipeline(dir: string): Promise<ModulePipeline> {
  const modules = moduleEntries(await readJson(join(dir, 'modules.json')));
  const foreign = modules.filter((module) => !KNOWN_MODULE.test(module.type));
  if (foreign.length > 0) {
    throw new Error(
      `modules.json has modules this server cannot run: ${foreign.map((module) => `${module.type} (${module.path || 'root'})`).join(', ')}; ` +
        "it runs Transformer, Pooling, Dense and Normalize (and PyLate's Dense)",
    );
  }
  const kind = (module: ModuleEntry) => {
    const match = KNOWN_MODULE.exec(module.type)!;
    return (match[1] ?? match[2])!;
  };
  const pooling = modules.find((module) => kind(module) === 'Pooling');
  const poolingConfig = pooling ? await readJson(join(dir, pooling.path, 'config.json')) : undefined;
  const dense: DenseLayer[] = [];
  let unrunnable: string | undefined;
  for (const module of modules.filter((entry) => kind(entry) === 'Dense')) {
    const found = await denseLayer(dir, module);
    dense.push(found.layer);
    unrunnable ??= found.unrunnable;
  }
  const poolingModes = poolingModesFromConfig(poolingConfig);
  for (const mode of poolingModes) if (!POOLING_MODES.includes(mode)) throw new Error(`unknown pooling mode ${mode}`);
  return {
    poolingModes,
    tokenWidth: positive(poolingConfig?.embedding_dimension) ?? positive(poolingConfig?.word_embedding_dimension),
    includePrompt: poolingConfig?.include_prompt !== false,
    dense,
    normalize: modules.some((module) => kind(module) === 'Normalize'),
    unrunnable,
  };
}
