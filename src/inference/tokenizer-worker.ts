/** Tokenizer thread entry: tokenises requests too large to hand to the tokenizer on the HTTP thread without stalling it. */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadReply } from '../request-thread.ts';
import { loadTokenizer, type EncodedText } from './tokenizer.ts';
import type { TokenizerRequest, TokenizerSetup } from './tokenizer-thread.ts';

const setup = workerData as TokenizerSetup;
const tokenizer = await loadTokenizer(setup.dir, setup);
parentPort!.on('message', ({ id, texts, whole }: TokenizerRequest & { id: number }) => {
  tokenizer.encode(texts, { whole }).then(
    (encoded) => parentPort!.postMessage({ id, result: encoded } satisfies ThreadReply<EncodedText[]>, encoded.map(({ ids }) => ids.buffer as ArrayBuffer)),
    (error: Error) => parentPort!.postMessage({ id, error: error.message } satisfies ThreadReply<EncodedText[]>),
  );
});
