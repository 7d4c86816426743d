/**
 * `npm run bench [-- --suites fp32,int8,serving --seconds 20 --tokenizer DIR | --model <id>]`:
 * throughput and latency of the server, started with its default settings, under query-time
 * and indexing-time load, against what ONNX Runtime alone does with the same texts on every
 * core (N single-thread sessions in N worker threads), beside one N-thread session. Suites:
 * `fp32` and `int8` (a generated MiniLM-L6-shaped model, its dense layers quantised for int8),
 * and `serving` (a 0-layer model, so inference costs almost nothing, against the one-thread
 * floor of parsing, tokenising and answering JSON: see floor-server.ts). A benchmark, not a
 * test: numbers vary run to run, so read the ratios. Results go to bench/results/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { detectCapacity } from '../src/capacity.ts';
import { loadServerConfig } from '../src/config.ts';
import { hiddenStateGraph } from '../src/inference/files/lm-head-graph.ts';
import { describeModel } from '../src/inference/files/model-files.ts';
import { logitsHeadOf } from '../src/inference/heads/head-spec.ts';
import { loadRerankPrompt } from '../src/inference/tokenizing/llm-rerank-prompt.ts';
import { loadTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
import { loadModelsFile, parseModelsFile, type ModelSpec } from '../src/models-file.ts';
import { MINILM_SHAPE, writeFixtureModel } from '../test/helpers/fixture-model.ts';
import { startServer, type ServerProcess } from '../test/helpers/server-process.ts';
import { bgeM3Suite, type BgeM3Suite } from './bge-m3-suite.ts';
import { chartSvg } from './chart.ts';
import { DEFAULT_TOKENIZER, generatedModel, generatedSpladeModel, tokenizerAt } from './generated-model.ts';
import { limitsAroundScenarios, meanLimit, measureLimit, measureParallelLimit, type LimitResult } from './limit.ts';
import { combineLoads, runLoad, type LoadResult } from './load.ts';
import { runMixed, type MixedResult } from './mixed.ts';
import { makeTexts, type BenchText } from './texts.ts';

export interface ModelSuite {
  model: string;
  /** The server's own account of its plan (its start-up log line). */
  plan: string;
  rssAfterLoadMb: number;
  limits: { query: LimitResult; index: LimitResult; queryOneSession: LimitResult; indexOneSession: LimitResult };
  scenarios: { query: LoadResult; query256: LoadResult; index: LoadResult };
  concurrency?: LoadResult[];
  mixed?: MixedResult;
}

export interface ServingSuite {
  plan: string;
  floor: { single: LoadResult; batch64: LoadResult };
  server: { single: LoadResult; batch64: LoadResult };
}

export interface RerankSuite {
  plan: string;
  /** What N single-thread sessions do with the same pairs (pairs/s as texts/s). */
  limit: LimitResult;
  /** What one session with every core's threads does with the same pairs (LLM rerank). */
  oneSession?: LimitResult;
  /** By connections: each request 1 query × 100 documents (LLM rerank: 20). */
  loads: LoadResult[];
}

export interface ClassifySuite {
  plan: string;
  /** What one session with every core's threads does with the same texts (the single-session limit), and N single-thread sessions. */
  oneSession: LimitResult;
  limit: LimitResult;
  load: LoadResult;
}

export interface LongSuite {
  plan: string;
  limit: LimitResult;
  load: LoadResult;
}

/** SPLADE against its dense twin (the same encoder, mean pooling): each held to the ONNX Runtime limit of its own graph. */
export interface SparseSuite {
  sparse: ModelSuite;
  dense: ModelSuite;
}

export interface BenchReport {
  date: string;
  cpus: number;
  tokenizer: string;
  suites: { fp32?: ModelSuite; int8?: ModelSuite; serving?: ServingSuite; long?: LongSuite; rerank?: RerankSuite; sparse?: SparseSuite; classify?: ClassifySuite; 'bge-m3'?: BgeM3Suite; 'llm-rerank'?: RerankSuite };
}

