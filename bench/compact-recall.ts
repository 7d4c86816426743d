/**
 * What compact vectors cost in retrieval: recall@10 against float search, on the bench's corpus (texts.ts) embedded by
 * the server (Cohere's /v2/embed, every type from one run). Each query's float top 10 (dot product of normalised
 * vectors) is the truth; measured:
 * - int8: top 10 by the dot product of the int8 vectors (what an int8 index computes), and its top 10 × `--rescore`
 *   rescored by the float query against the int8 documents (sentence-transformers' semantic_search_* rescoring);
 * - binary: top 10 by Hamming distance of the ubinary vectors, no rescoring;
 * - binary, rescored: the Hamming top 10 × `--rescore` candidates rescored by the float query against the float
 *   document vectors (kept on disk), and against the documents' bits as 0/1 (sentence-transformers'
 *   semantic_search_* rescoring, when only the binary index is kept).
 *
 *   node --import tsx bench/compact-recall.ts [--documents 1000] [--queries 100] [--rescore 4]
 *
 * The model is MiniLM-L6's shape with generated (random) weights, and ../shared's MiniLM tokenizer when present.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.ts';
import { describeModel } from '../src/inference/files/model-files.ts';
import { loadTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
import { Registry } from '../src/registry.ts';
import { DEFAULT_TOKENIZER, generatedModel, tokenizerAt } from './generated-model.ts';
import { makeTexts } from './texts.ts';

const { values } = parseArgs({ options: { documents: { type: 'string', default: '1000' }, queries: { type: 'string', default: '100' }, rescore: { type: 'string', default: '4' } } });
const DOCUMENTS = Number(values.documents);
const QUERIES = Number(values.queries);
const RESCORE = Number(values.rescore);
const K = 10;
const REQUEST_TEXTS = 256;

type Embeddings = { float: number[][]; int8: number[][]; ubinary: number[][] };

function topK(count: number, score: (index: number) => number, k: number): number[] {
  const scored = Array.from({ length: count }, (_, index) => ({ index, score: score(index) }));
  return scored.sort((a, b) => b.score - a.score || a.index - b.index).slice(0, k).map(({ index }) => index);
}

const dot = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + value * b[index]!, 0);
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => byte.toString(2).replaceAll('0', '').length);
const hamming = (a: number[], b: number[]) => a.reduce((sum, byte, index) => sum + POPCOUNT[byte ^ b[index]!]!, 0);
const bits = (bytes: number[]) => bytes.flatMap((byte) => Array.from({ length: 8 }, (_, bit) => (byte >> (7 - bit)) & 1));
const overlap = (found: number[], truth: number[]) => found.filter((index) => truth.includes(index)).length / truth.length;
const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;

const artifactsDir = await mkdtemp(join(tmpdir(), 'compact-recall-'));
try {
  const realTokenizer = tokenizerAt(DEFAULT_TOKENIZER);
  const spec = await generatedModel(artifactsDir, 'bench/recall', {}, realTokenizer);
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: description.lowercase });
  const documents = (await makeTexts(tokenizer, DOCUMENTS, 16, 128, 11)).map(({ text }) => text);
  const queries = (await makeTexts(tokenizer, QUERIES, 4, 24, 12)).map(({ text }) => text);
  const registry = await Registry.open([spec], { artifactsDir, workersPerModel: 1, intraOpThreads: 2, batching: { maxBatchTokens: 8192, maxBatchSize: 64 } });
  const app = await buildApp({ registry, bodyLimit: 64 * 1024 * 1024 });
  await registry.ready;
  const embed = async (texts: string[], inputType: string): Promise<Embeddings> => {
    const all: Embeddings = { float: [], int8: [], ubinary: [] };
    for (let start = 0; start < texts.length; start += REQUEST_TEXTS) {
      const payload = { model: spec.id, texts: texts.slice(start, start + REQUEST_TEXTS), input_type: inputType, embedding_types: ['float', 'int8', 'ubinary'] };
      const response = await app.inject({ method: 'POST', url: '/v2/embed', payload });
      if (response.statusCode !== 200) throw new Error(response.body);
      const { embeddings } = response.json() as { embeddings: Embeddings };
      for (const type of ['float', 'int8', 'ubinary'] as const) all[type].push(...embeddings[type]);
    }
    return all;
  };
  const started = performance.now();
  const corpus = await embed(documents, 'search_document');
  const asked = await embed(queries, 'search_query');
  const embedSeconds = (performance.now() - started) / 1000;

  const recalls = { int8: [] as number[], int8Rescored: [] as number[], binary: [] as number[], binaryRescoredFloat: [] as number[], binaryRescoredBits: [] as number[] };
  for (let query = 0; query < QUERIES; query++) {
    const truth = topK(DOCUMENTS, (doc) => dot(asked.float[query]!, corpus.float[doc]!), K);
    const int8Candidates = topK(DOCUMENTS, (doc) => dot(asked.int8[query]!, corpus.int8[doc]!), K * RESCORE);
    recalls.int8.push(overlap(int8Candidates.slice(0, K), truth));
    const int8Rescored = topK(int8Candidates.length, (index) => dot(asked.float[query]!, corpus.int8[int8Candidates[index]!]!), K).map((index) => int8Candidates[index]!);
    recalls.int8Rescored.push(overlap(int8Rescored, truth));
    const candidates = topK(DOCUMENTS, (doc) => -hamming(asked.ubinary[query]!, corpus.ubinary[doc]!), K * RESCORE);
    recalls.binary.push(overlap(candidates.slice(0, K), truth));
    const rescored = (score: (doc: number) => number) => topK(candidates.length, (index) => score(candidates[index]!), K).map((index) => candidates[index]!);
    recalls.binaryRescoredFloat.push(overlap(rescored((doc) => dot(asked.float[query]!, corpus.float[doc]!)), truth));
    recalls.binaryRescoredBits.push(overlap(rescored((doc) => dot(asked.float[query]!, bits(corpus.ubinary[doc]!))), truth));
  }
  await app.close();
  await registry.close();
  console.log(
    JSON.stringify(
      {
        model: `${spec.id}: MiniLM-L6 shape, generated weights, ${realTokenizer ? "all-MiniLM-L6-v2's tokenizer" : "the fixture's WordPiece tokenizer"}`,
        corpus: `${DOCUMENTS} documents of 16-128 tokens, ${QUERIES} queries of 4-24 tokens (bench/texts.ts)`,
        embedSeconds: Number(embedSeconds.toFixed(1)),
        // How far apart the documents are: generated weights make them crowd together, which makes any ranking fragile.
        meanDocumentCosine: Number(mean(Array.from({ length: 1000 }, (_, pair) => dot(corpus.float[(pair * 7) % DOCUMENTS]!, corpus.float[(pair * 13 + 1) % DOCUMENTS]!))).toFixed(3)),
        [`recall@${K} vs float`]: {
          int8: Number(mean(recalls.int8).toFixed(3)),
          [`int8, top ${K * RESCORE} rescored with the float query (sentence-transformers)`]: Number(mean(recalls.int8Rescored).toFixed(3)),
          binary: Number(mean(recalls.binary).toFixed(3)),
          [`binary, top ${K * RESCORE} rescored with float documents`]: Number(mean(recalls.binaryRescoredFloat).toFixed(3)),
          [`binary, top ${K * RESCORE} rescored with the documents' bits (sentence-transformers)`]: Number(mean(recalls.binaryRescoredBits).toFixed(3)),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await rm(artifactsDir, { recursive: true, force: true });
}
