/**
 * Writes a complete sentence-transformers model repo — WordPiece tokenizer,
 * configs and a generated BERT ONNX graph — into an artifacts directory, laid
 * out as `huggingface-cli download` leaves it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { as4BitMatrix, as4BitWeights, asHalfGrid, bertOnnxFiles, makeBertWeights, type BertShape, type BertWeights, type ClassifierWeights, type GraphOptions, type LmHeadFormat, type Matrix } from './bert-onnx.ts';
import { familyTokenizer, templateProcessing, type TokenizerFamily } from './tokenizer-families.ts';
import type { PoolingMode } from '../../src/inference/heads/pooling.ts';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const WORDS = [
  'the', 'quick', 'brown', 'fox', 'jump', 'over', 'lazy', 'dog', 'hello', 'world', 'embed', 'model', 'token', 'text',
  'cat', 'sat', 'on', 'mat', 'server', 'vector', 'search', 'query', 'document', 'a', 'an', 'is', 'of', 'to', 'and',
];
const SUFFIXES = ['##s', '##ed', '##ing', '##ding', '##er', '##ly'];
const CHARACTERS = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
const PUNCTUATION = [...'.,!?\'"-:;()'];

export function fixtureVocabulary(size: number): string[] {
  const base = [...SPECIAL_TOKENS, ...WORDS, ...SUFFIXES, ...CHARACTERS, ...CHARACTERS.map((c) => `##${c}`), ...PUNCTUATION];
  const unique = [...new Set(base)];
  if (size < unique.length) throw new Error(`vocabulary needs at least ${unique.length} entries`);
  for (let i = unique.length; i < size; i++) unique.push(`[unused${i}]`);
  return unique;
}

export interface FixtureOptions {
  shape?: Partial<BertShape>;
  pooling?: PoolingMode[];
  normalize?: boolean;
  /** sentence_bert_config.json's max_seq_length; null leaves that file out. */
  maxSeqLength?: number | null;
  /** tokenizer_config.json's model_max_length. */
  modelMaxLength?: number;
  onnxPath?: string;
  /** The tokenizer's own normaliser lowercases (BERT uncased); false makes a cased tokenizer. */
  tokenizerLowercases?: boolean;
  /** sentence_bert_config.json's do_lower_case. */
  doLowerCase?: boolean;
  /** Dense layers with int8 weights (dynamic quantisation), like an onnx/model_qint8_*.onnx export. */
  int8?: boolean;
  /** Dense layers with 4-bit weights (MatMulNBits), like an onnx/model_q4.onnx export; `weights` are then the dequantised ones the graph holds. */
  int4?: boolean;
  /** config_sentence_transformers.json's prompts and default_prompt_name (the file is left out without prompts). */
  prompts?: Record<string, string>;
  defaultPromptName?: string;
  /** 1_Pooling/config.json's include_prompt. */
  includePrompt?: boolean;
  /** The tokenizer's family (WordPiece by default; see tokenizer-families.ts). */
  family?: TokenizerFamily;
  /** How the graph is exported: decoder (causal, with a past), fp16 outputs, external data, a sentence_embedding output. */
  graph?: Omit<GraphOptions, 'int8' | 'int4' | 'sentenceEmbedding'> & { sentenceEmbedding?: boolean };
  /** Dense modules after the pooling, in order (N_Dense/config.json and model.safetensors). */
  dense?: FixtureDense[];
  /** Dense weights only as pytorch_model.bin (which the server cannot read). */
  denseAsPytorch?: boolean;
  /** sentence-transformers ≥ 5.4's file format (module type names, Pooling's pooling_mode). */
  st54?: boolean;
  /** A cross-encoder (…ForSequenceClassification, a `logits` output) instead of an embedding model. */
  crossEncoder?: FixtureCrossEncoder;
  /** Keys written over config.json's (undefined removes one): another family's names, e.g. DistilBERT's `dim`. */
  config?: Record<string, unknown>;
  /**
   * An LLM reranker (Qwen3-Reranker-like; with `family: 'qwen3'` and `graph.causal`): a causal LM whose graph ends in its
   * LM head (`lm-head`; `lm-head-tied`: the word embeddings transposed), or its seq-cls conversion (`seq-cls`:
   * …ForSequenceClassification with one label, the score row = the head's "yes" row less its "no" row, on the last token).
   */
  llmReranker?: 'lm-head' | 'lm-head-tied' | 'seq-cls';
  /** How an `lm-head` LLM reranker's head holds its weight (float32 by default). */
  lmHeadFormat?: LmHeadFormat;
}

