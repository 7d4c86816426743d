import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSpec } from '../../models-file.ts';
import { positive, readJson, type Json } from './config-json.ts';
import { BGE_M3_HEAD_INDEX, bgeM3HeadSpecs, readBgeM3Heads } from './bge-m3.ts';
import { readModulePipeline, type ModulePipeline } from './modules.ts';
import { describeColbert, isColbert, type ColbertModel } from './colbert-config.ts';
import { isSequenceClassifier, readSequenceClassifier, type LabelActivation } from './sequence-classifier.ts';
import { classicSparseLayout, readSparseLayout, sparseParts, type SparseLayout, type SparseSides } from './sparse-modules.ts';

/** What a model without sentence-transformers' dense modules pools with: nothing (a sparse model's head is its own). */
const NO_PIPELINE: ModulePipeline = { poolingModes: ['mean'], tokenWidth: undefined, includePrompt: true, dense: [], normalize: false, unrunnable: undefined };
import type { HeadSpec, ScoreActivation } from '../heads/head-spec.ts';
import { runShapeOf, type RunShape } from '../../batching/run-peak.ts';
import { graphOutputNames } from './onnx-graph-outputs.ts';
import { llmRerankerOf, tokenIdsOf } from './llm-reranker.ts';
import type { RerankPromptStyle } from '../tokenizing/llm-rerank-prompt.ts';

/** What a sentence-transformers repo's config files say about serving it: a tokenizer, a graph, and heads after it. */
export interface ModelDescription {
  /**
   * What it serves: an embedding model (a pooled head: vectors), a cross-encoder (a one-label logits head) that
   * scores (query, document) pairs, or a sequence classifier (a logits head, a label each) that labels texts and pairs.
   */
  kind: 'embedding' | 'reranker' | 'classifier';
  /** What the model computes from its graph's outputs; a request names those it wants by their index here. */
  heads: HeadSpec[];
  /** For a classifier: config.json's id2label names, in the logits' order (empty for other kinds). */
  labels: string[];
  /** For a classifier: what transformers' text-classification pipeline applies to its logits by default. */
  labelActivation: LabelActivation;
  /** A late-interaction (ColBERT) model: how its queries and documents are encoded (its one head: token vectors). */
  colbert?: ColbertModel;
  /** A multi-output model's outputs a request may name (bge-m3: dense, sparse, colbert), each its head's index; none for the others. */
  namedOutputs: Record<string, number> | undefined;
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
  /** A sparse (SPLADE) model: how its query and document sides compute (sparse-modules.ts). */
  sparse?: SparseSides;
}

export class MissingArtifactError extends Error {
  override name = 'MissingArtifactError';
}

/** The files a model needs on disk, and the fetch command when one is missing; the configs and tokenizer in `filesDir`. */
async function checkFiles(spec: ModelSpec, dir: string, filesDir: string): Promise<void> {
  for (const file of [join(filesDir, 'config.json'), join(filesDir, 'tokenizer.json'), join(filesDir, 'tokenizer_config.json'), join(dir, spec.onnxPath)]) {
    try {
      await access(file);
    } catch {
      throw new MissingArtifactError(
        `model "${spec.id}" (${spec.source}): ${file} is missing. Fetch it with \`npm run download\` ` +
          `(or \`huggingface-cli download ${spec.repo} --local-dir ${dir}\`), or set ARTIFACTS_DIR to where the model is.`,
      );
    }
  }
}

export async function describeModel(spec: ModelSpec, artifactsDir: string): Promise<ModelDescription> {
  const dir = join(artifactsDir, spec.repo);
  const failed = (error: unknown) => (error instanceof MissingArtifactError ? error : new Error(`model "${spec.id}" (${spec.source}, ${dir}): ${(error as Error).message}`));
  // A sparse Router model may keep its transformer's configs and tokenizer in the module's folder.
  const sparse = await readSparseLayout(dir).catch((error) => Promise.reject(failed(error)));
  const filesDir = join(dir, sparse?.mlmPath ?? '');
  await checkFiles(spec, dir, filesDir);
  try {
    return await describe(spec, dir, filesDir, sparse);
  } catch (error) {
    throw failed(error);
  }
}

