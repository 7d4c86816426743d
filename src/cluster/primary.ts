/**
 * The primary process: checks configuration and models before anything starts, plans how many
 * HTTP processes and inference workers the machine holds, forks the HTTP processes (which share
 * the listening port), serves their metrics, replaces one that dies, and on SIGTERM/SIGINT lets
 * each drain and exits once all have.
 */
import cluster, { type Worker } from 'node:cluster';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { detectCapacity, planServing, workersOfProcess, type ServingPlan } from '../capacity.ts';
import type { ServerConfig } from '../config.ts';
import { describeModel } from '../inference/model-files.ts';
import { loadModelsFile } from '../models-file.ts';
import { listenForMetrics } from './metrics-listener.ts';
import { SHARE_ENV, type HttpProcessMessage, type ProcessShare } from './messages.ts';

/** Beyond DRAIN_TIMEOUT_MS, how long the primary waits for its HTTP processes before killing them. */
const EXIT_GRACE_MS = 5000;

/** The ONNX graph and its external weights, if it keeps them beside it (`model.onnx_data`, `model.onnx.data`). */
async function weightBytes(onnxFile: string): Promise<number> {
  const sizes = await Promise.all([onnxFile, `${onnxFile}_data`, `${onnxFile}.data`].map((path) => stat(path).then(({ size }) => size, () => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}

async function plan(config: ServerConfig, log: Logger): Promise<ServingPlan> {
  const specs = await loadModelsFile(config.modelsFile);
  const descriptions = await Promise.all(specs.map((spec) => describeModel(spec, config.artifactsDir)));
  const modelBytes = await Promise.all(descriptions.map(({ onnxFile }) => weightBytes(onnxFile)));
  const capacity = await detectCapacity();
  const serving = planServing(capacity, modelBytes, config.serving);
  log.info(
    { ...serving, reasons: undefined },
    `serving ${specs.length} model(s) with ${serving.httpProcesses} HTTP process(es), ${serving.workersPerModel} inference worker(s) per model ` +
      `× ${serving.intraOpThreads} thread(s); ${serving.reasons.join('; ')}`,
  );
  return serving;
}

export async function runPrimary(config: ServerConfig, log: Logger) {
  const serving = await plan(config, log);
  log.info(
    config.apiKeys.length > 0
      ? `API keys required on every route but /health and /ready (${config.apiKeys.length} configured)`
      : 'no API key required: anyone who can reach the port can use the API (set API_KEYS or API_KEYS_FILE)',
  );
  if (config.metricsPort !== undefined) {
    const { url } = await listenForMetrics(config.metricsPort, config.host);
    log.info(`metrics listening at ${url}/metrics`);
  }
  const ready = new Set<number>();
  // Node keeps an exited worker in cluster.workers until its IPC channel also closes, which may come
  // after 'exit': count the live ones here, or the last exit would not be seen as the last.
  const live = new Set<Worker>();
  let stopping = false;
  let exitCode = 0;

  const fork = (index: number) => {
    const share: ProcessShare = {
      index,
      workersPerModel: workersOfProcess(serving.workersPerModel, serving.httpProcesses, index),
      intraOpThreads: serving.intraOpThreads,
    };
    const worker: Worker = cluster.fork({ [SHARE_ENV]: JSON.stringify(share) });
    live.add(worker);
    worker.on('message', (message: HttpProcessMessage) => {
      if (message.kind === 'ready') ready.add(index);
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (code !== 0) exitCode = 1;
      } else if (!ready.has(index)) {
        // It never came up (a model failed to load): another would fail the same way.
        log.error(`HTTP process ${index} exited with code ${code} while starting; stopping`);
        exitCode = 1;
        void stop();
      } else {
        log.error(`HTTP process ${index} died (code ${code}, signal ${signal}); starting a new one`);
        ready.delete(index);
        fork(index);
      }
      if (stopping && live.size === 0) process.exit(exitCode);
    });
  };

  const stop = async (signal = 'SIGTERM') => {
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
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  // A lone HTTP process has no one to share connections with: it accepts them itself. The primary's
  // round robin, which balances several, takes each connection and hands it over IPC: with a new
  // connection per request that held 2 cores to ~1.9k req/s against ~3.1k accepted directly.
  cluster.schedulingPolicy = serving.httpProcesses === 1 ? cluster.SCHED_NONE : cluster.SCHED_RR;
  for (let index = 0; index < serving.httpProcesses; index++) fork(index);
}
