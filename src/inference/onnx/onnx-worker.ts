/**
 * Worker thread entry: owns one ONNX Runtime session and turns batches of token
 * ids into pooled vectors. Runs off the main thread because
 * InferenceSession.run blocks the thread that calls it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { embeddingHead } from '../heads/embedding-head.ts';
import { graphInputs } from './graph-inputs.ts';
import { normalizeInPlace } from '../heads/pooling.ts';
import { planSubBatches } from './sub-batches.ts';
import { sessionOptions } from './session-options.ts';
import { VectorJsonWriter } from '../output/vector-text.ts';
import type { BatchRequest, CloseRequest, WorkerMessage, WorkerSetup } from './protocol.ts';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** Runs per size when measuring the per-run overhead; the fastest counts. */
const CALIBRATION_RUNS = 3;
/** Caps a measured overhead that timer noise made absurd. */
const MAX_OVERHEAD_TOKENS = 256;
/**
 * A batch whose last run should take less than this tells the main thread before starting it, so
 * the next batch is on its way while the run goes: under load the round trip through the busy HTTP
 * thread took ~2 ms, as long as a whole batch of a cheap model. Longer runs hide it anyway, and
 * leave time for more texts to join the next batch.
 */
const EARLY_FREE_MS = 2;

async function start() {
  const session = await ort.InferenceSession.create(setup.onnxPath, sessionOptions(setup.intraOpThreads, setup.memoryArena));
  const feedsFor = graphInputs(session);
  const head = await embeddingHead(session, setup);

  /** Runs the texts `rows` of a batch (token ids back to back, text i at `offsets[i]`) padded to their longest. */
  async function run(ids: Int32Array, offsets: number[], lengths: ArrayLike<number>, rows: number[], typeIds?: Int32Array) {
    const batch = rows.length;
    const seqLen = Math.max(...rows.map((row) => lengths[row]!));
    const padded = new Int32Array(batch * seqLen).fill(setup.padId);
    const mask = new Int32Array(batch * seqLen);
    const types = typeIds ? new Int32Array(batch * seqLen) : undefined;
    rows.forEach((row, r) => {
      const length = lengths[row]!;
      padded.set(ids.subarray(offsets[row]!, offsets[row]! + length), r * seqLen);
      types?.set(typeIds!.subarray(offsets[row]!, offsets[row]! + length), r * seqLen);
      mask.fill(1, r * seqLen, r * seqLen + length);
    });
    return { output: (await session.run(feedsFor(padded, mask, batch, seqLen, types), [head.outputName]))[head.outputName]!, seqLen };
  }

  /** Fastest of a few runs of `count` texts of `length` tokens, in ms. */
  async function timeRun(count: number, length: number) {
    const lengths = new Array<number>(count).fill(length);
    const offsets = lengths.map((_, row) => row * length);
    const ids = new Int32Array(count * length).fill(setup.padId);
    let fastest = Infinity;
    for (let attempt = 0; attempt < CALIBRATION_RUNS; attempt++) {
      const started = performance.now();
      (await run(ids, offsets, lengths, offsets.map((_, row) => row))).output.dispose();
      fastest = Math.min(fastest, performance.now() - started);
    }
    return fastest;
  }

  /**
   * The cost model of a run (see sub-batches.ts): its fixed cost in token-times, which is what
   * splitting a batch into more runs costs, and the time of one token.
   */
  async function measureRunCost() {
    await timeRun(1, 8); // the first run allocates and is slow
    const small = await timeRun(1, 8);
    const large = await timeRun(4, 16);
    const msPerToken = Math.max(0, (large - small) / (4 * 16 - 8));
    const overheadTokens = msPerToken > 0 ? Math.min(MAX_OVERHEAD_TOKENS, Math.max(0, (small - 8 * msPerToken) / msPerToken)) : MAX_OVERHEAD_TOKENS;
    return { overheadTokens, msPerToken: msPerToken || small / 8 };
  }

  const measured = await measureRunCost();
  const overheadTokens = setup.overheadTokens ?? measured.overheadTokens;
  const expectedMs = (texts: number, longest: number) => (overheadTokens + texts * longest) * measured.msPerToken;

  const vectorTexts = new VectorJsonWriter();

  /** Runs a batch split by length, the run holding text 0 first, and posts each run's vectors as it finishes. */
  async function embed({ id, ids, typeIds, lengths, skips, dimensions: keptDimensions, base64 }: BatchRequest, closing: () => boolean) {
    const offsets: number[] = [];
    for (let row = 0, offset = 0; row < lengths.length; offset += lengths[row]!, row++) offsets.push(offset);
    const runs = planSubBatches(lengths, overheadTokens);
    runs.unshift(...runs.splice(runs.findIndex((rows) => rows.includes(0)), 1));
    for (const [index, rows] of runs.entries()) {
      if (closing()) throw new Error('the inference worker is shutting down');
      const last = index === runs.length - 1;
      if (last && expectedMs(rows.length, Math.max(...rows.map((row) => lengths[row]!))) < EARLY_FREE_MS) post({ kind: 'finishing', id });
      const started = performance.now();
      const { output, seqLen } = await run(ids, offsets, lengths, rows, typeIds);
      const runSeconds = (performance.now() - started) / 1000;
      rows.forEach((row, r) => {
        const full = head.vector(output, r, lengths[row]!, skips?.[row] ?? 0);
        const vector = full.subarray(0, keptDimensions[row] || full.length);
        vectorTexts.add(setup.normalize ? normalizeInPlace(vector) : vector, base64[row] === 1 ? 'base64' : 'float');
      });
      output.dispose();
      const batchRows = Int32Array.from(rows);
      const { json, ends } = vectorTexts.take();
      const message: WorkerMessage = { kind: 'rows', id, last, rows: batchRows, json, ends, paddedTokens: rows.length * seqLen, runSeconds };
      post(message, [batchRows.buffer, json.buffer, ends.buffer] as ArrayBuffer[]);
    }
  }

  // One batch at a time: session.run is asynchronous, and two concurrent runs fight over the same cores.
  // A close request is seen between runs (run blocks this thread): batches still queued or half done fail
  // at once, and the session is released after the run in progress, never during it (that aborts the process).
  let previous = Promise.resolve();
  let closing = false;
  port.on('message', (request: BatchRequest | CloseRequest) => {
    if ('close' in request) {
      closing = true;
      previous = previous.then(async () => {
        await session.release();
        port.close();
      });
    } else {
      previous = previous.then(() => handle(request));
    }
  });

  async function handle(request: BatchRequest) {
    try {
      await embed(request, () => closing);
    } catch (error) {
      post({ kind: 'failed', id: request.id, message: (error as Error).message });
    }
  }
  post({ kind: 'ready' });
}

start().catch((error: Error) => post({ kind: 'fatal', message: error.message }));