export interface FixtureCrossEncoder {
  /** The activation class its config names (`torch.nn.modules.linear.Identity`…); none: CrossEncoder's default, sigmoid. */
  activation?: string;
  /** Name it in the legacy `sbert_ce_default_activation_function` key instead of `sentence_transformers.activation_fn`. */
  legacyKey?: boolean;
  /** Labels of the classifier (1 for a reranker). */
  labels?: number;
  /** id2label's names (LABEL_0… by default); their count is the labels'. */
  labelNames?: string[];
  /** config.json's problem_type (single_label_classification, multi_label_classification, regression). */
  problemType?: string;
}

export interface FixtureDense {
  out: number;
  /** torch activation class name; Tanh by default, as sentence-transformers' Dense. */
  activation?: 'Tanh' | 'Identity' | 'ReLU' | 'GELU';
  bias?: boolean;
}

/** A Dense layer's weights as the fixture wrote them: `weight` is [in, out] (the safetensors file holds its transpose). */
export interface DenseWeights {
  weight: Matrix;
  bias: Float32Array | undefined;
  activation: NonNullable<FixtureDense['activation']>;
}

export const SMALL_SHAPE: BertShape = {
  layers: 2, hidden: 32, heads: 4, intermediate: 64, vocab: 128, maxPositions: 64, tokenTypeIds: true, seed: 7,
};

export const MINILM_SHAPE: BertShape = {
  layers: 6, hidden: 384, heads: 12, intermediate: 1536, vocab: 30522, maxPositions: 512, tokenTypeIds: true, seed: 7,
};

