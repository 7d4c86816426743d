import { Worker } from 'node:worker_threads';
import { siblingModule } from './module-url.ts';
import type { EncodedText } from './tokenizer.ts';

export interface TokenizerSetup {
  artifactsDir: string;
  repo: string;
  maxTokens: number;
  lowercase: boolean;
}

export interface TokenizerRequest {
  id: number;
  texts: string[];
  /** Tokenise each text whole, for an exact count (else only as far as truncation needs). */
  whole: boolean;
}

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);
const ENTRY = siblingModule(import.meta.url, 'tokenizer-worker');

/**
 * A thread that tokenises the texts whose tokenising would stall the HTTP thread
 * (huge texts with no place to cut them, see tokenizer.ts). Started at once, so the
 * first such text does not also pay for starting it.
 */
export class TokenizerThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (encoded: EncodedText[]) => void; reject: (error: Error) => void }>();

  constructor(private readonly setup: TokenizerSetup) {
    this.start();
  }

  encode(texts: string[], whole = false): Promise<EncodedText[]> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, texts, whole } satisfies TokenizerRequest);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(BOOTSTRAP, { workerData: { ...this.setup, entry: ENTRY } });
    worker.unref();
    worker.on('message', ({ id, encoded }: { id: number; encoded: EncodedText[] }) => {
      this.pending.get(id)?.resolve(encoded);
      this.pending.delete(id);
    });
    const fail = (error: Error) => {
      this.worker = undefined;
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`tokenizer thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  async close() {
    await this.worker?.terminate();
  }
}
