/**
 * Worker thread entry: owns one ONNX Runtime session and turns batches of token ids into each row's heads'
 * blobs (heads/). Runs off the main thread because InferenceSession.run blocks the thread that calls it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { dirname } from 'node:path';
import { hiddenStateGraph, type LmHeadRows } from '../files/lm-head-graph.ts';
import { spladeMaxGraph } from '../files/splade-max-graph.ts';
import { createHead } from '../heads/create-head.ts';
import { findHead } from '../heads/head-spec.ts';
import type { RunOutputs } from '../heads/head.ts';
import { graphInputs } from './graph-inputs.ts';
import { planSubBatches } from './sub-batches.ts';
import { sessionOptions } from './session-options.ts';
import { transfers, type BatchRequest, type CloseRequest, type HeadRows, type WorkerMessage, type WorkerSetup } from './protocol.ts';

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
/** Calibration texts per run: fixed (not planned from measured costs), so every worker and start computes the same vectors. */
const CALIBRATION_RUN_TEXTS = 16;

/**
 * The session of the setup's graph, as edited for its heads where they need less of it: an LLM reranker's causal LM
 * export without its LM head (and the head's rows the answer head needs), a SPLADE model's with its max pooling in
 * the graph (splade-max-graph.ts). An edited graph is loaded from memory (its external data from the graph's folder);
 * its bytes are let go once the session holds what it needs of them.
 */
async function openSession(): Promise<{ session: ort.InferenceSession; lmHead?: LmHeadRows }> {
  const options = sessionOptions(setup.intraOpThreads, setup.memoryArena);
  const answerTokenIds = findHead(setup.heads, 'logits')?.spec.answerTokenIds;
  const sparse = findHead(setup.heads, 'sparse')?.spec;
  const edited = answerTokenIds
    ? hiddenStateGraph(setup.onnxPath, answerTokenIds)
    : sparse?.method === 'splade' && sparse.splade.pooling === 'max'
      ? { model: spladeMaxGraph(setup.onnxPath, sparse.vocab), head: undefined }
      : undefined;
  if (!edited?.model) return { session: await ort.InferenceSession.create(setup.onnxPath, options) };
  const extra = { session: { model_external_initializers_file_folder_path: dirname(setup.onnxPath) } };
  return { session: await ort.InferenceSession.create(edited.model, { ...options, extra }), lmHead: edited.head };
}