const USAGE = `usage: npm run bench -- [options]
  --suites LIST         fp32, int8, serving, long, rerank, sparse, classify, bge-m3, llm-rerank (comma-separated; default fp32,int8,serving)
  --seconds N           length of each load scenario (default 20)
  --limit-seconds N     length of each ONNX Runtime limit measurement (default 4)
  --index-requests N    64-text requests in the index scenario (default 24; bge-m3's: 8-text requests)
  --bge-m3-layers N     layers of the bge-m3-shaped model (default 24, bge-m3's own; 4 runs 6× faster and
                        weighs the answers' JSON 6× more against the encoder)
  --tokenizer DIR       a tokenizer.json folder for the generated models (default: ../shared's MiniLM tokenizer if present)
  --model ID            bench a model of MODELS_FILE in ARTIFACTS_DIR instead of the generated ones
  --help                this text
Results go to bench/results/ (a whole default run replaces latest.json/svg; others go beside them).`;

const OPTIONS = {
  model: { type: 'string' },
  suites: { type: 'string', default: 'fp32,int8,serving' },
  seconds: { type: 'string', default: '20' },
  'limit-seconds': { type: 'string', default: '4' },
  'index-requests': { type: 'string', default: '24' },
  'bge-m3-layers': { type: 'string', default: '24' },
  tokenizer: { type: 'string', default: DEFAULT_TOKENIZER },
  help: { type: 'boolean', short: 'h' },
} as const;
const { values: args } = parseArgs({ options: OPTIONS, strict: false });
const unknownOptions = Object.keys(args).filter((name) => !Object.hasOwn(OPTIONS, name));
if (args.help || unknownOptions.length > 0) {
  if (unknownOptions.length > 0) console.error(`unknown option: --${unknownOptions.join(', --')}`);
  console.log(USAGE);
  process.exit(args.help ? 0 : 2);
}
const seconds = Number(args.seconds);
const limitSeconds = Number(args['limit-seconds']);
const indexRequests = Number(args['index-requests']);
const bgeM3Layers = Number(args['bge-m3-layers']);
const suites = new Set(String(args.suites).split(','));
const tokenizerDir = String(args.tokenizer);
const realTokenizer = tokenizerAt(tokenizerDir);
const modelArgument = typeof args.model === 'string' ? args.model : undefined;

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

async function withServer<T>(artifactsDir: string, spec: ModelSpec, run: (server: ServerProcess) => Promise<T>, entry?: string): Promise<T> {
  const modelsFile = join(artifactsDir, `${spec.id.replace(/\W/g, '_')}.txt`);
  await writeFile(modelsFile, `${spec.repo}${spec.revision ? `@${spec.revision}` : ''} alias=${spec.id} onnx=${spec.onnxPath}\n`);
  const server = await startServer({ MODELS_FILE: modelsFile, ARTIFACTS_DIR: artifactsDir }, entry);
  try {
    return await run(server);
  } finally {
    await server.stop();
  }
}

const planOf = (server: ServerProcess) => server.startupLog().match(/"msg":"(serving [^"]*)"/)?.[1] ?? 'unknown';

function row(name: string, load: LoadResult, limit?: LimitResult, oneSession?: LimitResult) {
  return {
    scenario: name,
    conns: load.connections,
    'texts/s': round(load.textsPerSecond),
    'p50 ms': round(load.latencyMs.p50),
    'p99 ms': round(load.latencyMs.p99),
    'x limit': limit ? round(load.textsPerSecond / limit.textsPerSecond, 2) : '',
    'x 1 session': oneSession ? round(load.textsPerSecond / oneSession.textsPerSecond, 2) : '',
    errors: load.errors,
    'health p95': round(load.healthP95Ms),
    batch: round(load.batches.meanSize),
    'pad %': Math.round((load.batches.paddedPerToken - 1) * 100),
    'RSS MB': Math.round(load.peakRssMb),
    ...cpuColumns(load),
  };
}

/** Where the CPUs went: main (HTTP) threads' µs per request, and cores used by main threads / other server threads / load generator. */
function cpuColumns(load: LoadResult) {
  const { cpu } = load;
  return {
    'main µs/req': Math.round((cpu.mainThreads * 1e6 * load.seconds) / load.requests),
    'cores main/other/gen': [cpu.mainThreads, cpu.otherThreads, cpu.loadGenerator].map((cores) => round(cores)).join(' / '),
    'busy %': Number.isNaN(cpu.inferenceBusy) ? '' : Math.round(cpu.inferenceBusy * 100),
  };
}

