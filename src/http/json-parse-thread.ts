import { Worker } from 'node:worker_threads';
import { siblingModule } from '../inference/module-url.ts';

const BOOTSTRAP = new URL('../inference/worker-bootstrap.mjs', import.meta.url);
const ENTRY = siblingModule(import.meta.url, 'json-parse-worker');

export class JsonParseError extends Error {
  override name = 'JsonParseError';
}

/**
 * Parses large JSON bodies on a thread of their own. On the HTTP
 * thread, decoding and parsing a 19 MB body took 35–140 ms in one block; handing the raw
 * bytes over and receiving the parsed value back costs a fraction of that.
 */
export class JsonParseThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  constructor() {
    this.start();
  }

  parse(chunks: Uint8Array[]): Promise<unknown> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, chunks });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(BOOTSTRAP, { workerData: { entry: ENTRY } });
    worker.unref();
    worker.on('message', ({ id, value, error }: { id: number; value?: unknown; error?: string }) => {
      const pending = this.pending.get(id);
      this.pending.delete(id);
      if (error !== undefined) pending?.reject(new JsonParseError(error));
      else pending?.resolve(value);
    });
    const fail = (error: Error) => {
      this.worker = undefined;
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`JSON parse thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  async close() {
    await this.worker?.terminate();
  }
}
