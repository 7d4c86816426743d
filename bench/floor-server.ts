/**
 * The one-thread floor of an embeddings server: a bare Fastify route doing only the work no
 * embeddings server can skip — parse the JSON body, tokenise each input with transformers.js,
 * answer a stored 384-float vector per input as JSON — on one thread, with no inference.
 * Started like the server (PORT, METRICS_PORT, MODELS_FILE's first model for the tokenizer).
 */
import { createServer } from 'node:http';
import { AutoTokenizer, env } from '@huggingface/transformers';
import Fastify from 'fastify';
import { loadServerConfig } from '../src/config.ts';
import { describeModel } from '../src/inference/files/model-files.ts';
import { loadModelsFile } from '../src/models-file.ts';

if (process.argv.slice(2).some((arg) => arg === '--help' || arg === '-h')) {
  console.log('usage: node --import tsx bench/floor-server.ts\nThe one-thread floor the serving bench compares the server with; started by npm run bench, configured like the server.');
  process.exit(0);
}
const config = loadServerConfig();
const [spec] = await loadModelsFile(config.modelsFile);
const description = await describeModel(spec!, config.artifactsDir);
env.localModelPath = `${config.artifactsDir}/`;
env.allowRemoteModels = false;
// transformers.js as it is, not the server's tokenizer (whose fast path is part of what is measured).
const tokenizer = await AutoTokenizer.from_pretrained(spec!.repo, { local_files_only: true });
const encodeOptions = { add_special_tokens: true, truncation: true, max_length: description.maxTokens };
const vector = Float32Array.from({ length: 384 }, (_, i) => Math.sin(i) / 20);

const app = Fastify({ bodyLimit: config.bodyLimit });
app.get('/health', async () => ({ status: 'ok' }));
app.get('/ready', async () => ({ status: 'ready' }));
app.post('/v1/embeddings', async (request) => {
  const { model, input } = request.body as { model: string; input: string | string[] };
  const texts = typeof input === 'string' ? [input] : input;
  const tokenCounts = texts.map((text) => tokenizer.encode(text, encodeOptions).length);
  const total = tokenCounts.reduce((a, b) => a + b, 0);
  return {
    object: 'list',
    data: tokenCounts.map((count, index) => ({ object: 'embedding', index, embedding: Array.from(vector), num_tokens: count })),
    model,
    usage: { prompt_tokens: total, total_tokens: total },
  };
});
await app.listen({ port: config.port, host: config.host });
// The bench reads batch counters from the metrics port; the floor has none.
if (config.metricsPort !== undefined) createServer((_request, response) => response.end('')).listen(config.metricsPort, config.host);
process.on('SIGTERM', () => process.exit(0));
