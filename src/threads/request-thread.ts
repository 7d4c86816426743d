import { Worker } from 'node:worker_threads';
import type { CancelSignal } from '../cancellation.ts';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

/**
 * What a request thread's entry module answers: the request's id and its result, or an error
 * message. A large result may say `parts: n` and send n messages `{ id, part }` after it; each is
 * copied onto the calling thread in an event-loop turn of its own, not all in one.
 */
export type ThreadReply<Result, Part = never> =
  | { id: number; result?: Result; error?: string; errorCode?: string; errorCount?: number; errorParam?: string; parts?: number }
  | { id: number; part: Part };

/** Sent to a thread when the caller's signal cancels request `cancel`; only threads whose callers pass signals get it. */
export interface CancelMessage {
  cancel: number;
}

/** A failure the thread reported for one request (the thread itself lives on); `code`, `count` and `param` say more when it gives them. */
export class ThreadRequestError extends Error {
  override name = 'ThreadRequestError';
  constructor(
    message: string,
    readonly code?: string,
    readonly count?: number,
    readonly param?: string,
  ) {
    super(message);
  }
}

interface Pending<Result, Part> {
  resolve: (value: { result: Result; parts: Part[] }) => void;
  reject: (error: Error) => void;
  result?: Result;
  expected?: number;
  parts: Part[];
}

/**
 * A worker thread answering requests one by one. Started at once, so the first request does not
 * also pay for starting it; restarted on the next call if it dies, which fails what it held. It
 * does not keep the process alive.
 */
export class RequestThread<Request extends object, Result, Part = never> {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, Pending<Result, Part>>();

  constructor(
    private readonly entry: string,
    private readonly data: object = {},
  ) {
    this.start();
  }

  /**
   * The result, and the parts that came after it (none unless the thread sends any). A signal, when
   * cancelled while the thread holds the request, sends it a CancelMessage.
   */
  request(request: Request, transfer: ArrayBuffer[] = [], signal?: CancelSignal): Promise<{ result: Result; parts: Part[] }> {
    const worker = this.start();
    const id = this.nextId++;
    signal?.addEventListener('abort', () => {
      if (this.pending.has(id)) worker.postMessage({ cancel: id } satisfies CancelMessage);
    });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, parts: [] });
      worker.postMessage({ ...request, id }, transfer);
    });
  }

  async call(request: Request, transfer: ArrayBuffer[] = [], signal?: CancelSignal): Promise<Result> {
    return (await this.request(request, transfer, signal)).result;
  }

  private receive(message: ThreadReply<Result, Part>) {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if ('part' in message) pending.parts.push(message.part);
    else if (message.error !== undefined) {
      this.pending.delete(message.id);
      return pending.reject(new ThreadRequestError(message.error, message.errorCode, message.errorCount, message.errorParam));
    } else {
      pending.result = message.result as Result;
      pending.expected = message.parts ?? 0;
    }
    if (pending.expected !== undefined && pending.parts.length === pending.expected) {
      this.pending.delete(message.id);
      pending.resolve({ result: pending.result as Result, parts: pending.parts });
    }
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(BOOTSTRAP, { workerData: { ...this.data, entry: this.entry } });
    worker.unref();
    worker.on('message', (message: ThreadReply<Result, Part>) => this.receive(message));
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`${this.entry.split('/').at(-1)} thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  async close() {
    await this.worker?.terminate();
  }
}
