/**
 * How a run's output becomes each text's vector, before truncation to `dimensions` and
 * normalisation: the graph's token vectors through sentence-transformers' Pooling and Dense
 * modules (modules.ts), or, when the graph computes them itself and this server cannot (a Dense
 * layer whose weights it cannot read), the graph's own `sentence_embedding`.
 */
import type ort from 'onnxruntime-node';
import { applyDense, loadDense } from './dense.ts';
import { float16ToFloat32 } from '../files/half-float.ts';
import type { DenseLayer } from '../files/modules.ts';
import { poolText, type PoolingMode } from './pooling.ts';

const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const SENTENCE_OUTPUT = 'sentence_embedding';

export interface HeadSetup {
  /** A cross-encoder's head is its graph's one logit per pair; a classifier's, its logits per text. */
  kind: 'embedding' | 'reranker';
  /** With kind reranker: logits per row (1 for a cross-encoder). */
  labels?: number;
  poolingModes: PoolingMode[];
  dense: DenseLayer[];
  /** Why the module pipeline cannot run here, if it cannot. */
  unrunnable?: string;
}

export interface EmbeddingHead {
  /** The graph output to fetch. */
  outputName: string;
  /** Row `row`'s vector from a run's output (`length` real tokens, the first `skip` left out of the pooling). */
  vector(output: ort.Tensor, row: number, length: number, skip: number): Float32Array;
}

/** A float output's values as float32 (fp16 graphs give float16). */
function floats(output: ort.Tensor): Float32Array {
  if (output.type === 'float32') return output.data as Float32Array;
  if (output.type === 'float16') return float16ToFloat32(output.data as Uint16Array);
  throw new Error(`the graph's output is ${output.type}, not float32 or float16`);
}

/** A sequence classifier's `logits` [batch, labels]: each row's raw scores (the activation is applied by the caller). */
function scoreHead(session: ort.InferenceSession, expected: number): EmbeddingHead {
  const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
  return {
    outputName,
    vector(output, row) {
      const [, labels] = output.dims as [number, number];
      if (labels !== expected) throw new Error(`the graph's ${outputName} has ${labels} labels per row; config.json says ${expected}`);
      return floats(output).slice(row * labels, (row + 1) * labels);
    },
  };
}

export async function embeddingHead(session: ort.InferenceSession, setup: HeadSetup): Promise<EmbeddingHead> {
  if (setup.kind === 'reranker') return scoreHead(session, setup.labels ?? 1);
  const outputs = session.outputNames;
  const tokenOutput =
    TOKEN_OUTPUTS.find((name) => outputs.includes(name)) ??
    session.outputMetadata.find((meta) => meta.isTensor && meta.shape.length === 3 && !meta.name.startsWith('present'))?.name;
  if (tokenOutput && !setup.unrunnable) {
    const dense = await Promise.all(setup.dense.map(loadDense));
    // One decoded copy per run, however many rows read it.
    let decoded: { tensor: ort.Tensor; data: Float32Array } | undefined;
    return {
      outputName: tokenOutput,
      vector(output, row, length, skip) {
        if (decoded?.tensor !== output) decoded = { tensor: output, data: floats(output) };
        const [, seqLen, width] = output.dims as [number, number, number];
        const pooled = new Float32Array(width * setup.poolingModes.length);
        poolText(decoded.data, row, seqLen, width, length, setup.poolingModes, pooled, skip);
        return dense.length > 0 ? applyDense(dense, pooled) : pooled;
      },
    };
  }
  if (outputs.includes(SENTENCE_OUTPUT)) {
    return {
      outputName: SENTENCE_OUTPUT,
      vector(output, row) {
        const [, width] = output.dims as [number, number];
        return floats(output).slice(row * width, (row + 1) * width);
      },
    };
  }
  throw new Error(
    setup.unrunnable
      ? `${setup.unrunnable}; or use an ONNX export whose graph outputs sentence_embedding`
      : `the ONNX graph has no token output (${TOKEN_OUTPUTS.join(', ')}) and no ${SENTENCE_OUTPUT}; its outputs: ${outputs.join(', ')}`,
  );
}
