/** Tokenizer thread entry: tokenises requests too large to hand to the tokenizer on the HTTP thread without stalling it. */
import { parentPort, workerData } from 'node:worker_threads';
import { Cancellation } from '../../cancellation.ts';
import type { CancelMessage, ThreadReply } from '../../threads/request-thread.ts';
import { loadTokenizer, type EncodedText } from './tokenizer.ts';
import type { TokenizerRequest, TokenizerSetup } from './tokenizer-thread.ts';

const setup = workerData as TokenizerSetup;
const tokenizer = await loadTokenizer(setup.dir, setup);
const running = new Map<number, Cancellation>();
parentPort!.on('message', (message: (TokenizerRequest & { id: number }) | CancelMessage) => {
  if ('cancel' in message) return running.get(message.cancel)?.abort(new Error('cancelled'));
  const { id, texts, whole, countUpTo, direction, maxTokens } = message;
  const signal = new Cancellation();
  running.set(id, signal);
  tokenizer
    .encode(texts, { whole, countUpTo, signal, direction, maxTokens })
    .then(
      (encoded) => parentPort!.postMessage({ id, result: encoded } satisfies ThreadReply<EncodedText[]>, encoded.map(({ ids }) => ids.buffer as ArrayBuffer)),
      (error: Error) => parentPort!.postMessage({ id, error: error.message } satisfies ThreadReply<EncodedText[]>),
    )
    .finally(() => running.delete(id));
});
