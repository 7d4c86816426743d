/**
 * `npm run bench [-- --model <id> --seconds <n>]`: throughput and latency of the
 * server under query-time and indexing-time load, against the ONNX Runtime
 * ceiling on the same texts. A benchmark, not a test: numbers vary run to run,
 * so read the ratios. Results go to bench/results/ as JSON and SVG.
 */
import { availableParallelism } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadServerConfig } from '../src/config.ts';
import { describeModel } from '../src/inference/model-files.ts';
import { loadTokenizer } from '../src/inference/tokenizer.ts';
import { loadModelsFile, parseModelsFile, type ModelSpec } from '../src/models-file.ts';
import { MINILM_SHAPE, writeFixtureModel } from '../test/helpers/fixture-model.ts';
import { chartSvg } from './chart.ts';
import { measureLimit, type LimitResult } from './limit.ts';
import { runLoad, type LoadResult } from './load.ts';
import { runMixed, type MixedResult } from './mixed.ts';
import { startServer } from '../test/helpers/server-process.ts';
import { makeTexts } from './texts.ts';

export interface BenchReport {
  date: string;
  model: string;
  /** ONNX Runtime threads of the in-process ceiling. */
  threads: number;
  /** How the server split the cores. */
  server: { workersPerModel: number; intraOpThreads: number };
  rssAfterLoadMb: number;
  scenarios: { query: LoadResult; index: LoadResult };
  limits: { query: LimitResult; index: LimitResult };
  concurrency: LoadResult[];
  /** Single-text queries while one 2048-input request runs. */
  mixed: MixedResult;
}

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    'index-requests': { type: 'string', default: '24' },
  },
});
const seconds = Number(args.seconds);
const indexRequests = Number(args['index-requests']);
// The ceiling gets every core in one session; the server splits the same cores its own way (see config.ts).
const threads = availableParallelism();

