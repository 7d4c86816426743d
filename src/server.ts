/** Entry point: configuration → models → HTTP app → listen; closes cleanly on SIGTERM/SIGINT. */
import { pino } from 'pino';
import { buildApp } from './app.ts';
import { loadServerConfig } from './config.ts';
import { trackConnections } from './http/graceful-close.ts';
import { createMetrics } from './http/metrics.ts';
import { loadModelsFile } from './models-file.ts';
import { Registry } from './registry.ts';

async function main() {
  const config = loadServerConfig();
  const specs = await loadModelsFile(config.modelsFile);
  // Asynchronous: a write per request line on the HTTP thread cost as much as sending the response. Flushed on exit.
  const log = pino({ level: config.logLevel }, pino.destination({ sync: false }));
  const metrics = createMetrics();
  const registry = await Registry.open(specs, {
    onBatch: metrics.observeBatch,
    artifactsDir: config.artifactsDir,
    workersPerModel: config.inference.workersPerModel,
    intraOpThreads: config.inference.intraOpThreads,
    batching: config.batching,
    onLoaded: (entry, _model, milliseconds) =>
      log.info(
        {
          model: entry.spec.id,
          repo: entry.spec.repo,
          dimensions: entry.description.dimensions,
          maxTokens: entry.description.maxTokens,
          pooling: entry.description.poolingModes.join('+'),
          normalized: entry.description.normalized,
          loadMs: Math.round(milliseconds),
        },
        `loaded ${entry.spec.id}: ${entry.description.dimensions} dimensions, ${entry.description.maxTokens} max tokens, ` +
          `${entry.description.poolingModes.join('+')} pooling, ${entry.description.normalized ? '' : 'not '}normalized, ${Math.round(milliseconds)} ms`,
      ),
  });
  const app = await buildApp({
    registry,
    bodyLimit: config.bodyLimit,
    limits: config.limits,
    metrics,
    apiKeys: config.apiKeys,
    corsOrigins: config.corsOrigins,
    logger: log,
  });
  const connections = trackConnections(app.server);
  registry.ready.catch(async (error: Error) => {
    log.fatal({ err: error }, `a model failed to load: ${error.message}`);
    await app.close();
    await registry.close();
    process.exit(1);
  });

  // Stop listening (new connections are refused, requests on open ones get 503, so /ready fails),
  // let in-flight requests finish within DRAIN_TIMEOUT_MS, then release the workers.
  const shutdown = async (signal: string) => {
    log.info(`${signal} received; draining in-flight requests`);
    const deadline = setTimeout(() => {
      log.error(`requests still running after DRAIN_TIMEOUT_MS=${config.drainTimeoutMs}; exiting anyway`);
      process.exit(1);
    }, config.drainTimeoutMs);
    connections.drain();
    await app.close();
    await registry.close();
    clearTimeout(deadline);
    log.info('drained; exiting');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
