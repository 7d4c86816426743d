/** Tokenizer thread entry: tokenises texts too long to tokenise on the HTTP thread without stalling it. */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadReply } from '../request-thread.ts';
import { loadTokenizer, type EncodedText } from './tokenizer.ts';
import type { TokenizerRequest, TokenizerSetup } from './tokenizer-thread.ts';

const setup = workerData as TokenizerSetup;
const tokenizer = await loadTokenizer(setup.artifactsDir, setup.repo, setup);
parentPort!.on('message', ({ id, texts, whole }: TokenizerRequest & { id: number }) => {
  const encoded = texts.map((text) => (whole ? tokenizer.encodeWhole(text) : tokenizer.encode(text)));
  const reply: ThreadReply<EncodedText[]> = { id, result: encoded };
  parentPort!.postMessage(reply, encoded.map(({ ids }) => ids.buffer as ArrayBuffer));
});
