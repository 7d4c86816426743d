/**
 * A late-interaction (ColBERT) model's settings, read as PyLate's `ColBERT` reads them: a PyLate
 * repo's `config_sentence_transformers.json` (similarity_fn_name "MaxSim", query_prefix,
 * document_prefix, query_length, document_length, attend_to_expansion_tokens, skiplist_words,
 * do_query_expansion), or a Stanford ColBERT checkpoint's (`HF_ColBERT`) `artifact.metadata`
 * (query_token_id, doc_token_id, query_maxlen, doc_maxlen, attend_to_mask_tokens); what neither
 * gives takes PyLate's defaults.
 */
import { access, readFile } from 'node:fs/promises';
import { Tokenizer } from 'tokenizers';
import { join } from 'node:path';
import { positive, readJson, type Json } from './config-json.ts';
import type { DenseLayer } from './modules.ts';
import { readSafetensorsLayout } from './safetensors.ts';
import { colbertTokenIds, sideTextLimit, type ColbertTokenIds } from '../tokenizing/colbert-input.ts';

/** Python's string.punctuation, PyLate's default skiplist. */
export const PUNCTUATION = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];

export interface ColbertSettings {
  /** The token put after a query's first one ([CLS]); undefined: none (the config's prefix is ""). */
  queryPrefix: string | undefined;
  documentPrefix: string | undefined;
  /** A query's tokens, prefix included: it is cut to this, and padded to it with the mask token when `queryExpansion`. */
  queryLength: number;
  /** A document's tokens at most, prefix included. */
  documentLength: number;
  queryExpansion: boolean;
  /** Whether the attention sees a query's expansion (mask) tokens; their vectors are returned either way. */
  attendToExpansionTokens: boolean;
  /** Tokens (looked up whole in the vocabulary) whose vectors are dropped from documents. */
  skiplistWords: string[];
  /** What queries are padded with (tokenizer_config.json): the mask token, else the end-of-sequence one, else the padding one. */
  expansionToken: string | undefined;
  /** What a skiplist word the vocabulary lacks stands for. */
  unknownToken: string | undefined;
}

/** PyLate's defaults for what a PyLate config leaves out; a Stanford checkpoint's prefixes default to BERT's unused tokens. */
const DEFAULTS = { queryPrefix: '[Q] ', documentPrefix: '[D] ', queryLength: 32, documentLength: 180 };
const STANFORD_PREFIXES = { queryPrefix: '[unused0]', documentPrefix: '[unused1]' };

/** Whether the repo is a ColBERT model: PyLate's MaxSim config, or a Stanford `HF_ColBERT` checkpoint. */
export function isColbert(config: Json, stConfig: Json): boolean {
  const architectures = Array.isArray(config.architectures) ? (config.architectures as unknown[]) : [];
  return stConfig.similarity_fn_name === 'MaxSim' || architectures[0] === 'HF_ColBERT';
}

const prefixOf = (value: unknown, fallback: string): string | undefined => {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') throw new Error(`a ColBERT prefix must be a string, not ${JSON.stringify(value)}`);
  return value === '' ? undefined : value;
};

const flagOf = (value: unknown, fallback: boolean): boolean => (typeof value === 'boolean' ? value : fallback);

const lengthOf = (value: unknown, fallback: number, name: string): number => {
  if (value === undefined || value === null) return fallback;
  const length = positive(value);
  if (!length || length < 2) throw new Error(`${name} ${JSON.stringify(value)} is not a token count of at least 2`);
  return length;
};

/** A special token as tokenizer_config.json writes it: a string, or an object with its content. */
const tokenContent = (token: unknown): string | undefined =>
  typeof token === 'string' ? token : typeof token === 'object' && token !== null && typeof (token as Json).content === 'string' ? ((token as Json).content as string) : undefined;

