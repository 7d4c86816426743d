import type { CancelSignal } from '../cancellation.ts';
import { OverloadedError } from '../embedding-errors.ts';
import { NORMALIZE_AS_MODEL, NORMALIZE_OFF, NORMALIZE_ON, type BatchTexts, type RunRows } from '../inference/onnx/protocol.ts';
import { formatBits, type VectorFormat } from '../inference/output/quantize.ts';
import type { VectorEncoding } from '../inference/output/vector-text.ts';
import type { RunMemory } from './run-memory.ts';

/** What the batcher needs from an inference backend. */
export interface BatchBackend {
  /**
   * The rows' blobs come to `onRows` as they are computed; settles once all have, rejects if the batch failed.
   * `onFree` may hear that the executor can take another batch before this one settles.
   */
  run(texts: BatchTexts, onRows: (rows: RunRows) => void, onFree?: () => void): Promise<void>;
  /** Batches holding an executor. */
  readonly inFlight: number;
  /** Parallel executors (worker threads). */
  readonly capacity: number;
}

/** What one dispatched batch looked like, for metrics. */
export interface BatchStats {
  size: number;
  /** Tokens the model computed, padding included (the worker may split a batch into runs by length). */
  paddedTokens: number;
  /** Graph runs (session.run calls) the batch took: one per length group, whatever heads its rows want. */
  runs: number;
  seconds: number;
  /** How long each input waited in the queue before the batch was dispatched, in seconds. */
  queueWaits: Float64Array;
}

export interface BatchLimits {
  /** Padded tokens per batch: batch size × longest sequence. */
  maxBatchTokens: number;
  maxBatchSize: number;
  /** Sequences allowed to wait; past it requests are refused at once (a request always fits an empty queue). */
  maxQueued?: number;
}

/** What a request asks of the heads it wants (protocol.ts' RowOptions, for all its inputs). */
export interface HeadOptions {
  /** pooled: the leading dimensions (all when absent). */
  dimensions?: number;
  /** pooled: JSON numbers or base64. */
  encoding?: VectorEncoding;
  /** sparse: keep the k largest weights (all when absent). */
  maxActiveDims?: number;
  /** pooled: several formats, or compact ones, of each vector from the one run (a blob holds them all, see vector-text.ts). */
  formats?: readonly VectorFormat[];
  /** pooled: normalise (true) or not (false) whatever the model does; as the model does when absent. */
  normalize?: boolean;
  /** token-vectors: leave out the tokens of the head's skiplist (a ColBERT document). */
  dropSkiplist?: boolean;
}

interface Item {
  job: Job;
  index: number;
  ids: Int32Array;
  /** Leading tokens (a prompt) the pooling leaves out. */
  skip: number;
  /** Leading tokens the attention sees: all when undefined. */
  attended: number | undefined;
  /** Token types (a cross-encoder's pair: 0 for the query, 1 for the document); all 0 when absent. */
  typeIds: Int32Array | undefined;
  /** Spans of the sequence pooled each on its own (late chunking), as [start, end) pairs; none when absent. */
  spans: Int32Array | undefined;
}

/** One request's share of the queue: its sequences not yet dispatched, shortest first. */
class Job {
  /** Per head wanted (in the request's order), per input, its blob. */
  readonly blobs: Uint8Array[][];
  /** The heads wanted, as a batch row's bit mask. */
  readonly headMask: number;
  pending: Item[];
  private remaining: number;
  done = false;
  /** Dispatched batches holding some of its sequences, not yet settled. */
  running = 0;
  readonly queuedAt = performance.now();
  /** A request of at most SMALL_REQUEST_INPUTS inputs (a query): it anchors ahead of large ones, turn about. */
  readonly small: boolean;

  constructor(
    sequences: Int32Array[],
    skips: readonly number[] | undefined,
    attended: readonly number[] | undefined,
    typeIds: readonly Int32Array[] | undefined,
    spans: readonly Int32Array[] | undefined,
    private readonly heads: readonly number[],
    readonly options: HeadOptions,
    private readonly resolve: (blobs: Uint8Array[][]) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.blobs = heads.map(() => new Array(sequences.length));
    this.headMask = heads.reduce((mask, head) => mask | (1 << head), 0);
    this.remaining = sequences.length * heads.length;
    this.small = sequences.length <= SMALL_REQUEST_INPUTS;
    this.pending = sequences
      .map((ids, index) => ({ job: this, index, ids, skip: skips?.[index] ?? 0, attended: attended?.[index], typeIds: typeIds?.[index], spans: spans?.[index] }))
      .sort((a, b) => a.ids.length - b.ids.length);
  }

