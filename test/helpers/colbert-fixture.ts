/**
 * A PyLate ColBERT snapshot, laid out as such a repo is published (answerai-colbert-small-v1 for
 * BERT WordPiece, GTE-ModernColBERT-v1 for ModernBERT's BPE): the Transformer, then `1_Dense`
 * (`pylate.models.Dense.Dense`, no bias, Identity), no Pooling and no Normalize module, and
 * config_sentence_transformers.json with similarity_fn_name "MaxSim" and PyLate's fields. The
 * prefixes are tokens of the tokenizer ([unusedN] of the WordPiece vocabulary; "[Q] " and "[D] "
 * added to ModernBERT's), and tokenizer_config.json's pad_token is [MASK], as PyLate saves it.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { familyTokenizer } from './tokenizer-families.ts';
import { safetensorsFile, writeFixtureModel, type FixtureModel } from './fixture-model.ts';

export interface ColbertFixtureOptions {
  family?: 'wordpiece' | 'modernbert-bpe';
  /** The projection's width (1_Dense's out_features). */
  width?: number;
  /** config_sentence_transformers.json's fields over the defaults below; undefined values leave a field out. */
  config?: Record<string, unknown>;
}

export interface ColbertFixture extends FixtureModel {
  /** config_sentence_transformers.json as written. */
  config: Record<string, unknown>;
  width: number;
}

/** The ModernBERT tokenizer's added prefix tokens, after its own vocabulary. */
const MODERNBERT_PREFIXES = ['[Q] ', '[D] '];

export async function writeColbertFixture(artifactsDir: string, repo: string, options: ColbertFixtureOptions = {}): Promise<ColbertFixture> {
  const family = options.family ?? 'wordpiece';
  const width = options.width ?? 16;
  const modernBert = family === 'modernbert-bpe' ? familyTokenizer('modernbert-bpe') : undefined;
  const model = await writeFixtureModel(artifactsDir, repo, {
    family,
    ...(modernBert ? { shape: { vocab: modernBert.vocabSize + MODERNBERT_PREFIXES.length } } : {}),
    normalize: false,
    dense: [{ out: width, activation: 'Identity', bias: false }],
    maxSeqLength: 47,
  });
  const { dir } = model;
  const prefixes = modernBert ? MODERNBERT_PREFIXES : model.vocabulary.slice(-2);
  const config = Object.fromEntries(
    Object.entries({
      prompts: {}, default_prompt_name: null, similarity_fn_name: 'MaxSim',
      query_prefix: prefixes[0], document_prefix: prefixes[1], query_length: 12, document_length: 20,
      attend_to_expansion_tokens: false, skiplist_words: [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'], do_query_expansion: true,
      ...options.config,
    }).filter(([, value]) => value !== undefined),
  );
  await rm(join(dir, '1_Pooling'), { recursive: true });
  await mkdir(join(dir, '1_Dense'), { recursive: true });
  for (const file of ['config.json', 'model.safetensors']) await rename(join(dir, '2_Dense', file), join(dir, '1_Dense', file));
  await rm(join(dir, '2_Dense'), { recursive: true });
  await writeFile(join(dir, 'modules.json'), JSON.stringify([
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Dense', type: 'pylate.models.Dense.Dense' },
  ]));
  await writeFile(join(dir, 'config_sentence_transformers.json'), JSON.stringify(config));
  const tokenizerConfig = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...tokenizerConfig, pad_token: '[MASK]' }));
  if (modernBert) {
    const tokenizer = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: object[] };
    MODERNBERT_PREFIXES.forEach((content, index) =>
      tokenizer.added_tokens.push({ id: modernBert.vocabSize + index, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false }),
    );
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  }
  return { ...model, config, width };
}

/**
 * The snapshot rewritten as a Stanford ColBERT checkpoint (colbert-ir/colbertv2.0): config.json's
 * architecture HF_ColBERT, artifact.metadata, the projection as `linear.weight` inside the
 * checkpoint's own model.safetensors (beside an encoder tensor), no modules.json or PyLate config;
 * `config` then holds the settings PyLate derives from them (its default skiplist).
 */
export async function asStanfordCheckpoint(model: ColbertFixture, metadata: { query_maxlen: number; doc_maxlen: number }): Promise<ColbertFixture> {
  const { dir } = model;
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['HF_ColBERT'] }));
  for (const file of ['modules.json', 'config_sentence_transformers.json']) await rm(join(dir, file));
  await rm(join(dir, '1_Dense'), { recursive: true });
  const [prefixQuery, prefixDocument] = [model.config.query_prefix, model.config.document_prefix];
  await writeFile(join(dir, 'artifact.metadata'), JSON.stringify({ query_token_id: prefixQuery, doc_token_id: prefixDocument, ...metadata, attend_to_mask_tokens: false, mask_punctuation: true }));
  const { weight } = model.dense[0]!;
  const projection = new Float32Array(weight.data.length);
  for (let i = 0; i < weight.rows; i++) for (let j = 0; j < weight.cols; j++) projection[j * weight.rows + i] = weight.data[i * weight.cols + j]!;
  const encoder = model.weights.embeddingNormScale;
  const header = {
    'bert.embeddings.LayerNorm.weight': { dtype: 'F32', shape: [encoder.length], data_offsets: [0, encoder.byteLength] },
    'linear.weight': { dtype: 'F32', shape: [weight.cols, weight.rows], data_offsets: [encoder.byteLength, encoder.byteLength + projection.byteLength] },
  };
  await writeFile(join(dir, 'model.safetensors'), safetensorsFile(header, Buffer.concat([Buffer.from(encoder.buffer, encoder.byteOffset, encoder.byteLength), Buffer.from(projection.buffer)])));
  const settings = {
    ...model.config, query_length: metadata.query_maxlen, document_length: metadata.doc_maxlen, attend_to_expansion_tokens: false, do_query_expansion: true,
    skiplist_words: [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'],
  };
  return { ...model, config: settings };
}
