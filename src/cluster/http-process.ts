/**
 * One HTTP process of the cluster: models → HTTP app → listen on the shared port; reports its
 * metrics to the primary; drains and exits on SIGTERM/SIGINT.
 */
import type { Logger } from 'pino';
import { buildApp } from '../app.ts';
import type { ServerConfig } from '../config.ts';
import { trackConnections } from '../http/graceful-close.ts';
import { createMetrics, reportMetricsToPrimary } from '../http/metrics.ts';
import { loadModelsFile } from '../models-file.ts';
import { Registry } from '../registry.ts';
import type { ProcessShare } from './messages.ts';

export async function runHttpProcess(config: ServerConfig, share: ProcessShare, { log, accessLog }: { log: Logger; accessLog: Logger }) {
  const specs = await loadModelsFile(config.modelsFile);
  const metrics = createMetrics(`${share.index}`);
  reportMetricsToPrimary(metrics);
  const registry = await Registry.open(specs, {
    onBatch: metrics.observeBatch,
    onRun: metrics.observeRun,
    artifactsDir: config.artifactsDir,
    workersPerModel: share.workersPerModel,
    intraOpThreads: share.intraOpThreads,
    batching: config.batching,
    tokenIds: config.tokenIds,
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
    connections: config.connections,
    metrics,
    apiKeys: config.apiKeys,
    corsOrigins: config.corsOrigins,
    logger: log,
    accessLog,
  });
  const connections = trackConnections(app.server);
  registry.ready.catch(async (error: Error) => {
    log.fatal({ err: error }, `a model failed to load: ${error.message}`);
    await app.close();
    await registry.close();
    process.exit(1);
  });
  void registry.ready.then(() => process.send?.({ kind: 'ready' }));

  // Stop listening (new connections are refused, requests on open ones get 503, so /ready fails),
  // let in-flight requests finish within DRAIN_TIMEOUT_MS, then release the workers.
  let draining = false;
  const shutdown = async (signal: string) => {
    // A terminal's Ctrl-C reaches every process of the group, and the primary forwards it too.
    if (draining) return;
    draining = true;
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
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // The primary is gone (killed outright): nothing would restart or stop this process.
  process.on('disconnect', () => void shutdown('primary exit'));

  await app.listen({ port: config.port, host: config.host });
}