  deliver(head: number, index: number, blob: Uint8Array) {
    if (this.done) return;
    this.blobs[this.heads.length === 1 ? 0 : this.heads.indexOf(head)]![index] = blob;
    if (--this.remaining === 0) {
      this.done = true;
      this.resolve(this.blobs);
    }
  }

  fail(error: Error) {
    if (this.done) return;
    this.done = true;
    this.pending = [];
    this.reject(error);
  }
}

/** Requests of at most this many inputs may use the whole queue; larger ones only LARGE_REQUEST_SHARE of it. */
export const SMALL_REQUEST_INPUTS = 32;
const LARGE_REQUEST_SHARE = 0.75;

/**
 * While small requests keep coming (one within QUERIES_RECENT_MS), batches of large ones hold at most this many
 * padded tokens, so a worker comes free for the next query sooner. Measured on 2 cores, MiniLM-L6-shaped, 16 clients
 * retrying 2048-input requests on 429 beside 4 query clients: queries p50 76-79 / p99 127-141 ms and 27-28/s with
 * this cap, against 134-163 / 288-304 ms and 12-14/s without; the workers' inputs per busy second ~7% fewer.
 */
const QUERIES_RECENT_MS = 1000;
const LARGE_BATCH_TOKENS_BESIDE_QUERIES = 128;

/** How many batches' worth of candidates a batch is chosen from. */
const WINDOW_BATCHES = 4;

/**
 * Packs token sequences from concurrent requests into batches for one model.
 * Requests take turns anchoring a batch, in arrival order (so a 2048-input request
 * cannot hold up single-text queries, no query waits behind later ones, and nothing
 * starves); the anchor's batch is filled
 * with the waiting sequences nearest it in length, from any request (so little
 * is padding), under a padded-token budget and a batch size cap.
 *
 * A batch is formed only when an executor is free (or on a last run too short to
 * matter: see onnx-worker.ts), from everything waiting by
 * then, so the busier the model, the larger the batches; with several executors
 * free, what waits is spread over them. Queueing a batch
 * behind a running one instead was measured worse: it leaves with whatever
 * trickled in first, often a single text.
 */
export class Batcher {
  /** In turn order: the job at the front anchors the next batch, then goes to the back. */
  private jobs: Job[] = [];
  private reserved = 0;
  private pumpScheduled = false;
  /** Padded tokens of the batches small requests anchored since a large one last did. */
  private smallTokensSinceLarge = 0;
  private lastSmallAt = -Infinity;

  constructor(
    private readonly backend: BatchBackend,
    private readonly limits: BatchLimits,
    private readonly onBatch: (stats: BatchStats) => void = () => undefined,
    /** The process's memory for runs, and what a run of this model takes at its peak (batch size, longest input). */
    private readonly memory?: { budget: RunMemory; peakBytes: (batch: number, longest: number) => number },
  ) {
    memory?.budget.onGiven(() => this.schedulePump());
  }

  /** Whether a batch fits the memory for runs beside those in flight; a single input runs whenever none is. */
  private memoryFits(batch: number, longest: number): boolean {
    if (!this.memory) return true;
    return this.memory.budget.fits(this.memory.peakBytes(batch, longest)) || (batch === 1 && this.memory.budget.idle);
  }

  get queuedSequences(): number {
    return this.jobs.reduce((sum, job) => sum + job.pending.length, 0);
  }

  /**
   * Admission control, before a request spends any work (tokenising): takes
   * `count` places in the queue or throws OverloadedError when the queue and the
   * places already taken are full. A request always fits an empty queue. Requests of
   * more than SMALL_REQUEST_INPUTS inputs may fill only part of it: the rest is kept
   * for small ones, so a bulk client that keeps the queue full (retrying on 429) does
   * not lock single-text queries out.
   * Returns the release, to call once the sequences are submitted (or abandoned).
   */
  admit(count: number): () => void {
    if (!this.wouldAdmit(count)) throw new OverloadedError(this.queuedSequences + this.reserved);
    this.reserved += count;
    return () => {
      this.reserved -= count;
    };
  }

  /** Whether admit(count) would take the request now. */
  wouldAdmit(count: number): boolean {
    const taken = this.queuedSequences + this.reserved;
    const room = this.limits.maxQueued ?? Infinity;
    return taken === 0 || taken + count <= (count > SMALL_REQUEST_INPUTS ? Math.floor(room * LARGE_REQUEST_SHARE) : room);
  }