async function modelSuite(artifactsDir: string, spec: ModelSpec, cpus: number, detailed: boolean, indexConnections = Math.max(4, cpus / 2)): Promise<ModelSuite> {
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: description.lowercase });
  const queryTexts = await makeTexts(tokenizer, 2048, 8, 32, 1);
  const indexTexts = await makeTexts(tokenizer, 1024, 16, Math.min(256, description.maxTokens), 2);
  const encode = async (texts: BenchText[]) => (await tokenizer.encode(texts.map(({ text }) => text))).map(({ ids }) => ids);
  return withServer(artifactsDir, spec, async (server) => {
    const rssAfterLoadMb = await server.rssMb();
    const plan = planOf(server);
    console.log(`\n${spec.id}: ${plan}; RSS after loading ${Math.round(rssAfterLoadMb)} MB`);
    const load = (texts: BenchText[], connections: number, duration = seconds) =>
      runLoad(server, { model: spec.id, texts, textsPerRequest: 1, connections, seconds: duration });
    // Index requests take seconds each: count whole requests rather than cut some off at a deadline.
    const indexLoad = () => runLoad(server, { model: spec.id, texts: indexTexts, textsPerRequest: 64, connections: indexConnections, requests: indexRequests });
    const limits = async (texts: BenchText[]) => ({
      parallel: await measureParallelLimit(description.onnxFile, await encode(texts), cpus, undefined, limitSeconds),
      oneSession: await measureLimit(description.onnxFile, await encode(texts), cpus, undefined, limitSeconds),
    });
    // The machine's speed drifts over minutes: each limit is measured just before its scenarios and again just after
    // (the server idles meanwhile), and the scenarios are held to the mean of the two.
    const limitsAround = async <T>(texts: BenchText[], scenarios: () => Promise<T>) => {
      const before = await limits(texts);
      const results = await scenarios();
      const after = await limits(texts);
      return { results, parallel: meanLimit(before.parallel, after.parallel), oneSession: meanLimit(before.oneSession, after.oneSession) };
    };
    await load(queryTexts, 16, 3);
    const concurrency: LoadResult[] = [];
    if (detailed) for (const connections of [1, 4, 16]) concurrency.push(await load(queryTexts, connections, Math.max(5, seconds / 2)));
    const queryLimits = await limitsAround(queryTexts, async () => ({ query: await load(queryTexts, 64), query256: await load(queryTexts, 256) }));
    const { query, query256 } = queryLimits.results;
    const indexLimits = await limitsAround(indexTexts, indexLoad);
    const index = indexLimits.results;
    const suite: ModelSuite = {
      model: spec.id,
      plan,
      rssAfterLoadMb,
      limits: { query: queryLimits.parallel, index: indexLimits.parallel, queryOneSession: queryLimits.oneSession, indexOneSession: indexLimits.oneSession },
      scenarios: { query, query256, index },
    };
    if (detailed) {
      suite.concurrency = [...concurrency, query, query256];
      const largeTexts = await makeTexts(tokenizer, 2048, 16, Math.min(256, description.maxTokens), 3);
      suite.mixed = await runMixed(server, { model: spec.id, queryTexts, largeTexts, queryConnections: 4 });
    }
    const { limits: l } = suite;
    console.log(`ONNX Runtime limit, ${cpus} single-thread sessions: query ${round(l.query.textsPerSecond)} texts/s (batch ${l.query.batchSize}), ` +
      `index ${round(l.index.textsPerSecond)} (batch ${l.index.batchSize}); one ${cpus}-thread session: query ${round(l.queryOneSession.textsPerSecond)}, index ${round(l.indexOneSession.textsPerSecond)}`);
    console.table([
      row('query', query, l.query, l.queryOneSession),
      row('query', query256, l.query, l.queryOneSession),
      row('index', index, l.index, l.indexOneSession),
      ...concurrency.map((c) => row('query', c)),
    ]);
    if (suite.mixed) {
      const { mixed } = suite;
      console.log(`queries on ${mixed.queryConnections} connections while one ${mixed.largeInputs}-input request ran (${round(mixed.largeSeconds)} s): ` +
        `${mixed.queries} answered, p50 ${round(mixed.latencyMs.p50)} ms, p99 ${round(mixed.latencyMs.p99)} ms, max ${round(mixed.latencyMs.max)} ms, ${mixed.errors} errors`);
    }
    return suite;
  });
}

