/**
 * bge-m3's three outputs from one pass: a generated bge-m3-shaped model (XLM-R tokenizer, bge-m3's widths: 1024 wide,
 * 16 heads, ColBERT vectors of 1024; float16 `.pt` heads as published), by default of bge-m3's 24 layers, so that the
 * encoder's cost per token stands to the 1024 floats a token's ColBERT vector returns as it does on bge-m3 (4 layers run
 * 6× faster and weigh the answers 6× more), under query load (one text per request) and
 * indexing load (8 per request, base64), dense alone and dense + sparse + ColBERT, against what ONNX Runtime
 * alone does with the same graph and texts (N single-thread sessions; one N-thread session). The
 * ratio of the two server rows is what the sparse and ColBERT heads cost over dense alone.
 */
import { describeModel } from '../src/inference/files/model-files.ts';
import { loadTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { writeBgeM3Fixture } from '../test/helpers/bge-m3-fixture.ts';
import type { ServerProcess } from '../test/helpers/server-process.ts';
import { limitsAroundScenarios, type LimitResult } from './limit.ts';
import { combineLoads, runLoad, type LoadResult } from './load.ts';
import { makeTexts } from './texts.ts';

export interface BgeM3Suite {
  /** The model's depth (bge-m3 has 24). */
  layers: number;
  plan: string;
  limits: { query: LimitResult; queryOneSession: LimitResult; index: LimitResult; indexOneSession: LimitResult };
  /** Query answers as JSON numbers (curl's way), and all three as base64 too (the OpenAI SDKs' way). */
  query: { dense: LoadResult; allThree: LoadResult; allThreeBase64: LoadResult };
  index: { dense: LoadResult; allThree: LoadResult };
}

const ALL_THREE = { outputs: ['dense', 'sparse', 'colbert'] };
const BGE_M3_WIDTHS = { hidden: 1024, heads: 16, intermediate: 4096, maxPositions: 512 };
/**
 * 8 texts of up to 256 tokens a request, on 4 connections: at 24 layers on 2 cores, 4 × 16 texts queued ~35 s of work, and
 * some answers passed REQUEST_TIMEOUT_MS (4 of 18 in one run). Well within MAX_MULTI_VECTOR_VALUES' default too.
 */
const INDEX_TEXTS_PER_REQUEST = 8;
/** The index limit's batch sizes: up to ~2 200 tokens a run (the server's runs hold at most 512), not 32 × 138 (28 s a run at 24 layers). */
const INDEX_LIMIT_BATCH_SIZES = [1, 4, 16];

export interface BgeM3SuiteSettings {
  cpus: number;
  seconds: number;
  limitSeconds: number;
  indexRequests: number;
  layers: number;
  withServer: <T>(artifactsDir: string, spec: ReturnType<typeof parseModelsFile>[number], run: (server: ServerProcess) => Promise<T>) => Promise<T>;
  planOf: (server: ServerProcess) => string;
}

export async function bgeM3Suite(artifactsDir: string, settings: BgeM3SuiteSettings): Promise<BgeM3Suite> {
  const { cpus, seconds, limitSeconds, indexRequests, layers } = settings;
  const repo = 'bench/bge-m3-shaped';
  await writeBgeM3Fixture(artifactsDir, repo, { layout: 'files', shape: { ...BGE_M3_WIDTHS, layers }, maxSeqLength: 256 });
  const spec = parseModelsFile(repo, 'bench')[0]!;
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: description.lowercase });
  const queryTexts = await makeTexts(tokenizer, 2048, 8, 32, 1);
  const indexTexts = await makeTexts(tokenizer, 512, 16, 256, 2);
  const sequences = async (texts: typeof queryTexts) => (await tokenizer.encode(texts.map(({ text }) => text))).map(({ ids }) => ids);
  return settings.withServer(artifactsDir, spec, async (server) => {
    const plan = settings.planOf(server);
    const query = (fields?: object, base64 = false) => runLoad(server, { model: spec.id, texts: queryTexts, textsPerRequest: 1, base64, connections: 64, seconds, fields: { ...fields } });
    // Bulk clients take base64 (the OpenAI SDKs' default).
    const index = (fields?: object) =>
      runLoad(server, { model: spec.id, texts: indexTexts, textsPerRequest: INDEX_TEXTS_PER_REQUEST, base64: true, connections: Math.max(4, cpus / 2), requests: indexRequests, fields: { ...fields } });
    await runLoad(server, { model: spec.id, texts: queryTexts, textsPerRequest: 1, connections: 16, seconds: 3, fields: ALL_THREE });
    // Dense first and last around all three: the machine's drift falls on both alike.
    const queryTurns = async () => {
      const denseFirst = await query();
      const [allFirst, base64First, base64Second, allSecond] = [await query(ALL_THREE), await query(ALL_THREE, true), await query(ALL_THREE, true), await query(ALL_THREE)];
      const denseSecond = await query();
      return { dense: combineLoads(denseFirst, denseSecond), allThree: combineLoads(allFirst, allSecond), allThreeBase64: combineLoads(base64First, base64Second) };
    };
    const indexTurns = async () => {
      const [denseFirst, allFirst, allSecond, denseSecond] = [await index(), await index(ALL_THREE), await index(ALL_THREE), await index()];
      return { dense: combineLoads(denseFirst, denseSecond), allThree: combineLoads(allFirst, allSecond) };
    };
    const queryRun = await limitsAroundScenarios(description.onnxFile, await sequences(queryTexts), cpus, limitSeconds, queryTurns);
    const indexRun = await limitsAroundScenarios(description.onnxFile, await sequences(indexTexts), cpus, limitSeconds, indexTurns, INDEX_LIMIT_BATCH_SIZES);
    const suite: BgeM3Suite = {
      layers,
      plan,
      limits: { query: queryRun.parallel, queryOneSession: queryRun.oneSession, index: indexRun.parallel, indexOneSession: indexRun.oneSession },
      query: queryRun.results,
      index: indexRun.results,
    };
    const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
    const row = (scenario: string, load: LoadResult, limit: LimitResult, oneSession: LimitResult, dense?: LoadResult) => ({
      scenario,
      'texts/s': round(load.textsPerSecond, 1),
      'tokens/s': round(load.tokensPerSecond, 0),
      'p50 ms': round(load.latencyMs.p50, 1),
      'p99 ms': round(load.latencyMs.p99, 1),
      // Tokens, not texts: a limit's run takes seconds at this depth, so its window holds a few batches, and texts/s is
      // whatever their lengths were (an index window of one 16-text batch read 2.5 texts/s at 269 tokens/s, the
      // server 1.8 at 270).
      'x limit': round(load.tokensPerSecond / limit.tokensPerSecond),
      'x 1 session': round(load.tokensPerSecond / oneSession.tokensPerSecond),
      'cost over dense': dense ? `${Math.round((dense.textsPerSecond / load.textsPerSecond - 1) * 100)} %` : '',
      errors: load.errors,
      batch: round(load.batches.meanSize, 1),
    });
    console.log(`\nbge-m3-shaped (${layers} layers × 1024, float16 .pt heads): ${plan}`);
    console.table([
      row('query, dense', suite.query.dense, suite.limits.query, suite.limits.queryOneSession),
      row('query, dense+sparse+colbert', suite.query.allThree, suite.limits.query, suite.limits.queryOneSession, suite.query.dense),
      row('query, all three, base64', suite.query.allThreeBase64, suite.limits.query, suite.limits.queryOneSession, suite.query.dense),
      row('index, dense', suite.index.dense, suite.limits.index, suite.limits.indexOneSession),
      row('index, dense+sparse+colbert', suite.index.allThree, suite.limits.index, suite.limits.indexOneSession, suite.index.dense),
    ]);
    return suite;
  });
}
