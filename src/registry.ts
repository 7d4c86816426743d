import { stat } from 'node:fs/promises';
import { SMALL_REQUEST_INPUTS, type BatchLimits, type BatchStats } from './batching/batcher.ts';
import type { RunMemory } from './batching/run-memory.ts';
import { ModelRuntime } from './model/model-runtime.ts';
import { serveModel, type ServedModel } from './model/served-model.ts';
import { describeModel, type ModelDescription } from './inference/files/model-files.ts';
import type { TokenIdMeaning } from './config.ts';
import { weightSets, type ModelSpec } from './models-file.ts';

/** A model the server serves: known from models.txt and its configs at once, usable once loaded. */
export interface ModelEntry {
  spec: ModelSpec;
  description: ModelDescription;
  /** Unix seconds: when the model's files were written. */
  created: number;
  ownedBy: string;
  /** What token-id input means for this model (models.txt token_ids=, else TOKEN_IDS). */
  tokenIds: TokenIdMeaning;
  /** Settles when the model is loaded and warmed up: the model as this id serves it. */
  loaded: Promise<ServedModel>;
  /** The runtime this id shares with the other ids of its repo and ONNX file. */
  shared: Promise<ModelRuntime>;
}

export interface RegistryOptions {
  artifactsDir: string;
  workersPerModel: number;
  intraOpThreads: number;
  batching: BatchLimits;
  /** What token-id input means where models.txt does not say; OpenAI's meaning by default. */
  tokenIds?: TokenIdMeaning;
  onLoaded?: (entry: ModelEntry, model: ServedModel, milliseconds: number) => void;
  onBatch?: (model: string, stats: BatchStats) => void;
  onRun?: (model: string, worker: number, seconds: number) => void;
  /** The process's memory for model runs, shared by every model (see batching/run-memory.ts). */
  runMemory?: RunMemory;
  /** ONNX Runtime's memory arena stays on for models taking long inputs (see capacity.ts). */
  keepArena?: boolean;
}

/**
 * All served models, and the names clients may use for each: the id from
 * models.txt, the full repo id, and the bare repo name when no other model has it.
 */
export class Registry {
  private readonly byName = new Map<string, ModelEntry>();
  private readonly loadedModels = new Map<ModelEntry, ServedModel>();
  /** Settles when every model is loaded; rejects with the first failure. */
  readonly ready: Promise<void>;

  private constructor(
    readonly entries: ModelEntry[],
    /** How each model's queue batches (TEI's /info reports it). */
    readonly batching: BatchLimits,
  ) {
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
   * server listens), then loads the models in the background. Ids of one repo and ONNX file
   * (aliases for prompts or token-id meanings) share one runtime: its workers, its queue.
   */
  static async open(specs: ModelSpec[], options: RegistryOptions): Promise<Registry> {
    const descriptions = new Map(await Promise.all(specs.map(async (spec) => [spec, await describeModel(spec, options.artifactsDir)] as const)));
    const entries: ModelEntry[] = [];
    for (const ids of weightSets(specs)) {
      const first = ids[0]!;
      const description = descriptions.get(first)!;
      const created = Math.floor((await stat(description.onnxFile)).mtimeMs / 1000);
      const started = performance.now();
      // Labelled in metrics by the first id that uses it.
      const shared = ModelRuntime.load(description, {
        workers: options.workersPerModel,
        intraOpThreads: options.intraOpThreads,
        batching: options.batching,
        loadOpenAiEncoding: ids.some((spec) => (spec.tokenIds ?? options.tokenIds ?? 'openai') === 'openai'),
        onBatch: (stats) => options.onBatch?.(first.id, stats),
        onRun: (worker, seconds) => options.onRun?.(first.id, worker, seconds),
        runMemory: options.runMemory,
        keepArena: options.keepArena,
      }).catch((error: Error) => {
        throw new Error(`model "${first.id}" (${first.source}, ${description.dir}) failed to load: ${error.message}`);
      });
      shared.catch(() => undefined); // observed through the entries' `loaded` and `ready`
      for (const spec of ids) {
        const tokenIds = spec.tokenIds ?? options.tokenIds ?? 'openai';
        const entry: ModelEntry = {
          spec,
          description: descriptions.get(spec)!,
          tokenIds,
          created,
          ownedBy: spec.repo.split('/')[0]!,
          shared,
          loaded: shared.then((runtime) => {
            const served = serveModel(runtime, { tokenIds, promptName: spec.promptName });
            options.onLoaded?.(entry, served, performance.now() - started);
            return served;
          }),
        };
        entry.loaded.catch(() => undefined); // observed by `ready`; avoid an unhandled rejection meanwhile
        entries.push(entry);
      }
    }
    entries.sort((a, b) => specs.indexOf(a.spec) - specs.indexOf(b.spec));
    return new Registry(entries, options.batching);
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

  /** Whether every loaded model's queue would refuse a large request now (one of more than SMALL_REQUEST_INPUTS inputs). */
  refusesLargeRequests(): boolean {
    const models = [...this.loadedModels.values()];
    return models.length > 0 && models.every((model) => !model.runtime.wouldAdmit(SMALL_REQUEST_INPUTS + 1));
  }

  /** The model a rerank request names, or when it names none the first reranker served (TEI's clients name none). */
  resolveReranker(name: string | undefined): ModelEntry | undefined {
    // A late-interaction (ColBERT) model scores pairs too, by MaxSim.
    return name === undefined ? (this.entries.find((entry) => entry.description.kind === 'reranker') ?? this.entries.find((entry) => entry.description.colbert)) : this.resolve(name);
  }

  /** The model a name resolves to, if it is loaded. */
  loadedModel(name: string): ServedModel | undefined {
    const entry = this.byName.get(name);
    return entry && this.loadedModels.get(entry);
  }

  /** Inputs waiting per loaded model (labelled by the first id that uses it). */
  queueDepths(): { model: string; queued: number }[] {
    const seen = new Set<Promise<ModelRuntime>>();
    const depths: { model: string; queued: number }[] = [];
    for (const [entry, model] of this.loadedModels) {
      if (seen.has(entry.shared)) continue;
      seen.add(entry.shared);
      depths.push({ model: entry.spec.id, queued: model.runtime.queuedSequences });
    }
    return depths;
  }

  get ids(): string[] {
    return this.entries.map((entry) => entry.spec.id);
  }

  async close() {
    await Promise.allSettled([...new Set(this.entries.map((entry) => entry.shared))].map(async (shared) => (await shared).close()));
  }
}