async function servingSuite(artifactsDir: string): Promise<ServingSuite> {
  const spec = await generatedModel(artifactsDir, 'bench/zero-layer', { shape: { ...MINILM_SHAPE, layers: 0 } }, realTokenizer);
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: description.lowercase });
  const queryTexts = await makeTexts(tokenizer, 2048, 8, 32, 1);
  const indexTexts = await makeTexts(tokenizer, 1024, 16, 256, 2);
  // Both run at once (the idle one costs nothing), measured in halves in the order floor, server, server,
  // floor: the machine's speed drifts over minutes, and this takes the drift out of the ratio.
  const half = seconds / 2;
  const scenarios = {
    single: (server: ServerProcess) => runLoad(server, { model: spec.id, texts: queryTexts, textsPerRequest: 1, connections: 64, seconds: half }),
    batch64: (server: ServerProcess) => runLoad(server, { model: spec.id, texts: indexTexts, textsPerRequest: 64, connections: 16, seconds: half }),
  };
  let plan = '';
  const { floor, server } = await withServer(
    artifactsDir,
    spec,
    (floorServer) =>
      withServer(artifactsDir, spec, async (running) => {
        plan = planOf(running);
        const inTurns = async (scenario: (target: ServerProcess) => Promise<LoadResult>) => {
          const [floorFirst, serverFirst, serverSecond, floorSecond] = [await scenario(floorServer), await scenario(running), await scenario(running), await scenario(floorServer)];
          return { floor: combineLoads(floorFirst, floorSecond), server: combineLoads(serverFirst, serverSecond) };
        };
        const single = await inTurns(scenarios.single);
        const batch64 = await inTurns(scenarios.batch64);
        return { floor: { single: single.floor, batch64: batch64.floor }, server: { single: single.server, batch64: batch64.server } };
      }),
    new URL('./floor-server.ts', import.meta.url).pathname,
  );
  console.log(`\nserving (0-layer model): ${plan}`);
  console.table([
    { what: 'one-thread floor', 'single-text req/s': round(floor.single.textsPerSecond), 'p99 ms': floor.single.latencyMs.p99, '64-text texts/s': round(floor.batch64.textsPerSecond), 'p99 ms ': floor.batch64.latencyMs.p99 },
    { what: 'server', 'single-text req/s': round(server.single.textsPerSecond), 'p99 ms': server.single.latencyMs.p99, '64-text texts/s': round(server.batch64.textsPerSecond), 'p99 ms ': server.batch64.latencyMs.p99 },
    { what: 'x floor', 'single-text req/s': round(server.single.textsPerSecond / floor.single.textsPerSecond, 2), '64-text texts/s': round(server.batch64.textsPerSecond / floor.batch64.textsPerSecond, 2) },
  ]);
  const cpuOf = (what: string, load: LoadResult) => ({ what, ...cpuColumns(load) });
  console.table([
    cpuOf('floor, single texts', floor.single),
    cpuOf('server, single texts', server.single),
    cpuOf('floor, 64 texts', floor.batch64),
    cpuOf('server, 64 texts', server.batch64),
  ]);
  return { plan, floor, server };
}

/**
 * Long inputs: a MiniLM-L6-shaped model that takes 2048 tokens, texts of 1024–2048 tokens, one per
 * request on one connection per CPU, against N single-thread sessions running the same texts.
 * (8000-token texts take ~30–60 s each on one core of this kind: too slow for a bench run.)
 */
async function longSuite(artifactsDir: string, cpus: number): Promise<LongSuite> {
  const spec = await generatedModel(artifactsDir, 'bench/long-context', { shape: { ...MINILM_SHAPE, maxPositions: 2048 }, maxSeqLength: 2048, modelMaxLength: 2048 }, realTokenizer);
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: description.lowercase });
  const texts = await makeTexts(tokenizer, 16, 1024, 2048, 4);
  return withServer(artifactsDir, spec, async (server) => {
    const plan = planOf(server);
    const limit = await measureParallelLimit(description.onnxFile, (await tokenizer.encode(texts.map(({ text }) => text))).map(({ ids }) => ids), cpus, [1], limitSeconds);
    // Each request takes seconds: count whole requests (a warm-up one per connection first) rather than cut some off at a deadline.
    await runLoad(server, { model: spec.id, texts, textsPerRequest: 1, connections: cpus, requests: cpus });
    const load = await runLoad(server, { model: spec.id, texts, textsPerRequest: 1, connections: cpus, requests: 8 * cpus });
    console.log(`\nlong context (1024–2048 tokens): ${plan}`);
    console.table([{ ...row('long', load, limit), 'RSS peak MB': Math.round(load.peakRssMb) }]);
    return { plan, limit, load };
  });
}