async function start() {
  const { session, lmHead } = await openSession();
  const feedsFor = graphInputs(session);
  const heads = await Promise.all(setup.heads.map((spec) => createHead(session, spec, lmHead)));
  /** The graph outputs the heads of a mask of heads read, by mask. */
  const outputNamesOf = new Map<number, string[]>();
  const outputNames = (mask: number) => {
    let names = outputNamesOf.get(mask);
    if (!names) outputNamesOf.set(mask, (names = [...new Set(heads.filter((_, h) => mask & (1 << h)).flatMap((head) => head.outputNames))]));
    return names;
  };
  const allHeads = (1 << heads.length) - 1;

  /**
   * Runs the texts `rows` of a batch (token ids back to back, text i at `offsets[i]`) padded to their longest, and
   * fetches the outputs the heads in `mask` read.
   */
  async function run(ids: Int32Array, offsets: number[], lengths: ArrayLike<number>, rows: number[], mask: number, typeIds?: Int32Array, attended?: Int32Array) {
    const batch = rows.length;
    const seqLen = Math.max(...rows.map((row) => lengths[row]!));
    const padded = new Int32Array(batch * seqLen).fill(setup.padId);
    const attention = new Int32Array(batch * seqLen);
    const types = typeIds ? new Int32Array(batch * seqLen) : undefined;
    rows.forEach((row, r) => {
      const length = lengths[row]!;
      padded.set(ids.subarray(offsets[row]!, offsets[row]! + length), r * seqLen);
      types?.set(typeIds!.subarray(offsets[row]!, offsets[row]! + length), r * seqLen);
      attention.fill(1, r * seqLen, r * seqLen + (attended?.[row] ?? length));
    });
    return { outputs: (await session.run(feedsFor(padded, attention, batch, seqLen, types), outputNames(mask))) as RunOutputs, seqLen };
  }

  const dispose = (outputs: RunOutputs) => Object.values(outputs).forEach((output) => output.dispose());

  /** Fastest of a few runs of `count` texts of `length` tokens, in ms. */
  async function timeRun(count: number, length: number) {
    const lengths = new Array<number>(count).fill(length);
    const offsets = lengths.map((_, row) => row * length);
    const ids = new Int32Array(count * length).fill(setup.padId);
    let fastest = Infinity;
    for (let attempt = 0; attempt < CALIBRATION_RUNS; attempt++) {
      const started = performance.now();
      dispose((await run(ids, offsets, lengths, offsets.map((_, row) => row), allHeads)).outputs);
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

  /** Runs the calibration texts through the heads that calibrate (the pooled head: its int8/uint8 ranges). */
  async function calibrate({ ids, lengths }: NonNullable<WorkerSetup['calibration']>) {
    let mask = 0;
    heads.forEach((head, h) => (mask |= head.calibrate ? 1 << h : 0));
    if (mask === 0) return;
    const offsets: number[] = [];
    for (let row = 0, offset = 0; row < lengths.length; offset += lengths[row]!, row++) offsets.push(offset);
    for (let first = 0; first < lengths.length; first += CALIBRATION_RUN_TEXTS) {
      const rows = offsets.slice(first, first + CALIBRATION_RUN_TEXTS).map((_, r) => first + r);
      const { outputs } = await run(ids, offsets, lengths, rows, mask);
      for (const head of heads) head.calibrate?.(outputs, rows.map((row) => lengths[row]!));
      dispose(outputs);
    }
  }

  if (setup.calibration) await calibrate(setup.calibration);
  const measured = await measureRunCost();
  const overheadTokens = setup.overheadTokens ?? measured.overheadTokens;
  const expectedMs = (texts: number, longest: number) => (overheadTokens + texts * longest) * measured.msPerToken;

  /** Runs a batch split by length, the run holding text 0 first, and posts each run's blobs as it finishes. */
  async function runBatch({ id, ids, typeIds, lengths, skips, attended, heads: wanted, options }: BatchRequest, closing: () => boolean) {
    const offsets: number[] = [];
    for (let row = 0, offset = 0; row < lengths.length; offset += lengths[row]!, row++) offsets.push(offset);
    const runs = planSubBatches(lengths, overheadTokens);
    runs.unshift(...runs.splice(runs.findIndex((rows) => rows.includes(0)), 1));
    for (const [index, rows] of runs.entries()) {
      if (closing()) throw new Error('the inference worker is shutting down');
      const last = index === runs.length - 1;
      if (last && expectedMs(rows.length, Math.max(...rows.map((row) => lengths[row]!))) < EARLY_FREE_MS) post({ kind: 'finishing', id });
      let mask = 0;
      for (const row of rows) mask |= wanted[row]!;
      const started = performance.now();
      const { outputs, seqLen } = await run(ids, offsets, lengths, rows, mask, typeIds, attended);
      for (const [h, head] of heads.entries()) if (mask & (1 << h)) await head.prepare?.(outputs);
      const runSeconds = (performance.now() - started) / 1000;
      const written: HeadRows[] = [];
      heads.forEach((head, h) => {
        const bit = 1 << h;
        if (!(mask & bit)) return;
        const headRows: number[] = [];
        rows.forEach((row, r) => {
          if (!(wanted[row]! & bit)) return;
          head.write(outputs, r, row, lengths[row]!, skips?.[row] ?? 0, options, ids, offsets[row]!);
          headRows.push(row);
        });
        written.push({ head: h, rows: Int32Array.from(headRows), ...head.writer.take() });
      });
      dispose(outputs);
      post({ kind: 'rows', id, last, outputs: written, paddedTokens: rows.length * seqLen, runSeconds }, transfers(written));
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
      await runBatch(request, () => closing);
    } catch (error) {
      post({ kind: 'failed', id: request.id, message: (error as Error).message });
    }
  }
  post({ kind: 'ready', int8Ranges: heads.find((head) => head.int8Ranges)?.int8Ranges?.() });
}

start().catch((error: Error) => post({ kind: 'fatal', message: error.message }));
