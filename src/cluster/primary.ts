/**
 * The primary process: checks configuration and models before anything starts, plans how many
 * HTTP processes and inference workers the machine holds, forks the HTTP processes (which share
 * the listening port), serves their metrics, replaces one that dies, and on SIGTERM/SIGINT/SIGHUP
 * lets each drain and exits once all have.
 */
import cluster, { type Worker } from 'node:cluster';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { detectCapacity, planServing, workersOfProcess, type ServingPlan } from '../capacity.ts';
import { runPeakBytes } from '../batching/run-peak.ts';
import type { ServerConfig } from '../config.ts';
import { describeModel, MissingArtifactError } from '../inference/files/model-files.ts';
import { externalDataFilesOf } from '../inference/files/onnx-external-data.ts';
import { loadModelsFile, weightSets, type ModelSpec } from '../models-file.ts';
import { httpUrl } from './http-url.ts';
import { listenForMetrics } from './metrics-listener.ts';
import { SHARE_ENV, type HttpProcessMessage, type MetricsSnapshot, type PrimaryMessage, type ProcessShare } from './messages.ts';

/** Beyond DRAIN_TIMEOUT_MS, how long the primary waits for its HTTP processes before killing them. */
const EXIT_GRACE_MS = 5000;
/** A replacement that dies too is started again after this, doubled each time up to the maximum. */
const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;
/** How long after an HTTP process's exit the primary acts on it, so that messages it sent before are handled first. */
const EXIT_SETTLE_MS = 100;
/** How long a scrape waits for each HTTP process's metrics; one that is busy restarting is left out. */
const METRICS_WAIT_MS = 2000;