/**
 * Rerank: a MiniLM-L6-shaped cross-encoder (the ms-marco-MiniLM-L6 shape: WordPiece, token types,
 * a classifier head), each request 1 query × 100 documents of 16–256 tokens, at several
 * connections; pairs/s against N single-thread sessions running the same pairs.
 */
async function rerankSuite(artifactsDir: string, cpus: number): Promise<RerankSuite> {
  const spec = await generatedModel(artifactsDir, 'bench/cross-encoder', { crossEncoder: { activation: 'torch.nn.modules.linear.Identity' } }, realTokenizer);
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: false });
  const query = 'what does the quick brown fox do when the lazy dog sleeps';
  const documents = await makeTexts(tokenizer, 400, 16, Math.min(256, description.maxTokens - 16), 5);
  const pairs = (await tokenizer.encodePairs(query, documents.map(({ text }) => text), { truncate: true })).map(({ ids }) => ids);
  return withServer(artifactsDir, spec, async (server) => {
    const plan = planOf(server);
    // Token types cost nothing more to compute: the limit runs the pairs' ids with types 0.
    const limit = await measureParallelLimit(description.onnxFile, pairs, cpus, [1, 8, 32], limitSeconds);
    const loads: LoadResult[] = [];
    // Each request takes seconds: count whole requests (a few per connection) rather than cut some off at a deadline.
    for (const connections of [1, cpus, 4 * cpus]) {
      loads.push(await runLoad(server, { model: spec.id, texts: documents, textsPerRequest: 100, connections, requests: 3 * connections + 3, rerankQuery: query }));
    }
    console.log(`\nrerank (1 query × 100 documents of 16–256 tokens): ${plan}`);
    console.log(`ONNX Runtime limit, ${cpus} single-thread sessions: ${round(limit.textsPerSecond)} pairs/s (batch ${limit.batchSize})`);
    console.table(loads.map((load) => row('rerank', load, limit)));
    return { plan, limit, loads };
  });
}

/**
 * Sparse (SPLADE): a MiniLM-L6-shaped MLMTransformer + SpladePooling model (30 522 logits a token, pooled in the
 * workers) under the query and index scenarios, held to the limit of its own graph (ONNX Runtime computing the
 * logits, nothing after); and its dense twin, the same encoder with mean pooling, for the cost over dense alone.
 */
async function sparseSuite(artifactsDir: string, cpus: number): Promise<SparseSuite> {
  // A 64-text request of SPLADE takes ~8x a dense one's time: 4 of them at once passed REQUEST_TIMEOUT_MS (60 s) on 2
  // loaded cores (3.5 texts/s), so the index scenario runs one 64-text request per core, on both models.
  const sparse = await modelSuite(artifactsDir, await generatedSpladeModel(artifactsDir, 'bench/splade-minilm-l6-shaped', realTokenizer), cpus, false, cpus);
  const dense = await modelSuite(artifactsDir, await generatedModel(artifactsDir, 'bench/minilm-l6-shaped', {}, realTokenizer), cpus, false, cpus);
  const cost = (scenario: keyof ModelSuite['scenarios']) => round(dense.scenarios[scenario].textsPerSecond / sparse.scenarios[scenario].textsPerSecond, 2);
  const ofGraph = (scenario: keyof ModelSuite['scenarios'], limit: 'query' | 'index') => ({
    'SPLADE x its limit': round(sparse.scenarios[scenario].textsPerSecond / sparse.limits[limit].textsPerSecond, 2),
    'SPLADE x 1 session': round(sparse.scenarios[scenario].textsPerSecond / sparse.limits[`${limit}OneSession`].textsPerSecond, 2),
    'dense x its limit': round(dense.scenarios[scenario].textsPerSecond / dense.limits[limit].textsPerSecond, 2),
  });
  console.log('\nsparse (SPLADE) against dense alone, the same encoder:');
  console.table([
    { scenario: 'query (64 conns)', 'dense / SPLADE texts/s': cost('query'), ...ofGraph('query', 'query') },
    { scenario: 'index (64 texts)', 'dense / SPLADE texts/s': cost('index'), ...ofGraph('index', 'index') },
  ]);
  return { sparse, dense };
}

