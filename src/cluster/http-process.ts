/**
 * One HTTP process of the cluster: models → HTTP app → listen on the shared port; reports its
 * metrics to the primary; drains and exits on SIGTERM/SIGINT/SIGHUP or when the primary is gone.
 */
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp, type App } from '../app.ts';
import { RunMemory } from '../batching/run-memory.ts';
import type { ServerConfig } from '../config.ts';
import { createMetrics, type Metrics } from '../http/metrics.ts';
import { explainListenError } from '../listen-errors.ts';
import { loadModelsFile } from '../models-file.ts';
import { summarizeModel } from '../model-summary.ts';
import { Registry } from '../registry.ts';
import { httpUrl } from './http-url.ts';
import type { HttpProcessMessage, PrimaryMessage, ProcessShare } from './messages.ts';

/** To the primary, if it is still there (a message to a closed channel would be an uncaught error); `sent` once it is on its way. */
const tellPrimary = (message: HttpProcessMessage, sent: () => void = () => undefined) => {
  if (process.connected) process.send!(message, undefined, undefined, () => sent());
  else sent();
};

/** Answers the primary's metrics requests with this process's metrics. */
function reportMetrics(metrics: Metrics) {
  process.on('message', (message: PrimaryMessage) => {
    if (message.kind !== 'metrics-request') return;
    void metrics.register.getMetricsAsJSON().then((snapshot) => tellPrimary({ kind: 'metrics', id: message.id, metrics: snapshot }));
  });
  tellPrimary({ kind: 'metrics-ready' });
}

export async function runHttpProcess(config: ServerConfig, share: ProcessShare, { log, accessLog }: { log: Logger; accessLog: Logger }) {
  let registry: Registry | undefined;
  let app: App | undefined;
  let draining = false;

  // Stop listening (new connections are refused, requests on open ones get 503, so /ready fails),
  // let in-flight requests finish within DRAIN_TIMEOUT_MS, then release the workers. Set up before
  // anything else: a signal during the start stops the start, cleanly.
  let starting: Promise<void> = Promise.resolve();
  const shutdown = async (reason: string) => {
    // A terminal's Ctrl-C reaches every process of the group, and the primary forwards it too.
    if (draining) return;
    draining = true;
    log.info(`${reason}; draining in-flight requests`);
    const deadline = setTimeout(() => {
      log.error(`requests still running after DRAIN_TIMEOUT_MS=${config.drainTimeoutMs}; exiting anyway`);
      process.exit(1);
    }, config.drainTimeoutMs);
    await starting.catch(() => undefined);
    app?.drainConnections();
    await app?.close();
    await registry?.close();
    clearTimeout(deadline);
    log.info('drained; exiting');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void shutdown(`${signal} received`));
  // The primary is gone (killed outright): nothing would restart or stop this process, so it drains.
  // Node's cluster would otherwise exit at once, failing every request in flight.
  process.prependOnceListener('disconnect', () => {
    if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
    void shutdown('the primary process is gone');
  });

  const start = async () => {
    const specs = await loadModelsFile(config.modelsFile);
    const metrics = createMetrics(`${share.index}`);
    reportMetrics(metrics);
    registry = await Registry.open(specs, {
      onBatch: metrics.observeBatch,
      onRun: metrics.observeRun,
      artifactsDir: config.artifactsDir,
      workersPerModel: share.workersPerModel,
      intraOpThreads: share.intraOpThreads,
      batching: config.batching,
      runMemory: new RunMemory(share.runMemoryBytes),
      keepArena: share.keepArena,
      tokenIds: config.tokenIds,
      onLoaded: (entry, _model, milliseconds) => {
        const { fields, text } = summarizeModel(entry.description);
        log.info({ model: entry.spec.id, repo: entry.spec.repo, ...fields, loadMs: Math.round(milliseconds) }, `loaded ${entry.spec.id}: ${text}, ${Math.round(milliseconds)} ms`);
      },
    });
    if (draining) return;
    // /ready answers 200 only once the primary has been told (the message is in its pipe): a process that dies after a
    // probe saw it ready must count as having come up, or the primary would take it for a failed first start.
    let announced = false;
    app = await buildApp({
      isReady: () => announced,
      registry,
      bodyLimit: config.bodyLimit,
      limits: config.limits,
      connections: config.connections,
      metrics,
      apiKeys: config.apiKeys,
      corsOrigins: config.corsOrigins,
      logger: log,
      accessLog,
      metricsUrl: config.metricsPort === undefined ? undefined : `${httpUrl(config.host, config.metricsPort)}/metrics`,
    });
    let listening: Promise<void> | undefined;
    registry.ready.then(
      // Ready once it also listens (a listen that fails ends the start below).
      () =>
        listening?.then(() => {
          // A signal during the start may have closed the server by now: then there is nothing to announce.
          const address = app?.server.address() as AddressInfo | null | undefined;
          if (draining || !address) return;
          tellPrimary({ kind: 'ready', port: address.port }, () => (announced = true));
        }, () => undefined),
      async (error: Error) => {
        log.fatal(error.message);
        await app?.close();
        await registry?.close();
        process.exit(1);
      },
    );
    if (draining) return;
    listening = app.listen({ port: config.port, host: config.host }).then(
      () => undefined,
      (error: NodeJS.ErrnoException) => {
        throw explainListenError(error, 'PORT', config.host, config.port);
      },
    );
    await listening;
  };
  starting = start();
  await starting;
}
