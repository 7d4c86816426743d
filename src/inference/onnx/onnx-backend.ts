import { Worker } from 'node:worker_threads';
import { siblingModule } from '../../threads/module-url.ts';
import type { BatchRequest, BatchTexts, CloseRequest, RunRows, WorkerMessage, WorkerSetup } from './protocol.ts';
import type { Int8Ranges } from '../output/quantize.ts';

interface Pending {
  onRows: (rows: RunRows) => void;
  onFree: () => void;
  resolve: () => void;
  reject: (error: Error) => void;
  /** On its last, short run: the worker takes the next batch meanwhile. */
  finishing: boolean;
}

const BOOTSTRAP = new URL('../../threads/worker-bootstrap.mjs', import.meta.url);
const ENTRY = siblingModule(import.meta.url, 'onnx-worker');

/** One worker thread holding one ONNX session. If it dies, what it held fails and a new one starts. */
class InferenceWorker {
  readonly pending = new Map<number, Pending>();
  /** Pending batches not yet finishing: the worker is free for another when 0. */
  busy = 0;
  private worker: Worker | undefined;
  private nextId = 0;
  private closing = false;
  /** A replacement for a dead worker, while it starts. */
  private replacement: Promise<void> | undefined;
  /** What the worker's calibration run gave its pooled head (the same on every worker). */
  int8Ranges: Int8Ranges | undefined;

  constructor(
    private readonly setup: WorkerSetup,
    private readonly entry: string,
    private readonly onRun: (seconds: number) => void,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(BOOTSTRAP, { workerData: { ...this.setup, entry: this.entry } });
      let ready = false;
      worker.on('message', (message: WorkerMessage) => {
        if (message.kind === 'ready') {
          ready = true;
          this.int8Ranges = message.int8Ranges;
          this.worker = worker;
          resolve();
        } else if (message.kind === 'fatal') {
          reject(new Error(message.message));
          void worker.terminate();
        } else if (message.kind === 'finishing') {
          const pending = this.pending.get(message.id);
          if (!pending || pending.finishing) return;
          pending.finishing = true;
          this.busy--;
          pending.onFree();
        } else {
          const pending = this.pending.get(message.id);
          if (pending && (message.kind === 'failed' || message.last)) {
            this.pending.delete(message.id);
            if (!pending.finishing) this.busy--;
          }
          if (message.kind === 'failed') return pending?.reject(new Error(message.message));
          // Resolved before the last rows are handed over: its callbacks run after them, but ahead of what those rows set off.
          if (message.last) pending?.resolve();
          this.onRun(message.runSeconds);
          pending?.onRows(message);
        }
      });
      worker.on('error', (error) => this.failAll(error));
      worker.on('exit', (code) => {
        this.failAll(new Error(`inference worker exited with code ${code}`));
        if (!ready) return reject(new Error(`inference worker exited with code ${code} while loading`));
        this.worker = undefined;
        if (!this.closing) this.replacement = this.start().catch(() => undefined);
      });
    });
  }

  /** False while a replacement for a dead worker is starting. */
  get alive(): boolean {
    return this.worker !== undefined;
  }

  run(texts: BatchTexts, onRows: (rows: RunRows) => void, onFree: () => void): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('inference worker is restarting'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { onRows, onFree, resolve, reject, finishing: false });
      this.busy++;
      const request: BatchRequest = { id, ...texts };
      const { ids, typeIds, lengths, skips, attended, heads, options } = texts;
      const arrays = [ids, lengths, heads, ...Object.values(options), skips, attended, typeIds].filter((array) => array !== undefined);
      worker.postMessage(request, arrays.map((array) => array.buffer as ArrayBuffer));
    });
  }

  private failAll(error: Error) {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    this.busy = 0;
  }

  async close() {
    this.closing = true;
    await this.replacement; // else it would come up after close() and keep the process alive
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    // No terminate() fallback: terminating a thread inside session.run aborts the whole process.
    // The worker fails what it has queued and exits after the run in progress (one run is bounded by MAX_BATCH_TOKENS).
    worker.postMessage({ close: true } satisfies CloseRequest);
    await exited;
  }
}

/** Inference backend: a few worker threads, each with its own session, fed the least-busy first. */
export class OnnxBackend {
  private constructor(private readonly workers: InferenceWorker[]) {}

  /**
   * `onRun` hears how long each model run took on which worker (for busy-time metrics);
   * `entry` is the worker module, which tests substitute with a deterministic fake.
   */
  static async start(
    setup: WorkerSetup,
    workerCount: number,
    options: { onRun?: (worker: number, seconds: number) => void; entry?: string } = {},
  ): Promise<OnnxBackend> {
    const { onRun = () => undefined, entry = ENTRY } = options;
    const workers = Array.from({ length: workerCount }, (_, index) => new InferenceWorker(setup, entry, (seconds) => onRun(index, seconds)));
    const started = await Promise.allSettled(workers.map((worker) => worker.start()));
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) {
      await Promise.all(workers.map((worker) => worker.close()));
      throw failure.reason;
    }
    return new OnnxBackend(workers);
  }

  /** Batches holding a worker, over all workers: submitted and not yet answered, less those on their last short run. */
  get inFlight(): number {
    return this.workers.reduce((sum, worker) => sum + worker.busy, 0);
  }

  get capacity(): number {
    return this.workers.length;
  }

  /** The pooled head's int8/uint8 ranges, from the calibration run at start (WorkerSetup.calibration). */
  get int8Ranges(): Int8Ranges | undefined {
    return this.workers[0]!.int8Ranges;
  }

  /**
   * Runs a batch on the least busy live worker (while one restarts, the others take its share).
   * Transfers (empties) the arrays. The rows' blobs come to `onRows` run by run; the promise settles
   * once all have (or rejects if the batch failed). `onFree` hears when the worker can take the
   * next batch before this one settles (its last run is short; see onnx-worker.ts).
   */
  run(texts: BatchTexts, onRows: (rows: RunRows) => void, onFree: () => void = () => undefined): Promise<void> {
    const live = this.workers.filter((worker) => worker.alive);
    const load = (worker: InferenceWorker) => worker.busy * 1e6 + worker.pending.size;
    const idlest = (live.length > 0 ? live : this.workers).reduce((best, worker) => (load(worker) < load(best) ? worker : best));
    return idlest.run(texts, onRows, onFree);
  }

  async close() {
    await Promise.all(this.workers.map((worker) => worker.close()));
  }
}
