/**
 * Bulk clients beside query clients, against a running server: `bulk` clients post 2048-input requests and retry at
 * once on 429 (as a bulk indexer does), 4 clients post single-text queries. Prints the queries' rate and latency and
 * what the bulk clients got. Start the server first (any model; the issue-23 figures used a MiniLM-L6-shaped one):
 *   node --import tsx bench/bulk-queries.ts --url http://127.0.0.1:8000 --model tiny --seconds 10 --bulk 16
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8000' },
    model: { type: 'string', default: 'tiny' },
    seconds: { type: 'string', default: '10' },
    bulk: { type: 'string', default: '16' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: node --import tsx bench/bulk-queries.ts [--url URL] [--model ID] [--seconds N] [--bulk CLIENTS]');
  process.exit(0);
}
const { url, model } = values;
const bulkBody = JSON.stringify({ model, input: Array.from({ length: 2048 }, (_, i) => `the quick brown fox ${i} jumps over the lazy dog`) });
const end = Date.now() + Number(values.seconds) * 1000;
const counts = { bulk: new Map<number, number>(), query: new Map<number, number>() };
const latencies: number[] = [];
const send = (body: string) =>
  fetch(`${url}/v1/embeddings`, { method: 'POST', body }).then(
    async (response) => (await response.arrayBuffer(), response.status),
    () => 0,
  );
const count = (map: Map<number, number>, status: number) => map.set(status, (map.get(status) ?? 0) + 1);

async function bulkClient() {
  while (Date.now() < end) count(counts.bulk, await send(bulkBody));
}
async function queryClient(client: number) {
  for (let i = 0; Date.now() < end; i++) {
    const started = performance.now();
    const status = await send(JSON.stringify({ model, input: `a single query ${client} ${i}` }));
    count(counts.query, status);
    if (status === 200) latencies.push(performance.now() - started);
  }
}

const started = Date.now();
await Promise.all([...Array.from({ length: Number(values.bulk) }, bulkClient), ...Array.from({ length: 4 }, (_, k) => queryClient(k))]);
const seconds = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const percentile = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(0) : '-');
console.log(
  JSON.stringify({
    seconds: Number(seconds.toFixed(1)),
    queriesPerSecond: Number(((counts.query.get(200) ?? 0) / seconds).toFixed(1)),
    queryP50Ms: percentile(0.5),
    queryP99Ms: percentile(0.99),
    queryStatuses: Object.fromEntries(counts.query),
    bulkStatuses: Object.fromEntries(counts.bulk),
  }),
);