/**
 * Classification: a MiniLM-L6-shaped sequence classifier (WordPiece, token types, 3 labels, softmax),
 * single texts of 8–32 tokens at 64 connections on /v1/classify, against one ONNX Runtime session
 * with every core's threads running the same texts (the single-session limit), and N single-thread sessions,
 * each measured just before and just after the load.
 */
async function classifySuite(artifactsDir: string, cpus: number): Promise<ClassifySuite> {
  const spec = await generatedModel(artifactsDir, 'bench/classifier', { crossEncoder: { labelNames: ['negative', 'neutral', 'positive'] } }, realTokenizer);
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: false, asGiven: true });
  const texts = await makeTexts(tokenizer, 2048, 8, 32, 1);
  const sequences = (await tokenizer.encode(texts.map(({ text }) => text))).map(({ ids }) => ids);
  return withServer(artifactsDir, spec, async (server) => {
    const plan = planOf(server);
    await runLoad(server, { model: spec.id, texts, textsPerRequest: 1, connections: 16, seconds: 2, classify: true });
    // The machine's speed drifts over minutes: the limits are measured just before and just after the load, and averaged.
    const limits = async () => ({
      oneSession: await measureLimit(description.onnxFile, sequences, cpus, [1, 8, 32], limitSeconds),
      parallel: await measureParallelLimit(description.onnxFile, sequences, cpus, [1, 8, 32], limitSeconds),
    });
    const before = await limits();
    const load = await runLoad(server, { model: spec.id, texts, textsPerRequest: 1, connections: 64, seconds, classify: true });
    const after = await limits();
    const oneSession = meanLimit(before.oneSession, after.oneSession);
    const limit = meanLimit(before.parallel, after.parallel);
    console.log(`\nclassify (single texts of 8–32 tokens, 64 connections): ${plan}`);
    console.log(`ONNX Runtime: one ${cpus}-thread session ${round(oneSession.textsPerSecond)} texts/s (batch ${oneSession.batchSize}); ${cpus} single-thread sessions ${round(limit.textsPerSecond)} texts/s`);
    console.table([row('classify', load, limit, oneSession)]);
    return { plan, oneSession, limit, load };
  });
}

/**
 * LLM rerank: a small Qwen3-Reranker-shaped decoder export (Qwen3's tokenizer, an LM head over its 151 669 tokens,
 * 4 layers × 64 wide), each request 1 query × 20 documents of 32–256 tokens in the card's prompt, at several
 * connections, each for --seconds; pairs/s against N single-thread sessions and one N-thread session running the same
 * prompts through the graph the server runs (its LM head taken off: running the whole head would be a lower,
 * flattering limit), measured before and after the loads. The peak RSS is the server's.
 */
