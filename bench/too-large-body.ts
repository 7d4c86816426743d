/**
 * Bodies over BODY_LIMIT from Node's fetch and the official openai SDK against a real server (issue 32, item 8):
 * how many of `TRIES` read the 413 (and its message), and how many bodies the server received.
 *
 *   node --import tsx bench/too-large-body.ts [MB=60] [TRIES=5]
 */
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { tempDir } from '../test/helpers/app.ts';
import { writeFixtureModel } from '../test/helpers/fixture-model.ts';
import { startServer } from '../test/helpers/server-process.ts';

const MB = Number(process.argv[2] ?? 60);
const TRIES = Number(process.argv[3] ?? 5);

const workDir = await tempDir('too-large');
await writeFixtureModel(workDir, 'test/mean');
await writeFile(join(workDir, 'models.txt'), 'test/mean alias=tiny\n');
const server = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, INFERENCE_WORKERS: '1', HTTP_PROCESSES: '1' });
/** 413s the server answered, from its metrics. */
async function answered413(): Promise<number> {
  const metrics = await (await fetch(server.metricsUrl)).text();
  return [...metrics.matchAll(/^embeddings_http_requests_total\{[^}]*status="413"[^}]*\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}
const input = 'word '.repeat((MB * 1024 * 1024) / 5);
const bodyFile = join(workDir, 'body.json');
await writeFile(bodyFile, JSON.stringify({ model: 'tiny', input }));
try {
  const clients: Record<string, () => Promise<string>> = {
    fetch: () =>
      fetch(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny', input }) }).then(
        async (response) => `${response.status} ${(await response.json()).error?.message}`,
        (error: Error & { cause?: Error }) => `${error.message}: ${error.cause?.message}`,
      ),
    openai: () =>
      new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none' }).embeddings
        .create({ model: 'tiny', input })
        .then(() => 'answered', (error: Error & { status?: number }) => `${error.status ?? ''} ${error.message}`),
    curl: () =>
      new Promise((resolve) =>
        execFile('curl', ['-s', '-H', 'content-type: application/json', '--data-binary', `@${bodyFile}`, '-w', ' %{http_code}', `${server.url}/v1/embeddings`], { maxBuffer: 1 << 20 }, (error, stdout) =>
          resolve(error ? error.message : `${stdout.slice(-3)} ${JSON.parse(stdout.slice(0, -4)).error?.message}`),
        ),
      ),
  };
  for (const [name, send] of Object.entries(clients)) {
    const before = await answered413();
    const seen: string[] = [];
    for (let i = 0; i < TRIES; i++) seen.push(await send());
    const readable = seen.filter((outcome) => outcome.includes('413') && outcome.includes('limit of')).length;
    console.log(`${name}: ${readable}/${TRIES} read the 413; the server answered ${(await answered413()) - before} 413s;`, [...new Set(seen)]);
  }
} finally {
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
}