function tokenizerJson(vocabulary: string[], lowercase: boolean) {
  const id = (token: string) => vocabulary.indexOf(token);
  return {
    version: '1.0',
    // Deliberately set: sentence-transformers overrides both, so the server must ignore them.
    truncation: { direction: 'Right', max_length: 6, strategy: 'LongestFirst', stride: 0 },
    padding: { strategy: { Fixed: 40 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' },
    added_tokens: SPECIAL_TOKENS.map((content) => ({
      id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: templateProcessing(['[SEP]', id('[SEP]')], ['[CLS]', id('[CLS]')]),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocabulary.map((token, index) => [token, index])),
    },
  };
}

const POOLING_KEYS: Record<PoolingMode, string> = {
  cls: 'pooling_mode_cls_token', max: 'pooling_mode_max_tokens', mean: 'pooling_mode_mean_tokens',
  mean_sqrt_len: 'pooling_mode_mean_sqrt_len_tokens', weightedmean: 'pooling_mode_weightedmean_tokens', lasttoken: 'pooling_mode_lasttoken',
};

export interface FixtureModel {
  dir: string;
  weights: BertWeights;
  /** A cross-encoder's head. */
  classifier: ClassifierWeights | undefined;
  /** The WordPiece vocabulary (empty for other families). */
  vocabulary: string[];
  dense: DenseWeights[];
  padId: number;
  /** An LLM reranker's LM-head rows for "yes" and "no" (the seq-cls conversion's score row is their difference; Gemma's has no "no"). */
  yesNoRows: { yes: Float32Array; no: Float32Array | undefined } | undefined;
}

/** A [rows, cols] matrix of seeded values of about ±1/√rows. */
function seededMatrix(rows: number, cols: number, seed: number): Matrix {
  let state = seed;
  const scale = 1 / Math.sqrt(rows);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = (((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1) * 2 * scale;
  return { rows, cols, data };
}

const column = (matrix: Matrix, index: number) => Float32Array.from({ length: matrix.rows }, (_, row) => matrix.data[row * matrix.cols + index]!);

/** A safetensors file: its header (as given, whatever it claims), then the data. */
export function safetensorsFile(header: Record<string, unknown>, data: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

/** A safetensors file of float32 tensors. */
export function safetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  return safetensorsFile(header, Buffer.concat(Object.values(tensors).map(({ data }) => Buffer.from(data.buffer, data.byteOffset, data.byteLength))));
}

function denseWeights(layers: FixtureDense[], inWidth: number, seed: number): DenseWeights[] {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  let width = inWidth;
  return layers.map((layer) => {
    const weight: Matrix = { rows: width, cols: layer.out, data: Float32Array.from({ length: width * layer.out }, () => random() / Math.sqrt(width)) };
    width = layer.out;
    return { weight, bias: layer.bias === false ? undefined : Float32Array.from({ length: layer.out }, () => random() * 0.1), activation: layer.activation ?? 'Tanh' };
  });
}

/** [in, out] → [out, in], as torch's Linear stores it. */
function transposed(matrix: Matrix): Float32Array {
  const out = new Float32Array(matrix.data.length);
  for (let i = 0; i < matrix.rows; i++) for (let j = 0; j < matrix.cols; j++) out[j * matrix.rows + i] = matrix.data[i * matrix.cols + j]!;
  return out;
}

const ACTIVATION_CLASSES = { Tanh: 'torch.nn.modules.activation.Tanh', Identity: 'torch.nn.modules.linear.Identity', ReLU: 'torch.nn.modules.activation.ReLU', GELU: 'torch.nn.modules.activation.GELU' };

/** Writes `<artifactsDir>/<repo>/…` and returns the weights for reference computations. */
export async function writeFixtureModel(artifactsDir: string, repo: string, options: FixtureOptions = {}): Promise<FixtureModel> {
  const family = options.family ?? 'wordpiece';
  const other = family === 'wordpiece' ? undefined : familyTokenizer(family);
  // Other families have no token types (XLM-R, decoders); their vocabulary is their tokenizer's.
  const shape = { ...SMALL_SHAPE, ...(other ? { vocab: other.vocabSize, tokenTypeIds: false } : {}), ...options.shape };
  const weights = options.int4 ? as4BitWeights(makeBertWeights(shape)) : makeBertWeights(shape);
  const vocabulary = other ? [] : fixtureVocabulary(shape.vocab);
  const pooling = options.pooling ?? ['mean'];
  const dense = denseWeights(options.dense ?? [], shape.hidden * pooling.length, shape.seed + 1);
  const dir = join(artifactsDir, repo);
  const st54 = options.st54 === true;
  const moduleType = (kind: string) => (st54 ? `sentence_transformers.${kind === 'Pooling' ? 'sentence_transformer.modules' : 'base.modules'}.${kind}` : `sentence_transformers.models.${kind}`);
  const denseModules = dense.map((_, index) => ({ idx: 2 + index, name: String(2 + index), path: `${2 + index}_Dense`, type: moduleType('Dense') }));
  const graph = options.graph ?? {};
  const onnxPath = options.onnxPath ?? 'onnx/model.onnx';
  const labelNames = options.crossEncoder?.labelNames ?? Array.from({ length: options.crossEncoder?.labels ?? 1 }, (_, i) => `LABEL_${i}`);
  const [head, out] = denseWeights([{ out: shape.hidden }, { out: labelNames.length }], shape.hidden, shape.seed + 2);
  const classifier = options.crossEncoder ? { dense: head!.weight, denseBias: head!.bias!, out: out!.weight, outBias: out!.bias! } : undefined;
  const llm = options.llmReranker;
  const vocab = (other?.tokenizer as { model?: { vocab?: Record<string, number> } } | undefined)?.model?.vocab;
  // Qwen3-Reranker's answer is "yes" or "no"; bge-reranker-v2-gemma's score is the "Yes" logit alone.
  const [yesId, noId] = other?.modelType === 'gemma' ? [vocab?.Yes, undefined] : [vocab?.yes, vocab?.no];
  if (llm && (yesId === undefined || (noId === undefined && other?.modelType !== 'gemma'))) throw new Error('an LLM reranker fixture needs a tokenizer with its answer tokens');
  const seeded = llm && llm !== 'lm-head-tied' ? seededMatrix(shape.hidden, shape.vocab, shape.seed + 3) : undefined;
  const headFormat = options.lmHeadFormat ?? 'float';
  // What the graph holds of it, which the reference uses.
  const headWeight = seeded && (headFormat === 'int4' ? as4BitMatrix(seeded) : headFormat === 'float16' ? asHalfGrid(seeded) : seeded);
  const headRow = (id: number) => (headWeight ? column(headWeight, id) : weights.wordEmbeddings.data.slice(id * shape.hidden, (id + 1) * shape.hidden));
  const yesNoRows = llm && { yes: headRow(yesId!), no: noId === undefined ? undefined : headRow(noId) };
  const { graph: graphBytes, external } = bertOnnxFiles(weights, {
    int8: options.int8,
    int4: options.int4,
    ...graph,
    sentenceEmbedding: graph.sentenceEmbedding ? { dense: dense.map(({ weight }) => weight) } : undefined,
    classifier,
    lmHead: llm === 'lm-head' ? { weight: headWeight!, format: headFormat } : llm === 'lm-head-tied' ? { tied: true } : undefined,
    lastTokenScore: llm === 'seq-cls' ? { weight: { rows: shape.hidden, cols: 1, data: yesNoRows!.yes.map((yes, i) => yes - yesNoRows!.no![i]!) }, padId: other!.padId } : undefined,
  });
  const crossEncoder = options.crossEncoder;
  const architecture = other ? { 'xlm-roberta': 'XLMRoberta', qwen3: 'Qwen3', gemma3_text: 'Gemma3', gemma: 'Gemma', modernbert: 'ModernBert', 'deberta-v2': 'DebertaV2' }[other.modelType]! : 'Bert';
  const activationConfig =
    crossEncoder?.activation === undefined
      ? {}
      : crossEncoder.legacyKey
        ? { sbert_ce_default_activation_function: crossEncoder.activation }
        : { sentence_transformers: { activation_fn: crossEncoder.activation, version: '5.1.0' } };
  const files: Record<string, string | Uint8Array> = {
    'config.json': JSON.stringify({
      architectures: [
        crossEncoder || llm === 'seq-cls'
          ? `${architecture}ForSequenceClassification`
          : other
            ? { 'xlm-roberta': 'XLMRobertaModel', qwen3: 'Qwen3ForCausalLM', gemma3_text: 'Gemma3TextModel', gemma: 'GemmaForCausalLM', modernbert: 'ModernBertModel', 'deberta-v2': 'DebertaV2Model' }[other.modelType]
            : 'BertModel',
      ],
      ...(llm === 'seq-cls' ? { id2label: { 0: 'LABEL_0' } } : {}),
      ...(crossEncoder ? { id2label: Object.fromEntries(labelNames.map((name, i) => [String(i), name])) } : {}),
      ...(crossEncoder?.problemType ? { problem_type: crossEncoder.problemType } : {}),
      ...activationConfig,
      model_type: other?.modelType ?? 'bert', vocab_size: shape.vocab, hidden_size: shape.hidden,
      num_hidden_layers: shape.layers, num_attention_heads: shape.heads, intermediate_size: shape.intermediate,
      max_position_embeddings: shape.maxPositions, type_vocab_size: 2, pad_token_id: other?.padId ?? 0,
      ...options.config,
    }),
    'tokenizer.json': JSON.stringify(other?.tokenizer ?? tokenizerJson(vocabulary, options.tokenizerLowercases !== false)),
    'tokenizer_config.json': JSON.stringify(
      other ? { ...other.config, model_max_length: options.modelMaxLength ?? other.config.model_max_length } : {
        tokenizer_class: 'BertTokenizer', do_lower_case: options.tokenizerLowercases !== false, model_max_length: options.modelMaxLength ?? 512,
        unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]',
      },
    ),
    'modules.json': JSON.stringify([
      { idx: 0, name: '0', path: '', type: moduleType('Transformer') },
      { idx: 1, name: '1', path: '1_Pooling', type: moduleType('Pooling') },
      ...denseModules,
      ...(options.normalize === false ? [] : [{ idx: 2 + dense.length, name: String(2 + dense.length), path: `${2 + dense.length}_Normalize`, type: moduleType('Normalize') }]),
    ]),
    '1_Pooling/config.json': JSON.stringify(
      st54
        ? { embedding_dimension: shape.hidden, pooling_mode: pooling.length === 1 ? ST54_MODE[pooling[0]!] : pooling.map((mode) => ST54_MODE[mode]), include_prompt: options.includePrompt ?? true }
        : {
            word_embedding_dimension: shape.hidden,
            ...Object.fromEntries(Object.entries(POOLING_KEYS).map(([mode, key]) => [key, pooling.includes(mode as PoolingMode)])),
            include_prompt: options.includePrompt ?? true,
          },
    ),
    [onnxPath]: graphBytes,
  };
  if (!other) {
    files['special_tokens_map.json'] = JSON.stringify({ unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' });
    files['vocab.txt'] = vocabulary.join('\n') + '\n';
  }
  for (const [name, bytes] of external) files[`${dirname(onnxPath)}/${name}`] = bytes;
  for (const [index, layer] of dense.entries()) {
    const path = denseModules[index]!.path;
    files[`${path}/config.json`] = JSON.stringify({
      in_features: layer.weight.rows, out_features: layer.weight.cols, bias: layer.bias !== undefined, activation_function: ACTIVATION_CLASSES[layer.activation],
    });
    const tensors = { 'linear.weight': { shape: [layer.weight.cols, layer.weight.rows], data: transposed(layer.weight) }, ...(layer.bias ? { 'linear.bias': { shape: [layer.bias.length], data: layer.bias } } : {}) };
    if (options.denseAsPytorch) files[`${path}/pytorch_model.bin`] = 'a pickle the server does not read';
    else files[`${path}/model.safetensors`] = safetensors(tensors);
  }
  if (options.prompts) {
    files['config_sentence_transformers.json'] = JSON.stringify({ prompts: options.prompts, default_prompt_name: options.defaultPromptName ?? null, similarity_fn_name: 'cosine' });
  }
  if (options.maxSeqLength !== null) {
    files['sentence_bert_config.json'] = JSON.stringify({ max_seq_length: options.maxSeqLength ?? 24, do_lower_case: options.doLowerCase ?? false });
  }
  if (crossEncoder || llm) {
    // Cross-encoder and LLM reranker repos have no sentence-transformers module files.
    delete files['modules.json'];
    delete files['1_Pooling/config.json'];
  }
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return { dir, weights, classifier, vocabulary, dense, padId: other?.padId ?? 0, yesNoRows };
}

const ST54_MODE: Record<PoolingMode, string> = { cls: 'cls', max: 'max', mean: 'mean', mean_sqrt_len: 'mean_sqrt_len_tokens', weightedmean: 'weightedmean', lasttoken: 'lasttoken' };
