/** One load scenario: autocannon drives the server while /health is probed and RSS sampled. */
import autocannon from 'autocannon';
import type { BenchText } from './texts.ts';
import type { ServerProcess } from '../test/helpers/server-process.ts';

export interface LoadResult {
  connections: number;
  textsPerRequest: number;
  seconds: number;
  requests: number;
  textsPerSecond: number;
  tokensPerSecond: number;
  latencyMs: { p50: number; p99: number };
  errors: number;
  healthP95Ms: number;
  peakRssMb: number;
  /** From the server's /metrics over the scenario: inputs per batch, and tokens computed per real token. */
  batches: { meanSize: number; paddedPerToken: number };
  /**
   * Where the CPUs went, in cores (CPU seconds per second): the server's main threads (its HTTP
   * threads, and a cluster primary's), its other threads (inference workers, tokenizer and parse
   * threads, V8's helpers), and this process (the load generator, probes included). `inferenceBusy`
   * is the workers' mean fraction of time in session.run (from /metrics; NaN for the floor).
   */
  cpu: { mainThreads: number; otherThreads: number; loadGenerator: number; inferenceBusy: number };
}

/** Sums of the server's batch counters (all models): batches, inputs in them, padded tokens, real tokens. */
async function batchCounters(metricsUrl: string) {
  const text = await (await fetch(metricsUrl)).text();
  const total = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
  return {
    batches: total('embeddings_batch_size_count'),
    inputs: total('embeddings_batch_size_sum'),
    padded: total('embeddings_batch_padded_tokens_sum'),
    tokens: total('embeddings_tokens_total'),
    busySeconds: total('embeddings_worker_busy_seconds_total'),
    workers: [...text.matchAll(/^embeddings_worker_busy_seconds_total\{/gm)].length,
  };
}

export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function runLoad(
  server: ServerProcess,
  options: {
    model: string;
    texts: BenchText[];
    textsPerRequest: number;
    connections: number;
    /** Run for this long, or until `requests` are answered. */
    seconds?: number;
    requests?: number;
    base64?: boolean;
    /** Rerank instead: each request scores its texts (the documents) against this query at /v1/rerank. */
    rerankQuery?: string;
    /** Classify instead: each request labels its texts at /v1/classify. */
    classify?: boolean;
    /** More fields of each embeddings request (a multi-output model's `outputs`). */
    fields?: Record<string, unknown>;
  },
): Promise<LoadResult> {
  let next = 0;
  let tokens = 0;
  let texts = 0;
  // Each connection has one request in flight: remember what it sent, count it when the answer is a 200.
  const nextBody = (context: Record<string, unknown>) => {
    const picked = Array.from({ length: options.textsPerRequest }, () => options.texts[next++ % options.texts.length]!);
    context.tokens = picked.reduce((sum, text) => sum + text.tokens, 0);
    if (options.rerankQuery !== undefined) return JSON.stringify({ model: options.model, query: options.rerankQuery, documents: picked.map((text) => text.text) });
    if (options.classify) return JSON.stringify({ model: options.model, input: picked.map((text) => text.text) });
    return JSON.stringify({ model: options.model, input: picked.map((text) => text.text), ...(options.base64 ? { encoding_format: 'base64' } : {}), ...options.fields });
  };

  let loading = true;
  const health: number[] = [];
  let peakRssMb = 0;
  const probes = (async () => {
    while (loading) {
      const started = performance.now();
      await (await fetch(`${server.url}/health`)).text();
      health.push(performance.now() - started);
      peakRssMb = Math.max(peakRssMb, await server.rssMb());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  const before = await batchCounters(server.metricsUrl);
  const cpuBefore = await server.cpuSeconds();
  const generatorBefore = process.cpuUsage();
  const started = performance.now();
  let lastAnswer = started;
  const result = await autocannon({
    url: `${server.url}/v1/${options.rerankQuery !== undefined ? 'rerank' : options.classify ? 'classify' : 'embeddings'}`,
    connections: options.connections,
    ...(options.requests ? { amount: options.requests } : { duration: options.seconds }),
    timeout: 60,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request, context) => ({ ...request, body: nextBody(context as Record<string, unknown>) }),
        onResponse: (status, _body, context) => {
          lastAnswer = performance.now();
          if (status !== 200) return;
          tokens += (context as { tokens: number }).tokens;
          texts += options.textsPerRequest;
        },
      },
    ],
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const generator = process.cpuUsage(generatorBefore);
  const cpuAfter = await server.cpuSeconds();
  loading = false;
  await probes;
  const after = await batchCounters(server.metricsUrl);
  health.sort((a, b) => a - b);
  // autocannon reports whole-second ticks; a fixed-count run ends at its last answer.
  const seconds = options.requests ? (lastAnswer - started) / 1000 : result.duration;
  return {
    connections: options.connections,
    textsPerRequest: options.textsPerRequest,
    seconds,
    requests: result.requests.total,
    textsPerSecond: texts / seconds,
    tokensPerSecond: tokens / seconds,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    errors: result.errors + result.non2xx + result.timeouts,
    healthP95Ms: percentile(health, 0.95),
    peakRssMb,
    batches: {
      meanSize: (after.inputs - before.inputs) / (after.batches - before.batches),
      paddedPerToken: (after.padded - before.padded) / (after.tokens - before.tokens),
    },
    cpu: {
      mainThreads: (cpuAfter.mainThreads - cpuBefore.mainThreads) / wallSeconds,
      otherThreads: (cpuAfter.otherThreads - cpuBefore.otherThreads) / wallSeconds,
      loadGenerator: (generator.user + generator.system) / 1e6 / wallSeconds,
      inferenceBusy: (after.busySeconds - before.busySeconds) / (after.workers * wallSeconds),
    },
  };
}

/** Two runs of one scenario as one: rates over their whole time, latencies and peaks the worse of the two. */
export function combineLoads(first: LoadResult, second: LoadResult): LoadResult {
  const seconds = first.seconds + second.seconds;
  const overTime = (rate: (load: LoadResult) => number) => (rate(first) * first.seconds + rate(second) * second.seconds) / seconds;
  return {
    ...second,
    seconds,
    requests: first.requests + second.requests,
    textsPerSecond: overTime((load) => load.textsPerSecond),
    tokensPerSecond: overTime((load) => load.tokensPerSecond),
    latencyMs: { p50: Math.max(first.latencyMs.p50, second.latencyMs.p50), p99: Math.max(first.latencyMs.p99, second.latencyMs.p99) },
    errors: first.errors + second.errors,
    healthP95Ms: Math.max(first.healthP95Ms, second.healthP95Ms),
    peakRssMb: Math.max(first.peakRssMb, second.peakRssMb),
    batches: {
      meanSize: overTime((load) => load.batches.meanSize),
      paddedPerToken: overTime((load) => load.batches.paddedPerToken),
    },
    cpu: {
      mainThreads: overTime((load) => load.cpu.mainThreads),
      otherThreads: overTime((load) => load.cpu.otherThreads),
      loadGenerator: overTime((load) => load.cpu.loadGenerator),
      inferenceBusy: overTime((load) => load.cpu.inferenceBusy),
    },
  };
}
