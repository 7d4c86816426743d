/** One load scenario: autocannon drives the server while /health is probed and RSS sampled. */
import autocannon from 'autocannon';
import type { BenchText } from './texts.ts';
import type { ServerProcess } from './server-process.ts';

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
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function runLoad(
  server: ServerProcess,
  options: { model: string; texts: BenchText[]; textsPerRequest: number; connections: number; seconds: number },
): Promise<LoadResult> {
  let next = 0;
  let tokens = 0;
  let texts = 0;
  const nextBody = () => {
    const input = Array.from({ length: options.textsPerRequest }, () => options.texts[next++ % options.texts.length]!.text);
    return JSON.stringify({ model: options.model, input });
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

  const result = await autocannon({
    url: `${server.url}/v1/embeddings`,
    connections: options.connections,
    duration: options.seconds,
    timeout: 60,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: nextBody() }),
        onResponse: (status, body) => {
          if (status !== 200) return;
          const usage = (JSON.parse(body) as { usage: { total_tokens: number } }).usage;
          tokens += usage.total_tokens;
          texts += options.textsPerRequest;
        },
      },
    ],
  });
  loading = false;
  await probes;
  health.sort((a, b) => a - b);
  const seconds = result.duration;
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
  };
}
