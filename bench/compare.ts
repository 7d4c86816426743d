/**
 * Several checkouts' servers measured in one run, e.g. a commit against an older one:
 *   node --import tsx bench/compare.ts --trees old=../old-checkout,new=.
 * Each tree's own src/server.ts is started (default settings) on the same generated MiniLM-L6-shaped model. The
 * bench's index scenario (64-text requests of 16–256 tokens on 4 connections, whole requests counted), query
 * scenario (single texts of 8–32 tokens on 64 connections) and, when asked, the lone scenario (one client sending
 * 32 texts of 8–32 tokens a request: what idle workers do for it) run on each server in turn, the order reversed every
 * round, each held to the N-session limit measured just before and just after it (the machine's speed drifts over
 * minutes). A benchmark, not a test: read the ratios within one run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { detectCapacity } from '../src/capacity.ts';
import { describeModel } from '../src/inference/files/model-files.ts';
import { loadTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
import { startServer, type ServerProcess } from '../test/helpers/server-process.ts';
import { DEFAULT_TOKENIZER, generatedModel, tokenizerAt } from './generated-model.ts';
import { meanLimit, measureParallelLimit } from './limit.ts';
import { runLoad } from './load.ts';
import { makeTexts, type BenchText } from './texts.ts';

const USAGE = `usage: node --import tsx bench/compare.ts --trees NAME=DIR,NAME=DIR [options]
  --trees LIST          checkouts to compare, each NAME=DIR (its node_modules installed or linked)
  --scenarios LIST      index, query, lone (comma-separated; default index,query)
  --rounds N            rounds over every tree, the order reversed each round (default 2)
  --index-requests N    64-text requests per index measurement (default 24)
  --seconds N           length of each query measurement (default 10)
  --limit-seconds N     per batch size, each ONNX Runtime limit measurement (default 3)
  --tokenizer DIR       a tokenizer.json folder (default: ../shared's MiniLM tokenizer if present)
  --help                this text`;

const { values: args } = parseArgs({
  options: {
    trees: { type: 'string' },
    scenarios: { type: 'string', default: 'index,query' },
    rounds: { type: 'string', default: '2' },
    'index-requests': { type: 'string', default: '24' },
    seconds: { type: 'string', default: '10' },
    'limit-seconds': { type: 'string', default: '3' },
    tokenizer: { type: 'string', default: DEFAULT_TOKENIZER },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help || !args.trees) {
  console.log(USAGE);
  process.exit(args.help ? 0 : 2);
}
const trees = args.trees.split(',').map((entry) => {
  const [name, dir] = entry.split('=');
  if (!name || !dir) throw new Error(`--trees: '${entry}' is not NAME=DIR`);
  return { name, dir: resolve(dir) };
});

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

async function main() {
  const { cpus } = await detectCapacity();
  const artifactsDir = await mkdtemp(join(tmpdir(), 'bench-compare-'));
  const servers = new Map<string, ServerProcess>();
  try {
    const spec = await generatedModel(artifactsDir, 'bench/minilm-l6-shaped', {}, tokenizerAt(args.tokenizer!));
    const description = await describeModel(spec, artifactsDir);
    const tokenizer = await loadTokenizer(description.dir, { maxTokens: description.maxTokens, lowercase: description.lowercase });
    const texts = { query: await makeTexts(tokenizer, 2048, 8, 32, 1), index: await makeTexts(tokenizer, 1024, 16, Math.min(256, description.maxTokens), 2) };
    const ids = async (list: BenchText[]) => (await tokenizer.encode(list.map(({ text }) => text))).map((encoded) => encoded.ids);
    const sequences = { query: await ids(texts.query), index: await ids(texts.index) };
    const sequencesOf = { ...sequences, lone: sequences.query };
    const modelsFile = join(artifactsDir, 'models.txt');
    await writeFile(modelsFile, `${spec.repo} alias=${spec.id} onnx=${spec.onnxPath}\n`);
    const scenario = {
      index: (server: ServerProcess) =>
        runLoad(server, { model: spec.id, texts: texts.index, textsPerRequest: 64, connections: Math.max(4, cpus / 2), requests: Number(args['index-requests']) }),
      query: (server: ServerProcess) => runLoad(server, { model: spec.id, texts: texts.query, textsPerRequest: 1, connections: 64, seconds: Number(args.seconds) }),
      lone: (server: ServerProcess) => runLoad(server, { model: spec.id, texts: texts.query, textsPerRequest: 32, connections: 1, seconds: Number(args.seconds) }),
    };
    for (const tree of trees) {
      const server = await startServer({ MODELS_FILE: modelsFile, ARTIFACTS_DIR: artifactsDir }, join(tree.dir, 'src/server.ts'));
      servers.set(tree.name, server);
      // A few requests of each kind first: the first runs of each shape allocate.
      await runLoad(server, { model: spec.id, texts: texts.query, textsPerRequest: 1, connections: 16, seconds: 2 });
      await runLoad(server, { model: spec.id, texts: texts.index, textsPerRequest: 64, connections: 4, requests: 4 });
    }
    const rows: Record<string, string | number>[] = [];
    for (let r = 0; r < Number(args.rounds); r++) {
      for (const name of String(args.scenarios).split(',') as (keyof typeof scenario)[]) {
        for (const tree of r % 2 === 0 ? trees : [...trees].reverse()) {
          const limit = () => measureParallelLimit(description.onnxFile, sequencesOf[name], cpus, [1, 8, 32], Number(args['limit-seconds']));
          const before = await limit();
          const load = await scenario[name](servers.get(tree.name)!);
          const after = await limit();
          const held = meanLimit(before, after);
          const row = {
            round: r + 1,
            scenario: name,
            tree: tree.name,
            'texts/s': round(load.textsPerSecond, 1),
            'limit before/after': `${round(before.textsPerSecond, 1)} / ${round(after.textsPerSecond, 1)}`,
            'x limit': round(load.textsPerSecond / held.textsPerSecond),
            'p50 ms': Math.round(load.latencyMs.p50),
            batch: round(load.batches.meanSize, 1),
            'busy %': Math.round(load.cpu.inferenceBusy * 100),
            'cores main/other/gen': [load.cpu.mainThreads, load.cpu.otherThreads, load.cpu.loadGenerator].map((cores) => round(cores)).join(' / '),
            errors: load.errors,
          };
          console.log(JSON.stringify(row));
          rows.push(row);
        }
      }
    }
    console.table(rows);
  } finally {
    for (const server of servers.values()) await server.stop();
    await rm(artifactsDir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
