import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSpec } from '../models-file.ts';
import { readModulePipeline, type DenseLayer } from './modules.ts';
import type { PoolingMode } from './pooling.ts';

/** What a sentence-transformers repo's config files say about serving it. */
export interface ModelDescription {
  dir: string;
  onnxFile: string;
  poolingModes: PoolingMode[];
  /** Dense modules after the pooling, in order. */
  dense: DenseLayer[];
  normalized: boolean;
  /** Why the server cannot run the module pipeline itself; then the graph must output `sentence_embedding`. */
  unrunnable: string | undefined;
  /** sentence_bert_config.json's do_lower_case: lowercase texts before tokenising. */
  lowercase: boolean;
  /** Token limit per input, special tokens included. */
  maxTokens: number;
  /** The token vectors' width. */
  tokenWidth: number;
  /** The embedding's width: the last Dense layer's output, else token width × pooling modes. */
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
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 1e7 ? value : undefined;

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
  try {
    return await describe(spec, dir);
  } catch (error) {
    if (error instanceof MissingArtifactError) throw error;
    throw new Error(`model "${spec.id}" (${spec.source}, ${dir}): ${(error as Error).message}`);
  }
}

async function describe(spec: ModelSpec, dir: string): Promise<ModelDescription> {
  const config = (await readJson(join(dir, 'config.json')))!;
  const tokenizerConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const pipeline = await readModulePipeline(dir, readJson);
  const sentenceBertConfig = await readJson(join(dir, 'sentence_bert_config.json'));
  const tokenWidth = pipeline.tokenWidth ?? positive(config.hidden_size) ?? positive(config.d_model);
  if (!tokenWidth) throw new Error('neither the Pooling config nor config.json gives the hidden size');
  for (const [index, layer] of pipeline.dense.entries()) {
    const input = index === 0 ? tokenWidth * pipeline.poolingModes.length : pipeline.dense[index - 1]!.outFeatures;
    if (layer.inFeatures !== input) throw new Error(`${layer.path} takes ${layer.inFeatures} features, but what comes before it gives ${input}`);
  }
  const positionLimit = positive(config.max_position_embeddings);
  const tokenizerLimit = positive(tokenizerConfig.model_max_length);
  const maxTokens =
    positive(sentenceBertConfig?.max_seq_length) ??
    (positionLimit && tokenizerLimit ? Math.min(positionLimit, tokenizerLimit) : (tokenizerLimit ?? positionLimit));
  if (!maxTokens) throw new Error('no max_seq_length, model_max_length or max_position_embeddings to bound inputs');
  const stConfig = (await readJson(join(dir, 'config_sentence_transformers.json'))) ?? {};
  const prompts = Object.fromEntries(Object.entries((stConfig.prompts as Record<string, unknown> | undefined) ?? {}).filter(([, text]) => typeof text === 'string')) as Record<string, string>;
  const defaultPromptName = typeof stConfig.default_prompt_name === 'string' ? stConfig.default_prompt_name : undefined;
  const promptList = Object.keys(prompts).join(', ') || 'none';
  if (defaultPromptName !== undefined && !Object.hasOwn(prompts, defaultPromptName)) {
    throw new Error(`default_prompt_name "${defaultPromptName}" is not among its prompts (${promptList})`);
  }
  if (spec.promptName !== undefined && !Object.hasOwn(prompts, spec.promptName)) {
    throw new Error(`prompt=${spec.promptName} is not among its prompts (${promptList})`);
  }
  const vocabSize = positive(config.vocab_size);
  if (!vocabSize) throw new Error('config.json has no vocab_size');
  return {
    dir,
    onnxFile: join(dir, spec.onnxPath),
    poolingModes: pipeline.poolingModes,
    dense: pipeline.dense,
    normalized: pipeline.normalize,
    unrunnable: pipeline.unrunnable,
    lowercase: sentenceBertConfig?.do_lower_case === true,
    maxTokens,
    tokenWidth,
    dimensions: pipeline.dense.at(-1)?.outFeatures ?? tokenWidth * pipeline.poolingModes.length,
    vocabSize,
    prompts,
    defaultPromptName,
    includePrompt: pipeline.includePrompt,
  };
}
