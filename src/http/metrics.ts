import client from 'prom-client';
import type { BatchStats } from '../batching/batcher.ts';
import type { Registry } from '../registry.ts';

/**
 * Prometheus metrics of one HTTP process, in their own registry (tests build many apps).
 * `processLabel` tells the processes of a cluster apart in per-worker series.
 */
export function createMetrics(processLabel = '0') {
  const register = new client.Registry();
  client.collectDefaultMetrics({ register });
  const registers = [register];
  let models: Registry | undefined;
  const metrics = {
    register,
    requests: new client.Counter({
      name: 'embeddings_http_requests_total',
      help: 'HTTP requests answered, by route, method, status and model.',
      labelNames: ['route', 'method', 'status', 'model'],
      registers,
    }),
    latency: new client.Histogram({
      name: 'embeddings_http_request_duration_seconds',
      help: 'Time from request to response, by route.',
      labelNames: ['route', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    inputs: new client.Counter({ name: 'embeddings_inputs_total', help: 'Inputs embedded, by model.', labelNames: ['model'], registers }),
    tokens: new client.Counter({ name: 'embeddings_tokens_total', help: 'Tokens embedded (after truncation), by model.', labelNames: ['model'], registers }),
    queueDepth: new client.Gauge({
      name: 'embeddings_queue_depth',
      help: 'Inputs waiting for a batch, by model.',
      labelNames: ['model'],
      registers,
      collect() {
        for (const { model, queued } of models?.queueDepths() ?? []) this.set({ model }, queued);
      },
    }),
    batchSize: new client.Histogram({
      name: 'embeddings_batch_size',
      help: 'Inputs per batch, by model.',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    batchPaddedTokens: new client.Histogram({
      name: 'embeddings_batch_padded_tokens',
      help: 'Tokens the model computed per batch, padding included (each run: inputs × its longest), by model.',
      labelNames: ['model'],
      buckets: client.exponentialBuckets(16, 2, 12),
      registers,
    }),
    graphRuns: new client.Counter({
      name: 'embeddings_graph_runs_total',
      help: 'Runs of the model graph (ONNX Runtime session.run), by model: one per batch or length group, however many outputs its rows ask for.',
      labelNames: ['model'],
      registers,
    }),
    inferenceSeconds: new client.Histogram({
      name: 'embeddings_batch_inference_seconds',
      help: 'Time from handing a batch to an inference worker to its vectors coming back, by model.',
      labelNames: ['model'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueWait: new client.Histogram({
      name: 'embeddings_queue_wait_seconds',
      help: 'Time each input waited in the queue before its batch went to an inference worker, by model.',
      labelNames: ['model'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    workerBusy: new client.Counter({
      name: 'embeddings_worker_busy_seconds_total',
      help: 'Seconds each inference worker spent running the model (rate() is its busy fraction), by model and worker (process.worker).',
      labelNames: ['model', 'worker'],
      registers,
    }),
    observeBatch(model: string, stats: BatchStats) {
      metrics.batchSize.observe({ model }, stats.size);
      metrics.batchPaddedTokens.observe({ model }, stats.paddedTokens);
      metrics.graphRuns.inc({ model }, stats.runs);
      metrics.inferenceSeconds.observe({ model }, stats.seconds);
      for (const wait of stats.queueWaits) metrics.queueWait.observe({ model }, wait);
    },
    observeRun(model: string, worker: number, seconds: number) {
      metrics.workerBusy.inc({ model, worker: `${processLabel}.${worker}` }, seconds);
    },
    /** Queue depths are read from the registry when scraped. */
    watch(registry: Registry) {
      models = registry;
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
