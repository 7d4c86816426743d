/**
 * Queries during indexing: a few connections send single texts, one after another,
 * while one 2048-input request is embedded. The queries' latency shows whether
 * the large request holds them up.
 */
import { percentile } from './load.ts';
import type { BenchText } from './texts.ts';
import type { ServerProcess } from '../test/helpers/server-process.ts';

export interface MixedResult {
  queryConnections: number;
  largeInputs: number;
  largeSeconds: number;
  queries: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
}

export async function runMixed(
  server: ServerProcess,
  options: { model: string; queryTexts: BenchText[]; largeTexts: BenchText[]; queryConnections: number },
): Promise<MixedResult> {
  const post = async (input: string | string[]) => {
    const response = await fetch(`${server.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: options.model, input, encoding_format: 'base64' }),
    });
    await response.arrayBuffer();
    return response.status;
  };
  let largeDone = false;
  let errors = 0;
  const started = performance.now();
  const large = post(options.largeTexts.map(({ text }) => text)).then((status) => {
    largeDone = true;
    if (status !== 200) errors++;
    return (performance.now() - started) / 1000;
  });
  const latencies: number[] = [];
  let next = 0;
  const connection = async () => {
    while (!largeDone) {
      const sent = performance.now();
      const status = await post(options.queryTexts[next++ % options.queryTexts.length]!.text);
      if (status === 200) latencies.push(performance.now() - sent);
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: options.queryConnections }, connection));
  const largeSeconds = await large;
  latencies.sort((a, b) => a - b);
  return {
    queryConnections: options.queryConnections,
    largeInputs: options.largeTexts.length,
    largeSeconds,
    queries: latencies.length,
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? NaN },
    errors,
  };
}
