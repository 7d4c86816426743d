/**
 * Entry point. The primary process checks the configuration and models, plans the machine's
 * use and forks the HTTP processes (src/cluster/primary.ts); each HTTP process loads the models
 * and serves on the shared port (src/cluster/http-process.ts).
 */
import cluster from 'node:cluster';
import { SHARE_ENV, type ProcessShare } from './cluster/messages.ts';
import { applyFlags } from './cli-flags.ts';
import { loadServerConfig } from './config.ts';
import { createLogs } from './logs.ts';

const USAGE = `usage: npm start            (or npm run start:built after npm run build)
Serves the models of MODELS_FILE (default ./models.txt) from ARTIFACTS_DIR (default ./artifacts; fetch them
with npm run download) at http://HOST:PORT (default 127.0.0.1:8000): OpenAI's /v1/embeddings, /v1/rerank,
/v1/models, API docs at /docs. Every setting is an environment variable (PORT, HOST, API_KEYS, METRICS_PORT,
INFERENCE_WORKERS, ...): see the configuration table in README.md. Flags for the commonest:
  --port N       PORT          --host ADDRESS    HOST          --models FILE     MODELS_FILE`;

const FLAGS = { '--port': 'PORT', '--host': 'HOST', '--models': 'MODELS_FILE' };

async function main() {
  if (applyFlags(process.argv.slice(2), FLAGS, 'npm start').help) {
    console.log(USAGE);
    return;
  }
  const config = loadServerConfig();
  const logs = createLogs(config.logLevel, config.logFormat);
  // Each process imports only its own side: the HTTP side's modules (Fastify, transformers.js, …)
  // cost the primary ~0.3 s of start for nothing.
  if (cluster.isPrimary) {
    const { runPrimary } = await import('./cluster/primary.ts');
    await runPrimary(config, logs.log);
  } else {
    const { runHttpProcess } = await import('./cluster/http-process.ts');
    await runHttpProcess(config, JSON.parse(process.env[SHARE_ENV]!) as ProcessShare, logs);
  }
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
