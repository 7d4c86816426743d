import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSpec } from '../models-file.ts';
import { poolingModesFromConfig, type PoolingMode } from './pooling.ts';

/** What a sentence-transformers repo's config files say about serving it. */
export interface ModelDescription {
  dir: string;
  onnxFile: string;
  poolingModes: PoolingMode[];
  normalized: boolean;
  /** sentence_bert_config.json's do_lower_case: lowercase texts before tokenising. */
  lowercase: boolean;
  /** Token limit per input, special tokens included. */
  maxTokens: number;
  /** Pooled vector width: token width × pooling modes. */
  dimensions: number;
  vocabSize: number;
  /** config_sentence_transformers.json's prompts (name → text prepended to each input). */
  prompts: Record<string, string>;
  /** The prompt applied when a request names none, as SentenceTransformer.encode does. */
  defaultPromptName: string | undefined;
  /** Pooling's include_prompt: false leaves the prompt's tokens out of the pooling. */
  includePrompt: boolean;
}

export class MissingArtifactError extends Error {
  override name = 'MissingArtifactError';
}

type Json = Record<string, unknown>;

async function readJson(path: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

const positive = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 1e6 ? value : undefined;

interface ModuleEntry {
  path: string;
  type: string;
}

/** The files a model needs on disk, and the fetch command when one is missing. */
async function checkFiles(spec: ModelSpec, dir: string): Promise<void> {
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', spec.onnxPath]) {
    try {
      await access(join(dir, file));
    } catch {
      throw new MissingArtifactError(
        `model "${spec.id}" (${spec.source}): ${join(dir, file)} is missing. Fetch it with \`npm run download\` ` +
          `(or \`huggingface-cli download ${spec.repo} --local-dir ${dir}\`), or set ARTIFACTS_DIR to where the model is.`,
      );
    }
  }
}

export async function describeModel(spec: ModelSpec, artifactsDir: string): Promise<ModelDescription> {
  const dir = join(artifactsDir, spec.repo);
  await checkFiles(spec, dir);
  const config = (await readJson(join(dir, 'config.json')))!;
  const tokenizerConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const modules = ((await readJson(join(dir, 'modules.json'))) as unknown as ModuleEntry[] | undefined) ?? [];
  const unsupported = modules.filter((m) => !/\.(Transformer|Pooling|Normalize)$/.test(m.type));
  if (unsupported.length > 0) {
    throw new Error(`model "${spec.id}": modules.json has modules this server cannot run from ONNX: ${unsupported.map((m) => m.type).join(', ')}`);
  }
  const poolingModule = modules.find((m) => m.type.endsWith('.Pooling'));
  const poolingConfig = poolingModule ? await readJson(join(dir, poolingModule.path, 'config.json')) : undefined;
  const sentenceBertConfig = await readJson(join(dir, 'sentence_bert_config.json'));
  const poolingModes = poolingModesFromConfig(poolingConfig);
  const tokenWidth = positive(poolingConfig?.word_embedding_dimension) ?? positive(config.hidden_size) ?? positive(config.d_model);
  if (!tokenWidth) throw new Error(`model "${spec.id}": neither 1_Pooling/config.json nor config.json gives the hidden size`);
  const positionLimit = positive(config.max_position_embeddings);
  const tokenizerLimit = positive(tokenizerConfig.model_max_length);
  const maxTokens =
    positive(sentenceBertConfig?.max_seq_length) ??
    (positionLimit && tokenizerLimit ? Math.min(positionLimit, tokenizerLimit) : (tokenizerLimit ?? positionLimit));
  if (!maxTokens) throw new Error(`model "${spec.id}": no max_seq_length, model_max_length or max_position_embeddings to bound inputs`);
  const stConfig = (await readJson(join(dir, 'config_sentence_transformers.json'))) ?? {};
  const prompts = Object.fromEntries(Object.entries((stConfig.prompts as Record<string, unknown> | undefined) ?? {}).filter(([, text]) => typeof text === 'string')) as Record<string, string>;
  const defaultPromptName = typeof stConfig.default_prompt_name === 'string' ? stConfig.default_prompt_name : undefined;
  if (defaultPromptName !== undefined && !Object.hasOwn(prompts, defaultPromptName)) {
    throw new Error(`model "${spec.id}": default_prompt_name "${defaultPromptName}" is not among its prompts (${Object.keys(prompts).join(', ') || 'none'})`);
  }
  if (spec.promptName !== undefined && !Object.hasOwn(prompts, spec.promptName)) {
    throw new Error(`model "${spec.id}" (${spec.source}): prompt=${spec.promptName} is not among its prompts (${Object.keys(prompts).join(', ') || 'none'})`);
  }
  const vocabSize = positive(config.vocab_size);
  if (!vocabSize) throw new Error(`model "${spec.id}": config.json has no vocab_size`);
  return {
    dir,
    onnxFile: join(dir, spec.onnxPath),
    poolingModes,
    normalized: modules.some((m) => m.type.endsWith('.Normalize')),
    lowercase: sentenceBertConfig?.do_lower_case === true,
    maxTokens,
    dimensions: tokenWidth * poolingModes.length,
    vocabSize,
    prompts,
    defaultPromptName,
    includePrompt: poolingConfig?.include_prompt !== false,
  };
}