/** The ONNX graph and the external-data files it names (a missing one stops the start with the fetch command), in bytes. */
async function weightBytes(spec: ModelSpec, onnxFile: string): Promise<number> {
  const named = await externalDataFilesOf(onnxFile).catch((error: Error) => {
    throw new Error(`model "${spec.id}" (${spec.source}): ${error.message}`);
  });
  const files = [onnxFile, ...named.map((name) => join(dirname(onnxFile), name))];
  const sizes = await Promise.all(
    files.map((path) =>
      stat(path).then(
        ({ size }) => size,
        () => {
          throw new MissingArtifactError(`model "${spec.id}" (${spec.source}): ${path}, which ${onnxFile} keeps its weights in, is missing. Fetch it with \`npm run download\`.`);
        },
      ),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

async function plan(config: ServerConfig, log: Logger): Promise<{ serving: ServingPlan; models: string[] }> {
  const specs = await loadModelsFile(config.modelsFile);
  const descriptions = await Promise.all(specs.map((spec) => describeModel(spec, config.artifactsDir)));
  // Ids of one repo and ONNX file share one loaded model: its weights count once.
  const modelBytes = await Promise.all(weightSets(specs).map(([first]) => weightBytes(first!, descriptions[specs.indexOf(first!)]!.onnxFile)));
  const capacity = await detectCapacity();
  const longestRuns = weightSets(specs).map(([first]) => {
    const { maxTokens, runShape } = descriptions[specs.indexOf(first!)]!;
    return { model: first!.id, tokens: maxTokens, peakBytes: runPeakBytes(runShape, 1, maxTokens, false), arenaPeakBytes: runPeakBytes(runShape, 1, maxTokens, true) };
  });
  const serving = planServing(capacity, modelBytes, config.serving, longestRuns);
  log.info(
    { ...serving, reasons: undefined },
    `serving ${specs.length} model(s) with ${serving.httpProcesses} HTTP process(es), ${serving.workersPerModel} inference worker(s) per model ` +
      `× ${serving.intraOpThreads} thread(s); ${serving.reasons.join('; ')}`,
  );
  return { serving, models: specs.map((spec, index) => `${spec.id} (${descriptions[index]!.kind})`) };
}

export async function runPrimary(config: ServerConfig, log: Logger) {
  // Before anything else: a signal during the start is a request to stop, not a crash.
  let stopping = false;
  let exitCode = 0;
  const live = new Set<Worker>();
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const worker of live) worker.process.kill(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    setTimeout(() => {
      log.error('HTTP processes still running after the drain timeout; killing them');
      for (const worker of live) worker.process.kill('SIGKILL');
      process.exit(1);
    }, config.drainTimeoutMs + EXIT_GRACE_MS).unref();
    if (live.size === 0) process.exit(exitCode);
  };
  // SIGHUP (the terminal closed) drains as SIGTERM does: its default would kill the primary, and with it the HTTP processes' requests.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));

  const { serving, models } = await plan(config, log);
  log.info(
    config.apiKeys.length > 0
      ? `API keys required on every route but /health and /ready (${config.apiKeys.length} configured)`
      : 'no API key required: anyone who can reach the port can use the API (set API_KEYS or API_KEYS_FILE)',
  );
  /** Per process index, the live process that answers metrics requests. */
  const reporting = new Map<number, Worker>();
  /** The public port's URL: with PORT=0, the port the HTTP processes were given is known from their ready message. */
  let apiUrl = httpUrl(config.host, config.port);
  let metricsUrl: string | undefined;
  if (config.metricsPort !== undefined) {
    ({ url: metricsUrl } = await listenForMetrics(config.metricsPort, config.host, () => apiUrl, () => gatherMetrics([...reporting.values()])));
    log.info(`metrics listening at ${metricsUrl}/metrics`);
  }
  let announcedReady = false;
  /** Once every HTTP process has come up, the line that says the service is ready, and where. */
  const logReadyOnce = () => {
    if (cameUp.size < serving.httpProcesses || announcedReady) return;
    announcedReady = true;
    const url = apiUrl;
    log.info(
      { models, httpProcesses: serving.httpProcesses, workersPerModel: serving.workersPerModel, url, docs: `${url}/docs`, metrics: metricsUrl ? `${metricsUrl}/metrics` : null },
      `ready: serving ${models.join(', ')} with ${serving.httpProcesses} HTTP process(es) and ${serving.workersPerModel} inference worker(s) per model in all ` +
        `at ${url} (API docs: ${url}/docs; ${metricsUrl ? `metrics: ${metricsUrl}/metrics` : 'metrics off: set METRICS_PORT to serve them'})`,
    );
  };
  /** Indexes whose process has been ready once: their service is up, so a later death is replaced, never fatal. */
  const cameUp = new Set<number>();
  /** Per index, replacements in a row that died before they were ready. */
  const failedRestarts = new Map<number, number>();

  const fork = (index: number) => {
    if (stopping) return;
    const share: ProcessShare = {
      index,
      workersPerModel: workersOfProcess(serving.workersPerModel, serving.httpProcesses, index),
      intraOpThreads: serving.intraOpThreads,
      runMemoryBytes: serving.runMemoryBytes,
      keepArena: serving.keepArena,
    };
    let worker: Worker;
    try {
      worker = cluster.fork({ [SHARE_ENV]: JSON.stringify(share) });
    } catch (error) {
      return ended(index, undefined, `could not be started (${(error as Error).message})`, false);
    }
    live.add(worker);
    let ready = false;
    let over = false;
    const end = (how: string) => {
      if (over) return;
      over = true;
      live.delete(worker);
      if (reporting.get(index) === worker) reporting.delete(index);
      ended(index, worker, how, ready);
    };
    worker.on('message', (message: HttpProcessMessage) => {
      if (message.kind === 'metrics-ready') reporting.set(index, worker);
      if (message.kind === 'ready') {
        ready = true;
        cameUp.add(index);
        failedRestarts.delete(index);
        apiUrl = httpUrl(config.host, message.port);
        logReadyOnce();
      }
    });
    // A fork that fails (EMFILE, EAGAIN) reports an error and never runs; without a listener the error would end the primary.
    worker.on('error', (error: Error) => {
      log.error(`HTTP process ${index}: ${error.message}`);
      if (worker.process.pid === undefined) end(`could not be started (${error.message})`);
    });
    // Its last messages (that it was ready) may still be in the pipe when its exit is seen: read them first.
    worker.on('exit', (code, signal) => setTimeout(() => end(signal ? `was killed by ${signal}` : `exited with code ${code}`), EXIT_SETTLE_MS));
  };

  const ended = (index: number, worker: Worker | undefined, how: string, wasReady: boolean) => {
    if (stopping) {
      // Killed by the signal it was sent before it could set up its drain (early in its start): nothing was in flight.
      const stoppedBySignal = worker?.process.signalCode === 'SIGTERM' || worker?.process.signalCode === 'SIGINT';
      if (worker?.process.exitCode !== 0 && !stoppedBySignal) exitCode = 1;
      if (live.size === 0) process.exit(exitCode);
      return;
    }
    if (!cameUp.has(index)) {
      // Its very first start failed (a model that does not load, a port in use): another would fail the same way.
      log.error(`HTTP process ${index} ${how} while starting; stopping`);
      exitCode = 1;
      stop('SIGTERM');
      return;
    }
    const failures = wasReady ? 0 : (failedRestarts.get(index) ?? 0) + 1;
    failedRestarts.set(index, failures);
    const delay = failures === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (failures - 1));
    log.error(`HTTP process ${index} ${how}${wasReady ? '' : ' before it was ready'}; starting a new one${delay ? ` in ${delay} ms` : ''}`);
    setTimeout(() => fork(index), delay);
  };

  // A lone HTTP process has no one to share connections with: it accepts them itself. The primary's
  // round robin, which balances several, takes each connection and hands it over IPC: with a new
  // connection per request that held 2 cores to ~1.9k req/s against ~3.1k accepted directly.
  cluster.schedulingPolicy = serving.httpProcesses === 1 ? cluster.SCHED_NONE : cluster.SCHED_RR;
  for (let index = 0; index < serving.httpProcesses; index++) fork(index);
}

let nextMetricsRequest = 0;

/** Asks each process for its metrics and gathers the answers that come within METRICS_WAIT_MS. */
function gatherMetrics(workers: Worker[]): Promise<MetricsSnapshot[]> {
  const id = nextMetricsRequest++;
  return new Promise((resolve) => {
    const snapshots: MetricsSnapshot[] = [];
    let waiting = 0;
    const listeners = new Map<Worker, (message: HttpProcessMessage) => void>();
    const finish = () => {
      clearTimeout(timer);
      for (const [worker, listener] of listeners) worker.off('message', listener);
      resolve(snapshots);
    };
    const timer = setTimeout(finish, METRICS_WAIT_MS);
    for (const worker of workers) {
      if (!worker.isConnected()) continue;
      const listener = (message: HttpProcessMessage) => {
        if (message.kind !== 'metrics' || message.id !== id) return;
        snapshots.push(message.metrics);
        if (--waiting === 0) finish();
      };
      listeners.set(worker, listener);
      worker.on('message', listener);
      worker.send({ kind: 'metrics-request', id } satisfies PrimaryMessage);
      waiting++;
    }
    if (waiting === 0) finish();
  });
}