async function chooseModel(): Promise<{ spec: ModelSpec; artifactsDir: string; cleanup: () => Promise<void> }> {
  if (args.model) {
    const config = loadServerConfig();
    const spec = (await loadModelsFile(config.modelsFile)).find((candidate) => candidate.id === args.model || candidate.repo === args.model);
    if (!spec) throw new Error(`model ${args.model} is not in ${config.modelsFile}`);
    return { spec, artifactsDir: config.artifactsDir, cleanup: async () => undefined };
  }
  const artifactsDir = await mkdtemp(join(tmpdir(), 'bench-'));
  await writeFixtureModel(artifactsDir, 'bench/minilm-l6-shaped', { shape: MINILM_SHAPE, maxSeqLength: 256 });
  return {
    spec: parseModelsFile('bench/minilm-l6-shaped', 'bench')[0]!,
    artifactsDir,
    cleanup: () => rm(artifactsDir, { recursive: true, force: true }),
  };
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

function row(name: string, load: LoadResult, limit?: LimitResult) {
  return {
    scenario: name,
    connections: load.connections,
    'texts/s': round(load.textsPerSecond),
    'tokens/s': Math.round(load.tokensPerSecond),
    'p50 ms': round(load.latencyMs.p50),
    'p99 ms': round(load.latencyMs.p99),
    'x limit': limit ? round(load.textsPerSecond / limit.textsPerSecond, 2) : '',
    errors: load.errors,
    'health p95 ms': round(load.healthP95Ms),
    'mean batch': round(load.batches.meanSize),
    'padding %': Math.round((load.batches.paddedPerToken - 1) * 100),
    'peak RSS MB': Math.round(load.peakRssMb),
  };
}

async function main() {
  const { spec, artifactsDir, cleanup } = await chooseModel();
  const description = await describeModel(spec, artifactsDir);
  const tokenizer = await loadTokenizer(artifactsDir, spec.repo, { maxTokens: description.maxTokens, lowercase: description.lowercase });
  const queryTexts = makeTexts(tokenizer, 2048, 8, 32, 1);
  const indexTexts = makeTexts(tokenizer, 1024, 16, Math.min(256, description.maxTokens), 2);
  const encode = (texts: typeof queryTexts) => texts.map(({ text }) => tokenizer.encode(text).ids);

  const modelsFile = join(artifactsDir, 'bench-models.txt');
  await writeFile(modelsFile, `${spec.repo}${spec.revision ? `@${spec.revision}` : ''} alias=${spec.id} onnx=${spec.onnxPath}\n`);
  const server = await startServer({ MODELS_FILE: modelsFile, ARTIFACTS_DIR: artifactsDir });
  const { inference } = loadServerConfig({ ...process.env, MODELS_FILE: modelsFile });
  try {
    const rssAfterLoadMb = await server.rssMb();
    const load = (texts: typeof queryTexts, textsPerRequest: number, connections: number, duration = seconds) =>
      runLoad(server, { model: spec.id, texts, textsPerRequest, connections, seconds: duration });
    // Index requests take seconds each: count a fixed number of whole requests rather than cut some off at a deadline.
    const indexLoad = () => runLoad(server, { model: spec.id, texts: indexTexts, textsPerRequest: 64, connections: 4, requests: indexRequests });
    // Each limit is measured just before its scenario (the server idles meanwhile): the machine's speed drifts over minutes.
    const limit = (texts: typeof queryTexts) => measureLimit(description.onnxFile, encode(texts), threads);
    console.log(`model ${spec.id}: ${description.dimensions} dimensions. Warming up, then the query scenario at 1, 4, 16 connections, ` +
      `the ONNX Runtime limit (${threads} threads) and the query scenario at 64, the index limit and scenario, then queries during a 2048-input request…`);
    await load(queryTexts, 1, 16, 3);
    const concurrency: LoadResult[] = [];
    for (const connections of [1, 4, 16]) concurrency.push(await load(queryTexts, 1, connections, Math.max(5, seconds / 2)));
    const queryLimit = await limit(queryTexts);
    const query = await load(queryTexts, 1, 64);
    concurrency.push(query);
    const indexLimit = await limit(indexTexts);
    const index = await indexLoad();
    const limits = { query: queryLimit, index: indexLimit };
    const largeTexts = makeTexts(tokenizer, 2048, 16, Math.min(256, description.maxTokens), 3);
    const mixed = await runMixed(server, { model: spec.id, queryTexts, largeTexts, queryConnections: 4 });

    const report: BenchReport = {
      date: new Date().toISOString(),
      model: spec.id,
      threads,
      server: inference,
      rssAfterLoadMb,
      scenarios: { query, index },
      limits,
      concurrency,
      mixed,
    };
    console.log(`\nserver: ${inference.workersPerModel} worker(s) × ${inference.intraOpThreads} thread(s); RSS after loading: ${Math.round(rssAfterLoadMb)} MB`);
    console.log(`ONNX Runtime limit: query ${round(limits.query.textsPerSecond)} texts/s (batch ${limits.query.batchSize}), ` +
      `index ${round(limits.index.textsPerSecond)} texts/s (batch ${limits.index.batchSize})`);
    console.table([row('query', query, limits.query), row('index', index, limits.index), ...concurrency.slice(0, -1).map((c) => row('query', c))]);
    console.log(`queries on ${mixed.queryConnections} connections while one ${mixed.largeInputs}-input request ran (${round(mixed.largeSeconds)} s): ` +
      `${mixed.queries} answered, p50 ${round(mixed.latencyMs.p50)} ms, p99 ${round(mixed.latencyMs.p99)} ms, max ${round(mixed.latencyMs.max)} ms, ${mixed.errors} errors`);
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(new URL('./results/latest.json', import.meta.url), JSON.stringify(report, null, 2) + '\n');
    await writeFile(new URL('./results/latest.svg', import.meta.url), await chartSvg(report));
    console.log('wrote bench/results/latest.json and bench/results/latest.svg');
  } finally {
    await server.stop();
    await cleanup();
  }
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