/** Activation classes sentence-transformers' CrossEncoder configs name, by their last part. */
const SCORE_ACTIVATIONS: Record<string, ScoreActivation> = { Sigmoid: 'sigmoid', Identity: 'identity', Tanh: 'tanh' };

/**
 * For a one-label sequence classifier served as a reranker, the activation CrossEncoder.predict
 * applies: `sentence_transformers.activation_fn`, else the legacy `sbert_ce_default_activation_function`, else sigmoid.
 */
function crossEncoderActivation(config: Json): ScoreActivation {
  const named = ((config.sentence_transformers as Json | undefined)?.activation_fn ?? config.sbert_ce_default_activation_function) as unknown;
  if (named === undefined || named === null) return 'sigmoid';
  const activation = typeof named === 'string' ? SCORE_ACTIVATIONS[named.split('.').at(-1)!] : undefined;
  if (!activation) throw new Error(`its cross-encoder activation ${String(named)} is not one of ${Object.keys(SCORE_ACTIVATIONS).join(', ')}`);
  return activation;
}

/**
 * What a model is: a sequence classifier with more than one label, or declared `kind=classifier`, is a
 * classifier; one with one label a reranker (a cross-encoder); anything else an embedding model.
 */
function modelKind(spec: ModelSpec, config: Json): Pick<ModelDescription, 'kind' | 'labels' | 'labelActivation'> & { scoreActivation?: ScoreActivation } {
  if (!isSequenceClassifier(config)) {
    if (spec.kind === 'classifier') throw new Error("kind=classifier, but config.json's architectures name no …ForSequenceClassification");
    return { kind: 'embedding', labels: [], labelActivation: 'none' };
  }
  const { labels, activation } = readSequenceClassifier(config);
  if (labels.length > 1 || spec.kind === 'classifier') return { kind: 'classifier', labels, labelActivation: activation };
  return { kind: 'reranker', labels: [], labelActivation: 'none', scoreActivation: crossEncoderActivation(config) };
}

