/** Tokenizer thread entry: tokenises texts too long to tokenise on the HTTP thread without stalling it. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer } from './tokenizer.ts';
import type { TokenizerRequest, TokenizerSetup } from './tokenizer-thread.ts';

const setup = workerData as TokenizerSetup;
const tokenizer = await loadTokenizer(setup.artifactsDir, setup.repo, setup);
parentPort!.on('message', ({ id, texts, whole }: TokenizerRequest) => {
  const encoded = texts.map((text) => (whole ? tokenizer.encodeWhole(text) : tokenizer.encode(text)));
  parentPort!.postMessage({ id, encoded }, encoded.map(({ ids }) => ids.buffer as ArrayBuffer));
});
