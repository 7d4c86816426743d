/**
 * Worker thread entry: owns one ONNX Runtime session and turns batches of token
 * ids into pooled vectors. Runs off the main thread because
 * InferenceSession.run blocks the thread that calls it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { poolText } from './pooling.ts';
import { sessionOptions } from './session-options.ts';
import type { BatchRequest, CloseRequest, WorkerMessage, WorkerSetup } from './protocol.ts';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const KNOWN_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);

function intTensor(type: string, values: ArrayLike<number>, dims: number[]): ort.Tensor {
  if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(values), dims);
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]!);
  return new ort.Tensor('int64', data, dims);
}

async function start() {
  const session = await ort.InferenceSession.create(setup.onnxPath, sessionOptions(setup.intraOpThreads));
  const unknown = session.inputNames.filter((name) => !KNOWN_INPUTS.has(name));
  if (unknown.length > 0) throw new Error(`the ONNX graph wants inputs this server cannot feed: ${unknown.join(', ')}`);
  const inputTypes = new Map(session.inputMetadata.map((meta) => [meta.name, meta.isTensor ? meta.type : 'int64']));
  const outputName = TOKEN_OUTPUTS.find((name) => session.outputNames.includes(name)) ?? session.outputNames[0]!;

  async function embed({ ids, lengths }: BatchRequest): Promise<{ embeddings: Float32Array; dimensions: number }> {
    const batch = lengths.length;
    const seqLen = Math.max(...lengths);
    const padded = new Int32Array(batch * seqLen).fill(setup.padId);
    const mask = new Int32Array(batch * seqLen);
    const positions = new Int32Array(batch * seqLen);
    for (let row = 0, offset = 0; row < batch; offset += lengths[row]!, row++) {
      const length = lengths[row]!;
      padded.set(ids.subarray(offset, offset + length), row * seqLen);
      mask.fill(1, row * seqLen, row * seqLen + length);
      for (let t = 0; t < seqLen; t++) positions[row * seqLen + t] = t;
    }
    const values: Record<string, Int32Array> = {
      input_ids: padded,
      attention_mask: mask,
      token_type_ids: new Int32Array(batch * seqLen),
      position_ids: positions,
    };
    const feeds = Object.fromEntries(
      session.inputNames.map((name) => [name, intTensor(inputTypes.get(name) ?? 'int64', values[name]!, [batch, seqLen])]),
    );
    const output = (await session.run(feeds, [outputName]))[outputName]!;
    const hidden = output.data as Float32Array;
    const width = output.dims[2]!;
    const dim = width * setup.poolingModes.length;
    const embeddings = new Float32Array(batch * dim);
    for (let row = 0; row < batch; row++) {
      poolText(hidden, row, seqLen, width, lengths[row]!, setup.poolingModes, embeddings.subarray(row * dim, (row + 1) * dim));
    }
    output.dispose();
    return { embeddings, dimensions: dim };
  }

  // One batch at a time: session.run is asynchronous, and two concurrent runs fight over the same cores.
  let previous = Promise.resolve();
  port.on('message', (request: BatchRequest | CloseRequest) => {
    previous = previous.then(() => handle(request));
  });

  async function handle(request: BatchRequest | CloseRequest) {
    if ('close' in request) {
      // Terminating a thread inside a native session crashes the process; release it first.
      await session.release();
      port.close();
      return;
    }
    try {
      const { embeddings, dimensions } = await embed(request);
      post({ kind: 'result', id: request.id, embeddings, dimensions }, [embeddings.buffer as ArrayBuffer]);
    } catch (error) {
      post({ kind: 'failed', id: request.id, message: (error as Error).message });
    }
  }
  post({ kind: 'ready' });
}

start().catch((error: Error) => post({ kind: 'fatal', message: error.message }));