async function llmRerankSuite(artifactsDir: string, cpus: number): Promise<RerankSuite> {
  const repo = 'bench/qwen3-reranker-shaped';
  await writeFixtureModel(artifactsDir, repo, {
    family: 'qwen3', llmReranker: 'lm-head', graph: { causal: true, past: true },
    shape: { layers: 4, hidden: 64, heads: 4, intermediate: 256, maxPositions: 1024, seed: 7 }, modelMaxLength: 1024,
  });
  const spec = parseModelsFile(repo, 'bench')[0]!;
  const description = await describeModel(spec, artifactsDir);
  const withoutHead = join(description.dir, 'onnx/model-without-lm-head.onnx');
  await writeFile(withoutHead, hiddenStateGraph(description.onnxFile, logitsHeadOf(description.heads).answerTokenIds!).model);
  const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: false });
  const prompt = await loadRerankPrompt('qwen3', tokenizer, description.maxTokens);
  const query = 'what does the quick brown fox do when the lazy dog sleeps';
  const documents = await makeTexts(tokenizer, 200, 32, 256, 6);
  const prompts = (await prompt.encode(query, documents.map(({ text }) => text))).map(({ ids }) => ids);
  return withServer(artifactsDir, spec, async (server) => {
    const plan = planOf(server);
    const load = (connections: number) => runLoad(server, { model: spec.id, texts: documents, textsPerRequest: 20, connections, seconds, rerankQuery: query });
    await runLoad(server, { model: spec.id, texts: documents, textsPerRequest: 20, connections: cpus, seconds: 3, rerankQuery: query });
    const { results: loads, parallel: limit, oneSession } = await limitsAroundScenarios(withoutHead, prompts, cpus, limitSeconds, async () => {
      const results: LoadResult[] = [];
      for (const connections of [1, cpus, 4 * cpus]) results.push(await load(connections));
      return results;
    });
    console.log(`\nLLM rerank (1 query × 20 documents of 32–256 tokens, Qwen3-Reranker's prompt): ${plan}`);
    console.log(`ONNX Runtime limit, ${cpus} single-thread sessions: ${round(limit.textsPerSecond)} pairs/s (batch ${limit.batchSize}); one ${cpus}-thread session: ${round(oneSession.textsPerSecond)}`);
    console.table(loads.map((result) => ({ ...row('llm-rerank', result, limit, oneSession), 'RSS peak MB': Math.round(result.peakRssMb) })));
    return { plan, limit, oneSession, loads };
  });
}

async function main() {
  const { cpus } = await detectCapacity();
  const artifactsDir = await mkdtemp(join(tmpdir(), 'bench-'));
  const report: BenchReport = { date: new Date().toISOString(), cpus, tokenizer: realTokenizer ?? 'generated WordPiece fixture', suites: {} };
  console.log(`${cpus} CPUs; tokenizer: ${report.tokenizer}; suites: ${[...suites].join(', ')}`);
  try {
    if (modelArgument) {
      const config = loadServerConfig();
      const spec = (await loadModelsFile(config.modelsFile)).find((candidate) => candidate.id === modelArgument || candidate.repo === modelArgument);
      if (!spec) throw new Error(`model ${modelArgument} is not in ${config.modelsFile}`);
      report.suites.fp32 = await modelSuite(config.artifactsDir, spec, cpus, true);
    } else {
      if (suites.has('fp32')) report.suites.fp32 = await modelSuite(artifactsDir, await generatedModel(artifactsDir, 'bench/minilm-l6-shaped', {}, realTokenizer), cpus, true);
      if (suites.has('int8')) report.suites.int8 = await modelSuite(artifactsDir, await generatedModel(artifactsDir, 'bench/minilm-l6-shaped-int8', { int8: true }, realTokenizer), cpus, false);
      if (suites.has('serving')) report.suites.serving = await servingSuite(artifactsDir);
      if (suites.has('long')) report.suites.long = await longSuite(artifactsDir, cpus);
      if (suites.has('rerank')) report.suites.rerank = await rerankSuite(artifactsDir, cpus);
      if (suites.has('sparse')) report.suites.sparse = await sparseSuite(artifactsDir, cpus);
      if (suites.has('classify')) report.suites.classify = await classifySuite(artifactsDir, cpus);
      if (suites.has('bge-m3')) report.suites['bge-m3'] = await bgeM3Suite(artifactsDir, { cpus, seconds, limitSeconds, indexRequests, layers: bgeM3Layers, withServer, planOf });
      if (suites.has('llm-rerank')) report.suites['llm-rerank'] = await llmRerankSuite(artifactsDir, cpus);
    }
    // Only a whole run replaces the committed results; a part of one goes beside them.
    const whole = !modelArgument && ['fp32', 'int8', 'serving'].every((suite) => suites.has(suite));
    const name = whole ? 'latest' : `latest-${modelArgument ? modelArgument.replace(/\W/g, '_') : [...suites].join('-')}`;
    const results = new URL('./results/', import.meta.url);
    await mkdir(results, { recursive: true });
    await writeFile(new URL(`${name}.json`, results), JSON.stringify(report, null, 2) + '\n');
    if (report.suites.fp32) await writeFile(new URL(`${name}.svg`, results), await chartSvg(report.suites.fp32, cpus));
    console.log(`wrote bench/results/${name}.json${report.suites.fp32 ? ` and ${name}.svg` : ''}`);
  } finally {
    await rm(artifactsDir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
