import { siblingModule } from '../inference/module-url.ts';
import { RequestThread } from '../request-thread.ts';

/**
 * Parses large JSON bodies on a thread of their own. On the HTTP thread, decoding and parsing a
 * 19 MB body took 35–140 ms in one block; handing the raw bytes over and receiving the parsed
 * value back, a large `input` array in parts, costs a fraction of that in short steps. A body
 * that is not JSON rejects with ThreadRequestError.
 */
export class JsonParseThread {
  private readonly thread = new RequestThread<{ chunks: Uint8Array[] }, unknown, unknown[]>(siblingModule(import.meta.url, 'json-parse-worker'));

  async parse(chunks: Uint8Array[]): Promise<unknown> {
    const { result, parts } = await this.thread.request({ chunks });
    return parts.length === 0 ? result : { ...(result as object), input: parts.flat() };
  }

  close() {
    return this.thread.close();
  }
}