  /**
   * Runs the sequences of one request through the model's `heads` (indexes among its heads; the first alone when
   * absent), asked `headOptions`; per head wanted, in that order, the blobs of the sequences, in their order.
   * `skips`: per sequence, leading tokens pooling leaves out; `attended`: per sequence, leading tokens the attention
   * sees (all when absent); `typeIds`: per sequence, its token types.
   */
  submit(
    sequences: Int32Array[],
    options: {
      signal?: CancelSignal;
      skips?: readonly number[];
      attended?: readonly number[];
      typeIds?: readonly Int32Array[];
      spans?: readonly Int32Array[];
      heads?: readonly number[];
      headOptions?: HeadOptions;
    } = {},
  ): Promise<Uint8Array[][]> {
    const { signal, skips, attended, typeIds, spans, heads = [0], headOptions = {} } = options;
    if (sequences.length === 0) return Promise.resolve(heads.map(() => []));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const job = new Job(sequences, skips, attended, typeIds, spans, heads, headOptions, resolve, reject);
      if (job.small) this.lastSmallAt = job.queuedAt;
      signal?.addEventListener('abort', () => job.fail(signal.reason instanceof Error ? signal.reason : new Error('aborted')), { once: true });
      this.jobs.push(job);
      this.schedulePump();
    });
  }

  /** Requests parsed in the same event-loop turn join one batch: no timer, so no added latency when idle. */
  private schedulePump() {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump() {
    while (this.backend.inFlight < this.backend.capacity) {
      const batch = this.takeBatch();
      if (!batch) return;
      this.dispatch(batch);
    }
  }

  /** Candidates near `length` from the jobs after the anchor's turn, until there are enough to choose from. */
  private candidates(anchorJob: number, length: number): Item[] {
    const wanted = this.limits.maxBatchSize * WINDOW_BATCHES;
    const found: Item[] = [];
    // A small request's batch takes only small requests' inputs: it runs in a few ms instead of a large batch's time.
    const onlySmall = this.jobs[anchorJob]!.small;
    for (let k = 0; k < this.jobs.length && found.length < wanted; k++) {
      const { pending, small } = this.jobs[(anchorJob + k) % this.jobs.length]!;
      if (onlySmall && !small) continue;
      let position = 0;
      while (position < pending.length && pending[position]!.ids.length < length) position++;
      found.push(...pending.slice(Math.max(0, position - this.limits.maxBatchSize), position + this.limits.maxBatchSize));
    }
    return found;
  }

  private takeBatch(): Item[] | undefined {
    this.jobs = this.jobs.filter((job) => !job.done && job.pending.length > 0);
    if (this.jobs.length === 0) return undefined;
    const { maxBatchTokens, maxBatchSize } = this.limits;
    // Round robin in arrival order: the job that has waited longest for a turn anchors, then waits for its
    // next; one with a batch still running lets the others go first (a large request takes every worker only
    // when nothing else waits). Small requests (queries) go ahead of large ones, in batches of their own, which are
    // quick: a query waits for a worker to come free, not for a turn behind every bulk request. So that a flood of
    // queries cannot starve large requests either, a large one anchors next once small batches have taken a whole
    // batch's worth of padded tokens since a large one last did.
    // While the runs in flight hold the process's memory for runs, a job whose shortest input would not fit lets
    // the others anchor (their short inputs run meanwhile); it anchors once memory is given back.
    const waiting = (job: Job) => job.running === 0;
    const largeWaits = this.jobs.some((job) => waiting(job) && !job.small);
    const largeTurn = largeWaits && this.smallTokensSinceLarge >= maxBatchTokens;
    const preference = (job: Job) => (waiting(job) ? (job.small && !largeTurn ? 0 : 1) : 2);
    let next = -1;
    for (let index = 0; index < this.jobs.length; index++) {
      const job = this.jobs[index]!;
      if ((next < 0 || preference(job) < preference(this.jobs[next]!)) && this.memoryFits(1, job.pending[0]!.ids.length)) next = index;
    }
    if (next < 0) return undefined;
    this.jobs.push(...this.jobs.splice(next, 1));
    const anchorJob = this.jobs.length - 1;
    const anchor = this.jobs[anchorJob]!.pending[0]!;
    const target = anchor.ids.length;
    const sorted = this.candidates(anchorJob, target).sort((a, b) => a.ids.length - b.ids.length);
    let low = sorted.indexOf(anchor);
    let high = low;
    const budget = !anchor.job.small && performance.now() - this.lastSmallAt < QUERIES_RECENT_MS ? Math.min(maxBatchTokens, LARGE_BATCH_TOKENS_BESIDE_QUERIES) : maxBatchTokens;
    // With several workers idle, what waits is spread over them: a lone request (one client reranking 20 documents)
    // takes every idle worker, not one, and is answered in a share of the time. Under load at most one is idle.
    const idle = this.backend.capacity - this.backend.inFlight;
    const sizeCap = idle > 1 ? Math.min(maxBatchSize, Math.ceil(this.queuedSequences / idle)) : maxBatchSize;
    const fits = (from: number, to: number) =>
      to - from + 1 <= sizeCap && (to - from + 1) * sorted[to]!.ids.length <= budget && this.memoryFits(to - from + 1, sorted[to]!.ids.length);
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
    if (anchor.job.small) this.smallTokensSinceLarge += batch.length * sorted[high]!.ids.length;
    else this.smallTokensSinceLarge = 0;
    // The anchor goes first: the worker runs its run first, so it is answered soonest.
    batch.splice(batch.indexOf(anchor), 1);
    batch.unshift(anchor);
    const taken = new Set(batch);
    for (const job of new Set(batch.map((item) => item.job))) job.pending = job.pending.filter((item) => !taken.has(item));
    return batch;
  }

  private dispatch(batch: Item[]) {
    const lengths = Int32Array.from(batch, (item) => item.ids.length);
    const skips = batch.some((item) => item.skip > 0) ? Int32Array.from(batch, (item) => item.skip) : undefined;
    const attended = batch.some((item) => item.attended !== undefined) ? Int32Array.from(batch, (item) => item.attended ?? item.ids.length) : undefined;
    const dropSkiplist = batch.some((item) => item.job.options.dropSkiplist) ? Uint8Array.from(batch, (item) => (item.job.options.dropSkiplist ? 1 : 0)) : undefined;
    const heads = Uint8Array.from(batch, (item) => item.job.headMask);
    const dimensions = Int32Array.from(batch, (item) => item.job.options.dimensions ?? 0);
    const base64 = Uint8Array.from(batch, (item) => (item.job.options.encoding === 'base64' ? 1 : 0));
    const maxActiveDims = Int32Array.from(batch, (item) => item.job.options.maxActiveDims ?? 0);
    const formats = Uint16Array.from(batch, (item) => formatBits(item.job.options.formats ?? []));
    const normalize = Uint8Array.from(batch, ({ job: { options } }) => (options.normalize === undefined ? NORMALIZE_AS_MODEL : options.normalize ? NORMALIZE_ON : NORMALIZE_OFF));
    const spanCounts = Int32Array.from(batch, (item) => (item.spans?.length ?? 0) / 2);
    const spanBounds = Int32Array.from(batch.flatMap((item) => (item.spans ? Array.from(item.spans) : [])));
    const ids = new Int32Array(lengths.reduce((a, b) => a + b, 0));
    const typeIds = batch.some((item) => item.typeIds) ? new Int32Array(ids.length) : undefined;
    let offset = 0;
    for (const item of batch) {
      ids.set(item.ids, offset);
      if (item.typeIds) typeIds!.set(item.typeIds, offset);
      offset += item.ids.length;
    }
    const peakBytes = this.memory?.peakBytes(batch.length, Math.max(...lengths)) ?? 0;
    this.memory?.budget.take(peakBytes);
    const started = performance.now();
    const queueWaits = Float64Array.from(batch, (item) => (started - item.job.queuedAt) / 1000);
    let paddedTokens = 0;
    let runs = 0;
    const jobs = new Set(batch.map((item) => item.job));
    jobs.forEach((job) => job.running++);
    const settled = () => {
      jobs.forEach((job) => job.running--);
      this.memory?.budget.give(peakBytes);
    };
    const deliver = ({ outputs, paddedTokens: computed }: RunRows) => {
      paddedTokens += computed;
      runs++;
      for (const { head, rows, bytes, ends } of outputs) {
        rows.forEach((row, r) => {
          const item = batch[row]!;
          item.job.deliver(head, item.index, bytes.subarray(r === 0 ? 0 : ends[r - 1], ends[r]));
        });
      }
    };
    // Settles with the last rows (see OnnxBackend); this runs before the requests they complete are answered,
    // so the freed executor gets its next batch first.
    this.backend.run(
      { ids, typeIds, lengths, skips, attended, heads, options: { dimensions, base64, maxActiveDims, formats, normalize, spanCounts, spanBounds, dropSkiplist } },
      deliver,
      () => this.pump(),
    ).then(
      () => {
        settled();
        this.pump();
        this.onBatch({ size: batch.length, paddedTokens, runs, seconds: (performance.now() - started) / 1000, queueWaits });
      },
      (error: Error) => {
        settled();
        this.pump();
        batch.forEach((item) => item.job.fail(error));
      },
    );
  }
}