async function describe(spec: ModelSpec, root: string, dir: string, sparseLayout: SparseLayout | undefined): Promise<ModelDescription> {
  const config = (await readJson(join(dir, 'config.json')))!;
  const tokenizerConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const llm = llmRerankerOf(config, () => graphOutputNames(join(root, spec.onnxPath)));
  // An LLM reranker (a causal LM export, or its seq-cls conversion) is a reranker, with its card's score.
  const kind: ReturnType<typeof modelKind> = llm ? { kind: 'reranker', labels: [], labelActivation: 'none', scoreActivation: llm.activation } : modelKind(spec, config);
  // Both score with the graph's logits; neither has sentence-transformers modules.
  const scoring = kind.kind !== 'embedding';
  const sparse = scoring ? undefined : (sparseLayout ?? (await classicSparseLayout(root, config, join(root, spec.onnxPath))));
  // A sparse model's modules are no dense pipeline: no Pooling, no Dense.
  const pipeline = sparse ? NO_PIPELINE : await readModulePipeline(root);
  const sentenceBertConfig = await readJson(join(dir, 'sentence_bert_config.json'));
  const tokenWidth = pipeline.tokenWidth ?? positive(config.hidden_size) ?? positive(config.d_model) ?? positive(config.dim);
  if (!tokenWidth) throw new Error('neither the Pooling config nor config.json gives the hidden size');
  for (const [index, layer] of pipeline.dense.entries()) {
    const input = index === 0 ? tokenWidth * pipeline.poolingModes.length : pipeline.dense[index - 1]!.outFeatures;
    if (layer.inFeatures !== input) throw new Error(`${layer.path} takes ${layer.inFeatures} features, but what comes before it gives ${input}`);
  }
  const hidden = positive(config.hidden_size) ?? positive(config.d_model) ?? positive(config.dim) ?? tokenWidth;
  const plainRunShape = runShapeOf(config, hidden);
  const positionLimit = positive(config.max_position_embeddings);
  const tokenizerLimit = positive(tokenizerConfig.model_max_length);
  const maxTokens =
    positive(sentenceBertConfig?.max_seq_length) ??
    (positionLimit && tokenizerLimit ? Math.min(positionLimit, tokenizerLimit) : (tokenizerLimit ?? positionLimit));
  if (!maxTokens) throw new Error('no max_seq_length, model_max_length or max_position_embeddings to bound inputs');
  const stConfig = (await readJson(join(root, 'config_sentence_transformers.json'))) ?? {};
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
  // A cross-encoder or classifier: its limit is the tokenizer's and the positions', as CrossEncoder and the pipeline's tokenizer set it.
  const rerankLimit = positionLimit && tokenizerLimit ? Math.min(positionLimit, tokenizerLimit) : (tokenizerLimit ?? positionLimit);
  const sparseModel = sparse && (await sparseParts(root, sparse, vocabSize));
  const bgeM3 = scoring || sparseModel ? undefined : await readBgeM3Heads(root, join(root, spec.onnxPath), hidden);
  // An MLM's run holds its vocabulary-wide logits too; a published bge-m3's, its colbert_linear projection of the token states.
  const runShape = sparseModel ? { ...plainRunShape, logitsWidth: vocabSize } : bgeM3?.source === 'files' ? { ...plainRunShape, projectionWidth: bgeM3.colbertWidth } : plainRunShape;
  const late = !scoring && !sparseModel && !bgeM3 && isColbert(config, stConfig) ? await describeColbert(root, stConfig, tokenizerConfig, pipeline.dense) : undefined;
  // The token states as they are (TEI's /embed_all), where the graph's token output is what serves the model.
  const tokenStates: HeadSpec[] = pipeline.unrunnable ? [] : [{ kind: 'token-vectors', method: 'states', dense: [], normalize: false, skiplist: new Int32Array(0), width: tokenWidth }];
  const pooled: HeadSpec = {
    kind: 'pooled',
    poolingModes: pipeline.poolingModes,
    dense: pipeline.dense,
    normalize: pipeline.normalize,
    unrunnable: pipeline.unrunnable,
    dimensions: pipeline.dense.at(-1)?.outFeatures ?? tokenWidth * pipeline.poolingModes.length,
  };
  // A cross-encoder's or classifier's scores are its logits: no sentence-transformers module applies to them.
  const heads: HeadSpec[] = scoring
    ? [
        {
          kind: 'logits',
          labels: kind.kind === 'classifier' ? kind.labels.length : 1,
          activation: kind.scoreActivation ?? 'identity',
          ...(llm?.scoring === 'lm-head' ? { answerTokenIds: await tokenIdsOf(join(dir, 'tokenizer.json'), llm.answerTokens) } : {}),
        },
      ]
    : sparseModel
      ? [sparseModel.head]
      : bgeM3
        ? bgeM3HeadSpecs(bgeM3, hidden)
        : late
          ? [{ kind: 'token-vectors', method: 'states', dense: late.dense, normalize: true, skiplist: late.colbert.tokens.skiplist, width: late.dense.at(-1)?.outFeatures ?? tokenWidth }]
          : [pooled, ...tokenStates];
  return {
    kind: kind.kind,
    heads,
    labels: kind.labels,
    labelActivation: kind.labelActivation,
    ...(late ? { colbert: late.colbert } : {}),
    namedOutputs: bgeM3 ? BGE_M3_HEAD_INDEX : undefined,
    rerankPrompt: llm?.prompt,
    dir,
    onnxFile: join(root, spec.onnxPath),
    lowercase: sentenceBertConfig?.do_lower_case === true,
    maxTokens: scoring && rerankLimit ? Math.min(rerankLimit, llm?.maxTokens ?? Infinity) : (late?.maxTokens ?? maxTokens),
    tokenWidth,
    runShape,
    vocabSize,
    prompts,
    defaultPromptName,
    includePrompt: pipeline.includePrompt,
    ...(sparseModel ? { sparse: sparseModel.sides } : {}),
  };
}
