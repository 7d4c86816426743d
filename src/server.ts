/**
 * Entry point. The primary process checks the configuration and models, plans the machine's
 * use and forks the HTTP processes (src/cluster/primary.ts); each HTTP process loads the models
 * and serves on the shared port (src/cluster/http-process.ts).
 */
import cluster from 'node:cluster';
import { pino } from 'pino';
import { runHttpProcess } from './cluster/http-process.ts';
import { SHARE_ENV, type ProcessShare } from './cluster/messages.ts';
import { runPrimary } from './cluster/primary.ts';
import { loadServerConfig } from './config.ts';

async function main() {
  const config = loadServerConfig();
  // Asynchronous: a write per request line on the HTTP thread cost as much as sending the response. Flushed on exit.
  const log = pino({ level: config.logLevel }, pino.destination({ sync: false }));
  if (cluster.isPrimary) await runPrimary(config, log);
  else await runHttpProcess(config, JSON.parse(process.env[SHARE_ENV]!) as ProcessShare, log);
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