/** The settings of a ColBERT repo (isColbert), from its config files. */
export async function readColbertSettings(dir: string, stConfig: Json, tokenizerConfig: Json): Promise<ColbertSettings> {
  const stanford = stConfig.similarity_fn_name !== 'MaxSim';
  const metadata = stanford ? ((await readJson(join(dir, 'artifact.metadata'))) ?? {}) : {};
  const fields = stanford
    ? {
        queryPrefix: metadata.query_token_id,
        documentPrefix: metadata.doc_token_id,
        queryLength: metadata.query_maxlen,
        documentLength: metadata.doc_maxlen,
        attend: metadata.attend_to_mask_tokens,
        expansion: undefined,
        skiplist: undefined,
      }
    : {
        queryPrefix: stConfig.query_prefix,
        documentPrefix: stConfig.document_prefix,
        queryLength: stConfig.query_length,
        documentLength: stConfig.document_length,
        attend: stConfig.attend_to_expansion_tokens,
        expansion: stConfig.do_query_expansion,
        skiplist: stConfig.skiplist_words,
      };
  const prefixes = stanford ? STANFORD_PREFIXES : DEFAULTS;
  const queryExpansion = flagOf(fields.expansion, true);
  const skiplist = fields.skiplist ?? PUNCTUATION;
  if (!Array.isArray(skiplist) || !skiplist.every((word) => typeof word === 'string')) throw new Error(`skiplist_words ${JSON.stringify(skiplist)} is not a list of strings`);
  return {
    queryPrefix: prefixOf(fields.queryPrefix, prefixes.queryPrefix),
    documentPrefix: prefixOf(fields.documentPrefix, prefixes.documentPrefix),
    queryLength: lengthOf(fields.queryLength, DEFAULTS.queryLength, 'query_length'),
    documentLength: lengthOf(fields.documentLength, DEFAULTS.documentLength, 'document_length'),
    queryExpansion,
    // Without expansion there are no expansion tokens to attend to, as PyLate sets it.
    attendToExpansionTokens: queryExpansion && flagOf(fields.attend, false),
    skiplistWords: skiplist as string[],
    expansionToken: tokenContent(tokenizerConfig.mask_token) ?? tokenContent(tokenizerConfig.eos_token) ?? tokenContent(tokenizerConfig.pad_token),
    unknownToken: tokenContent(tokenizerConfig.unk_token),
  };
}

/** The tensor of a Stanford checkpoint's model.safetensors that projects token states (`[out, in]`, no bias). */
const STANFORD_PROJECTION = 'linear.weight';

/**
 * A Stanford ColBERT checkpoint's projection, as PyLate's Dense.from_stanford_weights takes it: the
 * `linear.weight` of the checkpoint's own model.safetensors, no bias, no activation.
 */
export async function stanfordProjection(dir: string): Promise<DenseLayer> {
  const weightsFile = join(dir, 'model.safetensors');
  try {
    await access(weightsFile);
  } catch {
    throw new Error(`a Stanford ColBERT checkpoint's projection (${STANFORD_PROJECTION}) is read from ${weightsFile}, which is missing (this server does not read pytorch_model.bin)`);
  }
  const shape = (await readSafetensorsLayout(weightsFile)).get(STANFORD_PROJECTION)?.shape;
  if (!shape || shape.length !== 2) throw new Error(`${weightsFile} has no ${STANFORD_PROJECTION} [out, in], the checkpoint's projection`);
  const [outFeatures, inFeatures] = shape as [number, number];
  return { path: '.', inFeatures, outFeatures, bias: false, activation: 'Identity', residual: false, weightsFile };
}

/** A ColBERT model as the main thread encodes for it: its settings, and their tokens as ids of its tokenizer. */
export interface ColbertModel {
  settings: ColbertSettings;
  tokens: ColbertTokenIds;
}

/**
 * A ColBERT repo's settings and projection (`dense`: modules.json's, else a Stanford checkpoint's own), and the
 * tokenizer's limit: the longer side's text limit (the other side's texts are cut further, colbert-input.ts).
 */
export async function describeColbert(dir: string, stConfig: Json, tokenizerConfig: Json, dense: DenseLayer[]): Promise<{ colbert: ColbertModel; dense: DenseLayer[]; maxTokens: number }> {
  const settings = await readColbertSettings(dir, stConfig, tokenizerConfig);
  const projection = dense.length > 0 || stConfig.similarity_fn_name === 'MaxSim' ? dense : [await stanfordProjection(dir)];
  const vocabulary = Tokenizer.fromString(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  const tokens = colbertTokenIds(settings, (token) => vocabulary.tokenToId(token) ?? undefined);
  return { colbert: { settings, tokens }, dense: projection, maxTokens: Math.max(sideTextLimit(settings, 'query'), sideTextLimit(settings, 'document')) };
}
