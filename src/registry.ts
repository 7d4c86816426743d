import { stat } from 'node:fs/promises';
import type { BatchLimits, BatchStats } from './batching/batcher.ts';
import { EmbeddingModel } from './embedding-model.ts';
import { describeModel, type ModelDescription } from './inference/model-files.ts';
import type { TokenIdMeaning } from './config.ts';
import type { ModelSpec } from './models-file.ts';

/** A model the server serves: known from models.txt and its configs at once, usable once loaded. */
export interface ModelEntry {
  spec: ModelSpec;
  description: ModelDescription;
  /** Unix seconds: when the model's files were written. */
  created: number;
  ownedBy: string;
  /** What token-id input means for this model (models.txt token_ids=, else TOKEN_IDS). */
  tokenIds: TokenIdMeaning;
  /** Settles when the model is loaded and warmed up. */
  loaded: Promise<EmbeddingModel>;
}

export interface RegistryOptions {
  artifactsDir: string;
  workersPerModel: number;
  intraOpThreads: number;
  batching: BatchLimits;
  /** What token-id input means where models.txt does not say; OpenAI's meaning by default. */
  tokenIds?: TokenIdMeaning;
  onLoaded?: (entry: ModelEntry, model: EmbeddingModel, milliseconds: number) => void;
  onBatch?: (model: string, stats: BatchStats) => void;
  onRun?: (model: string, worker: number, seconds: number) => void;
}

/**
 * All served models, and the names clients may use for each: the id from
 * models.txt, the full repo id, and the bare repo name when no other model has it.
 */
export class Registry {
  private readonly byName = new Map<string, ModelEntry>();
  private readonly loadedModels = new Map<ModelEntry, EmbeddingModel>();
  /** Settles when every model is loaded; rejects with the first failure. */
  readonly ready: Promise<void>;

  private constructor(readonly entries: ModelEntry[]) {
    const candidates = new Map<string, ModelEntry[]>();
    for (const entry of entries) {
      const { repo } = entry.spec;
      for (const name of new Set([repo, repo.split('/')[1]!])) candidates.set(name, [...(candidates.get(name) ?? []), entry]);
    }
    for (const [name, matches] of candidates) if (matches.length === 1) this.byName.set(name, matches[0]!);
    for (const entry of entries) this.byName.set(entry.spec.id, entry);
    for (const entry of entries) entry.loaded.then((model) => this.loadedModels.set(entry, model), () => undefined);
    this.ready = Promise.all(entries.map((entry) => entry.loaded)).then(() => undefined);
    this.ready.catch(() => undefined);
  }

  /**
   * Checks every model's files and reads its configs (failing fast, before the
   * server listens), then loads the models in the background.
   */
  static async open(specs: ModelSpec[], options: RegistryOptions): Promise<Registry> {
    const described = await Promise.all(specs.map(async (spec) => ({ spec, description: await describeModel(spec, options.artifactsDir) })));
    const entries = await Promise.all(
      described.map(async ({ spec, description }): Promise<ModelEntry> => {
        const tokenIds = spec.tokenIds ?? options.tokenIds ?? 'openai';
        const entry: ModelEntry = {
          spec,
          description,
          tokenIds,
          created: Math.floor((await stat(description.onnxFile)).mtimeMs / 1000),
          ownedBy: spec.repo.split('/')[0]!,
          loaded: Promise.resolve().then(async () => {
            const started = performance.now();
            const model = await EmbeddingModel.load(description, {
              artifactsDir: options.artifactsDir,
              repo: spec.repo,
              workers: options.workersPerModel,
              intraOpThreads: options.intraOpThreads,
              batching: options.batching,
              tokenIds,
              promptName: spec.promptName,
              onBatch: (stats) => options.onBatch?.(spec.id, stats),
              onRun: (worker, seconds) => options.onRun?.(spec.id, worker, seconds),
            });
            options.onLoaded?.(entry, model, performance.now() - started);
            return model;
          }),
        };
        entry.loaded.catch(() => undefined); // observed by `ready`; avoid an unhandled rejection meanwhile
        return entry;
      }),
    );
    return new Registry(entries);
  }

  get isReady(): boolean {
    return this.loadedModels.size === this.entries.length;
  }

  isLoaded(entry: ModelEntry): boolean {
    return this.loadedModels.has(entry);
  }

  resolve(name: string): ModelEntry | undefined {
    return this.byName.get(name);
  }

  /** Inputs waiting per loaded model. */
  queueDepths(): { model: string; queued: number }[] {
    return [...this.loadedModels].map(([entry, model]) => ({ model: entry.spec.id, queued: model.queuedSequences }));
  }

  get ids(): string[] {
    return this.entries.map((entry) => entry.spec.id);
  }

  async close() {
    await Promise.allSettled(this.entries.map(async (entry) => (await entry.loaded).close()));
  }
}
