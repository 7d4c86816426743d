/**
 * The server's memory during one LLM rerank request that holds an 8k-token pair: a generated Qwen3-Reranker-shaped
 * decoder export (Qwen3's tokenizer, an LM head over its 151 669 tokens, past inputs), served as users run it, one
 * request of 1 query × (1 document cut to the card's 8192 tokens + 19 short ones) at /v1/rerank. The server's resident
 * memory (its whole process tree) is sampled every 20 ms; printed: before, the peak, the rise, the plan's estimate for
 * the longest run, and the vocabulary-wide logits that run would hold had the LM head stayed (what the worker's edit
 * avoids). A benchmark, not a test: the rise depends on the allocator.
 *
 *   node --import tsx bench/llm-rerank-memory.ts [layers=2] [hidden=64] [heads=4]
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPeakBytes, runShapeOf } from '../src/batching/run-peak.ts';
import type { Json } from '../src/inference/files/config-json.ts';
import { writeFixtureModel } from '../test/helpers/fixture-model.ts';
import { startServer } from '../test/helpers/server-process.ts';

const [layers = 2, hidden = 64, heads = 4] = process.argv.slice(2).map(Number);
const VOCABULARY = 151_669;
const CARD_LIMIT = 8192;
const dir = await mkdtemp(join(tmpdir(), 'llm-rerank-memory-'));
try {
  const repo = 'bench/qwen3-reranker-8k';
  const model = await writeFixtureModel(dir, repo, {
    family: 'qwen3', llmReranker: 'lm-head', graph: { causal: true, past: true },
    shape: { layers, hidden, heads, intermediate: 4 * hidden, maxPositions: 40_960, seed: 7 }, modelMaxLength: 131_072,
  });
  await writeFile(join(dir, 'models.txt'), `${repo}\n`);
  // A long document's run goes alone, without ONNX Runtime's arena (what a worker serving long inputs runs with).
  const server = await startServer({ MODELS_FILE: join(dir, 'models.txt'), ARTIFACTS_DIR: dir });
  try {
    const query = 'what does the quick brown fox do when the lazy dog sleeps';
    const long = Array.from({ length: 9000 }, (_, i) => `word${i % 997}`).join(' ');
    const documents = [long, ...Array.from({ length: 19 }, (_, i) => `a short document number ${i} about foxes and dogs`)];
    const before = await server.rssMb();
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await server.rssMb());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const started = performance.now();
    const response = await fetch(`${server.url}/v1/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: repo, query, documents }) });
    const body = (await response.json()) as { results?: { index: number; relevance_score: number }[]; usage?: { total_tokens: number }; error?: unknown };
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    if (!response.ok) throw new Error(`rerank answered ${response.status}: ${JSON.stringify(body)}`);
    const config = JSON.parse(await readFile(join(model.dir, 'config.json'), 'utf8')) as Json;
    const estimate = runPeakBytes(runShapeOf(config, hidden), 1, CARD_LIMIT, false) / 1e6;
    const logits = (CARD_LIMIT * VOCABULARY * 4) / 1e6;
    console.log(`decoder ${layers} × ${hidden}, ${heads} heads, Qwen3's tokenizer and ${VOCABULARY}-row LM head; 1 query × 20 documents, one cut to ${CARD_LIMIT} tokens`);
    console.table([{
      'tokens in all': body.usage?.total_tokens,
      seconds: Math.round(seconds * 10) / 10,
      'RSS before MB': Math.round(before),
      'RSS peak MB': Math.round(peak),
      'rise MB': Math.round(peak - before),
      'plan, 8192-token run MB': Math.round(estimate),
      'logits of that run with the LM head MB': Math.round(logits),
    }]);
  } finally {
    await server.stop();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
