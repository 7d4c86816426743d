import type { PooledBatch } from '../inference/onnx-backend.ts';

/** What the batcher needs from an inference backend. */
export interface BatchBackend {
  embed(ids: Int32Array, lengths: Int32Array): Promise<PooledBatch>;
  /** Batches submitted and not yet answered. */
  readonly inFlight: number;
  /** Parallel executors (worker threads). */
  readonly capacity: number;
}

export interface BatchLimits {
  /** Padded tokens per batch: batch size × longest sequence. */
  maxBatchTokens: number;
  maxBatchSize: number;
}

/** One request's share of the queue. */
class Job {
  readonly vectors: Float32Array[];
  remaining: number;
  done = false;

  constructor(
    count: number,
    private readonly resolve: (vectors: Float32Array[]) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.vectors = new Array(count);
    this.remaining = count;
  }

  deliver(index: number, vector: Float32Array) {
    if (this.done) return;
    this.vectors[index] = vector;
    if (--this.remaining === 0) {
      this.done = true;
      this.resolve(this.vectors);
    }
  }

  fail(error: Error) {
    if (this.done) return;
    this.done = true;
    this.reject(error);
  }
}

interface Item {
  job: Job;
  index: number;
  ids: Int32Array;
}

/** Batches dispatched to each executor before the previous one returns, so it never waits for the main thread. */
const PIPELINE_DEPTH = 2;
/** How many batches' worth of the oldest items are sorted by length together. */
const WINDOW_BATCHES = 4;

/**
 * Packs token sequences from concurrent requests into batches for one model.
 * Each batch is built around the oldest waiting sequence (so nothing starves)
 * from the sequences nearest to it in length among the oldest few batches'
 * worth (so little is padding), under a padded-token budget.
 */
export class Batcher {
  private queue: Item[] = [];

  constructor(
    private readonly backend: BatchBackend,
    private readonly limits: BatchLimits,
  ) {}

  get queuedSequences(): number {
    return this.queue.length;
  }

  /** Embeds the sequences of one request; the vectors come back in the same order. */
  submit(sequences: Int32Array[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (sequences.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const job = new Job(sequences.length, resolve, reject);
      signal?.addEventListener('abort', () => job.fail(signal.reason instanceof Error ? signal.reason : new Error('aborted')), { once: true });
      sequences.forEach((ids, index) => this.queue.push({ job, index, ids }));
      this.pump();
    });
  }

  private pump() {
    while (this.backend.inFlight < this.backend.capacity * PIPELINE_DEPTH) {
      const batch = this.takeBatch();
      if (!batch) return;
      this.dispatch(batch);
    }
  }

  private takeBatch(): Item[] | undefined {
    this.queue = this.queue.filter((item) => !item.job.done);
    if (this.queue.length === 0) return undefined;
    const { maxBatchTokens, maxBatchSize } = this.limits;
    const window = this.queue.slice(0, maxBatchSize * WINDOW_BATCHES);
    const oldest = window[0]!;
    const sorted = window.slice().sort((a, b) => a.ids.length - b.ids.length);
    let low = sorted.indexOf(oldest);
    let high = low;
    const target = oldest.ids.length;
    const fits = (from: number, to: number) =>
      to - from + 1 <= maxBatchSize && (to - from + 1) * sorted[to]!.ids.length <= maxBatchTokens;
    for (;;) {
      const canLower = low > 0 && fits(low - 1, high);
      const canRaise = high < sorted.length - 1 && fits(low, high + 1);
      if (!canLower && !canRaise) break;
      const lowerGap = canLower ? target - sorted[low - 1]!.ids.length : Infinity;
      const raiseGap = canRaise ? sorted[high + 1]!.ids.length - target : Infinity;
      if (lowerGap <= raiseGap) low--;
      else high++;
    }
    const batch = sorted.slice(low, high + 1);
    const taken = new Set(batch);
    this.queue.splice(0, window.length, ...window.filter((item) => !taken.has(item)));
    return batch;
  }

  private dispatch(batch: Item[]) {
    const lengths = Int32Array.from(batch, (item) => item.ids.length);
    const ids = new Int32Array(lengths.reduce((a, b) => a + b, 0));
    let offset = 0;
    for (const item of batch) {
      ids.set(item.ids, offset);
      offset += item.ids.length;
    }
    this.backend
      .embed(ids, lengths)
      .then(
        ({ embeddings, dimensions }) =>
          batch.forEach((item, row) => item.job.deliver(item.index, embeddings.subarray(row * dimensions, (row + 1) * dimensions))),
        (error: Error) => batch.forEach((item) => item.job.fail(error)),
      )
      .finally(() => this.pump());
  }
}
