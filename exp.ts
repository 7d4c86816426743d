import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { MINILM_SHAPE, writeFixtureModel } from './test/helpers/fixture-model.ts';
import { loadTokenizer } from './src/inference/tokenizer.ts';
import { makeTexts } from './bench/texts.ts';
import { startServer } from './bench/server-process.ts';
import { runLoad } from './bench/load.ts';
const dir = '/tmp/benchart';
await writeFixtureModel(dir, 'bench/m', { shape: MINILM_SHAPE, maxSeqLength: 256 });
await writeFile(dir + '/m.txt', 'bench/m alias=m\n');
const tok = await loadTokenizer(dir, 'bench/m', { maxTokens: 256, lowercase: false });
const q = makeTexts(tok, 2048, 8, 32, 1);
const server = await startServer({ MODELS_FILE: dir + '/m.txt', ARTIFACTS_DIR: dir, ...JSON.parse(process.env.EXTRA ?? '{}') });
async function threads() {
  const pid = server.child.pid!;
  const out: Record<string, number> = {};
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.indexOf(')'));
    const fields = stat.slice(stat.indexOf(')') + 2).split(' ');
    out[`${tid === String(pid) ? 'MAIN' : name}:${tid}`] = (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return out;
}
await runLoad(server, { model: 'm', texts: q, textsPerRequest: 1, connections: 16, seconds: 3 });
const before = await threads(); const selfBefore = process.cpuUsage();
const r = await runLoad(server, { model: 'm', texts: q, textsPerRequest: 1, connections: 64, seconds: 10 });
const after = await threads(); const self = process.cpuUsage(selfBefore);
console.log(r);
for (const k of Object.keys(after)) { const d = after[k]! - (before[k] ?? 0); if (d > 0.1) console.log(k, d.toFixed(2), 's'); }
console.log('bench process cpu', ((self.user + self.system) / 1e6).toFixed(2), 's');
await server.stop();
