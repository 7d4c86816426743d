/**
 * Writes a complete sentence-transformers model repo — WordPiece tokenizer,
 * configs and a generated BERT ONNX graph — into an artifacts directory, laid
 * out as `huggingface-cli download` leaves it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bertOnnxBytes, makeBertWeights, type BertShape, type BertWeights } from './bert-onnx.ts';
import type { PoolingMode } from '../../src/inference/pooling.ts';

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
  /** config_sentence_transformers.json's prompts and default_prompt_name (the file is left out without prompts). */
  prompts?: Record<string, string>;
  defaultPromptName?: string;
  /** 1_Pooling/config.json's include_prompt. */
  includePrompt?: boolean;
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
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
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
  vocabulary: string[];
}

/** Writes `<artifactsDir>/<repo>/…` and returns the weights for reference computations. */
export async function writeFixtureModel(artifactsDir: string, repo: string, options: FixtureOptions = {}): Promise<FixtureModel> {
  const shape = { ...SMALL_SHAPE, ...options.shape };
  const weights = makeBertWeights(shape);
  const vocabulary = fixtureVocabulary(shape.vocab);
  const pooling = options.pooling ?? ['mean'];
  const dir = join(artifactsDir, repo);
  const files: Record<string, string | Uint8Array> = {
    'config.json': JSON.stringify({
      architectures: ['BertModel'], model_type: 'bert', vocab_size: shape.vocab, hidden_size: shape.hidden,
      num_hidden_layers: shape.layers, num_attention_heads: shape.heads, intermediate_size: shape.intermediate,
      max_position_embeddings: shape.maxPositions, type_vocab_size: 2, pad_token_id: 0,
    }),
    'tokenizer.json': JSON.stringify(tokenizerJson(vocabulary, options.tokenizerLowercases !== false)),
    'tokenizer_config.json': JSON.stringify({
      tokenizer_class: 'BertTokenizer', do_lower_case: options.tokenizerLowercases !== false, model_max_length: options.modelMaxLength ?? 512,
      unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]',
    }),
    'special_tokens_map.json': JSON.stringify({ unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' }),
    'vocab.txt': vocabulary.join('\n') + '\n',
    'modules.json': JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      ...(options.normalize === false ? [] : [{ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }]),
    ]),
    '1_Pooling/config.json': JSON.stringify({
      word_embedding_dimension: shape.hidden,
      ...Object.fromEntries(Object.entries(POOLING_KEYS).map(([mode, key]) => [key, pooling.includes(mode as PoolingMode)])),
      include_prompt: options.includePrompt ?? true,
    }),
    [options.onnxPath ?? 'onnx/model.onnx']: bertOnnxBytes(weights, { int8: options.int8 }),
  };
  if (options.prompts) {
    files['config_sentence_transformers.json'] = JSON.stringify({ prompts: options.prompts, default_prompt_name: options.defaultPromptName ?? null, similarity_fn_name: 'cosine' });
  }
  if (options.maxSeqLength !== null) {
    files['sentence_bert_config.json'] = JSON.stringify({ max_seq_length: options.maxSeqLength ?? 24, do_lower_case: options.doLowerCase ?? false });
  }
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return { dir, weights, vocabulary };
}
