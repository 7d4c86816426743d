import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSpec } from '../../models-file.ts';
import { positive, readJson, type Json } from './config-json.ts';
import { readModulePipeline } from './modules.ts';
import type { HeadSpec, ScoreActivation } from '../heads/head-spec.ts';
import { runShapeOf, type RunShape } from '../../batching/run-peak.ts';
import { graphOutputNames } from './lm-head-graph.ts';
import { llmRerankerOf, tokenIdsOf } from './llm-reranker.ts';
import type { RerankPromptStyle } from '../tokenizing/llm-rerank-prompt.ts';

/** What a sentence-transformers repo's config files say about serving it: a tokenizer, a graph, and heads after it. */
export interface ModelDescription {
  /**
   * What it serves: an embedding model (a pooled head: vectors), or a cross-encoder (a one-label logits head) that
   * scores (query, document) pairs.
   */
  kind: 'embedding' | 'reranker';
  /** What the model computes from its graph's outputs; a request names those it wants by their index here. */
  heads: HeadSpec[];
  /** An LLM reranker (Qwen3-Reranker, its causal LM export or its seq-cls conversion; bge-reranker-v2-gemma) reads pairs in this prompt. */
  rerankPrompt: RerankPromptStyle | undefined;
  dir: string;
  onnxFile: string;
  /** sentence_bert_config.json's do_lower_case: lowercase texts before tokenising. */
  lowercase: boolean;
  /** Token limit per input, special tokens included. */
  maxTokens: number;
  /** The token vectors' width. */
  tokenWidth: number;
  /** Layers, attention heads, widths and causal attention (config.json; estimated from the width where it does not say): what a run holds at its peak. */
  runShape: RunShape;
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

/** Activation classes sentence-transformers' CrossEncoder configs name, by their last part. */
const SCORE_ACTIVATIONS: Record<string, ScoreActivation> = { Sigmoid: 'sigmoid', Identity: 'identity', Tanh: 'tanh' };

/**
 * Whether config.json describes a sequence classifier, and for one with a single label the
 * activation CrossEncoder.predict applies: `sentence_transformers.activation_fn`, else the legacy
 * `sbert_ce_default_activation_function`, else sigmoid. One with more labels is refused.
 */
function crossEncoder(config: Json): ScoreActivation | undefined {
  const architectures = Array.isArray(config.architectures) ? (config.architectures as unknown[]) : [];
  if (!architectures.some((name) => typeof name === 'string' && name.endsWith('ForSequenceClassification'))) return undefined;
  const labels = typeof config.num_labels === 'number' ? config.num_labels : config.id2label ? Object.keys(config.id2label as object).length : 1;
  if (labels !== 1) throw new Error(`it is a sequence classifier with ${labels} labels; only one-label cross-encoders are served (for rerank)`);
  const named = ((config.sentence_transformers as Json | undefined)?.activation_fn ?? config.sbert_ce_default_activation_function) as unknown;
  if (named === undefined || named === null) return 'sigmoid';
  const activation = typeof named === 'string' ? SCORE_ACTIVATIONS[named.split('.').at(-1)!] : undefined;
  if (!activation) throw new Error(`its cross-encoder activation ${String(named)} is not one of ${Object.keys(SCORE_ACTIVATIONS).join(', ')}`);
  return activation;
}

async function describe(spec: ModelSpec, dir: string): Promise<ModelDescription> {
  const config = (await readJson(join(dir, 'config.json')))!;
  const tokenizerConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const llm = llmRerankerOf(config, () => graphOutputNames(join(dir, spec.onnxPath)));
  const crossEncoderActivation = crossEncoder(config);
  const scoreActivation = llm?.activation ?? crossEncoderActivation;
  const pipeline = await readModulePipeline(dir);
  const sentenceBertConfig = await readJson(join(dir, 'sentence_bert_config.json'));
  const tokenWidth = pipeline.tokenWidth ?? positive(config.hidden_size) ?? positive(config.d_model);
  if (!tokenWidth) throw new Error('neither the Pooling config nor config.json gives the hidden size');
  for (const [index, layer] of pipeline.dense.entries()) {
    const input = index === 0 ? tokenWidth * pipeline.poolingModes.length : pipeline.dense[index - 1]!.outFeatures;
    if (layer.inFeatures !== input) throw new Error(`${layer.path} takes ${layer.inFeatures} features, but what comes before it gives ${input}`);
  }
  const hidden = positive(config.hidden_size) ?? positive(config.d_model) ?? tokenWidth;
  const runShape = runShapeOf(config, hidden);
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
  // A cross-encoder: its limit is the tokenizer's and the positions', as CrossEncoder sets max_length; it gives one score.
  const rerankLimit = positionLimit && tokenizerLimit ? Math.min(positionLimit, tokenizerLimit) : (tokenizerLimit ?? positionLimit);
  // A cross-encoder's score is its logit: no sentence-transformers module applies to it.
  const heads: HeadSpec[] = scoreActivation
    ? [{ kind: 'logits', labels: 1, activation: scoreActivation, ...(llm?.scoring === 'lm-head' ? { answerTokenIds: await tokenIdsOf(join(dir, 'tokenizer.json'), llm.answerTokens) } : {}) }]
    : [
        {
          kind: 'pooled',
          poolingModes: pipeline.poolingModes,
          dense: pipeline.dense,
          normalize: pipeline.normalize,
          unrunnable: pipeline.unrunnable,
          dimensions: pipeline.dense.at(-1)?.outFeatures ?? tokenWidth * pipeline.poolingModes.length,
        },
      ];
  return {
    kind: scoreActivation ? 'reranker' : 'embedding',
    heads,
    rerankPrompt: llm?.prompt,
    dir,
    onnxFile: join(dir, spec.onnxPath),
    lowercase: sentenceBertConfig?.do_lower_case === true,
    maxTokens: scoreActivation && rerankLimit ? Math.min(rerankLimit, llm?.maxTokens ?? Infinity) : maxTokens,
    tokenWidth,
    runShape,
    vocabSize,
    prompts,
    defaultPromptName,
    includePrompt: pipeline.includePrompt,
  };
}
