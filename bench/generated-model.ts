/** The bench's generated models: MiniLM-L6's shape and cost with random weights, and a real tokenizer when one is at hand. */
import { copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelsFile, type ModelSpec } from '../src/models-file.ts';
import { MINILM_SHAPE, writeFixtureModel, type FixtureOptions } from '../test/helpers/fixture-model.ts';
import { writeSparseModel } from '../test/helpers/sparse-fixture.ts';

/** ../shared's MiniLM tokenizer, used when present. */
export const DEFAULT_TOKENIZER = new URL('../../shared/fixtures/hf/sentence-transformers/all-MiniLM-L6-v2', import.meta.url).pathname;

/** `dir` if it holds a tokenizer.json. */
export const tokenizerAt = (dir: string) => (existsSync(join(dir, 'tokenizer.json')) ? dir : undefined);

/** A generated MiniLM-L6-shaped model, with `realTokenizer`'s files when given (else the fixture's WordPiece tokenizer). */
export async function generatedModel(artifactsDir: string, repo: string, options: FixtureOptions, realTokenizer?: string): Promise<ModelSpec> {
  await writeFixtureModel(artifactsDir, repo, { shape: MINILM_SHAPE, maxSeqLength: 256, ...options });
  return withTokenizer(artifactsDir, repo, realTokenizer);
}

/**
 * A generated SPLADE model (sentence-transformers' MLMTransformer + SpladePooling, max, relu): the MiniLM-L6-shaped
 * encoder of generatedModel's (the same weights) with a masked-language head tied to its 30 522 word embeddings.
 */
export async function generatedSpladeModel(artifactsDir: string, repo: string, realTokenizer?: string): Promise<ModelSpec> {
  await writeSparseModel(artifactsDir, repo, { layout: 'st5', shape: MINILM_SHAPE, seed: MINILM_SHAPE.seed, maxSeqLength: 256 });
  return withTokenizer(artifactsDir, repo, realTokenizer);
}

async function withTokenizer(artifactsDir: string, repo: string, realTokenizer: string | undefined): Promise<ModelSpec> {
  if (realTokenizer) {
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
      if (existsSync(join(realTokenizer, file))) await copyFile(join(realTokenizer, file), join(artifactsDir, repo, file));
    }
  }
  return parseModelsFile(repo, 'bench')[0]!;
}
