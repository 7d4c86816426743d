import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App, type ConnectionLimits, type RequestLimits } from '../../src/app.ts';
import type { BatchStats } from '../../src/batching/batcher.ts';
import type { TokenIdMeaning } from '../../src/config.ts';
import { parseModelsFile } from '../../src/models-file.ts';
import { Registry } from '../../src/registry.ts';
import { writeFixtureModel, type FixtureModel, type FixtureOptions } from './fixture-model.ts';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `${prefix}-`));
}

export interface TestServer {
  app: App;
  registry: Registry;
  artifactsDir: string;
  fixtures: Record<string, FixtureModel>;
  close(): Promise<void>;
}

/**
 * Writes the given fixture models (repo → options) into a temp artifacts dir,
 * opens a registry over `modelsTxt` and builds the app. `close()` removes it all.
 */
export async function startTestApp(
  models: Record<string, FixtureOptions>,
  modelsTxt = Object.keys(models).join('\n'),
  options: {
    maxBatchTokens?: number;
    maxBatchSize?: number;
    maxQueued?: number;
    limits?: RequestLimits;
    connections?: ConnectionLimits;
    tokenIds?: TokenIdMeaning;
    apiKeys?: string[];
    /** Writes repos of other layouts (sparse-fixture.ts…) into the artifacts dir before the registry opens. */
    writeMore?: (artifactsDir: string) => Promise<void>;
    onBatch?: (model: string, stats: BatchStats) => void;
  } = {},
): Promise<TestServer> {
  const artifactsDir = await tempDir('artifacts');
  const fixtures: Record<string, FixtureModel> = {};
  for (const [repo, fixtureOptions] of Object.entries(models)) fixtures[repo] = await writeFixtureModel(artifactsDir, repo, fixtureOptions);
  await options.writeMore?.(artifactsDir);
  const registry = await Registry.open(parseModelsFile(modelsTxt, 'models.txt'), {
    onBatch: options.onBatch,
    artifactsDir,
    workersPerModel: 1,
    intraOpThreads: 1,
    batching: { maxBatchTokens: options.maxBatchTokens ?? 4096, maxBatchSize: options.maxBatchSize ?? 32, maxQueued: options.maxQueued },
    tokenIds: options.tokenIds,
  });
  const app = await buildApp({ registry, bodyLimit: 20 * 1024 * 1024, limits: options.limits, connections: options.connections, apiKeys: options.apiKeys });
  const close = async () => {
    await app.close();
    await registry.close();
    await rm(artifactsDir, { recursive: true, force: true });
  };
  await registry.ready;
  return { app, registry, artifactsDir, fixtures, close };
}

/** The OpenAI route's vectors for texts: what the other APIs' vectors are checked against. */
export async function openAiVectors(server: TestServer, model: string, input: string[], extra: Record<string, unknown> = {}): Promise<number[][]> {
  const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model, input, ...extra } });
  if (response.statusCode !== 200) throw new Error(`/v1/embeddings answered ${response.statusCode}: ${response.body}`);
  return (response.json() as { data: { embedding: number[] }[] }).data.map(({ embedding }) => embedding);
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Listens on a free loopback port; returns the base URL. */
export async function listen(server: TestServer): Promise<string> {
  if (server.app.server.listening) return `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  return server.app.listen({ host: '127.0.0.1', port: 0 });
}
