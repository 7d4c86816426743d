/**
 * The fixture BERT's forward pass in plain float64 JavaScript, for one unpadded
 * sequence: an independent check of what the server computes through ONNX Runtime.
 */
import { LAYER_NORM_EPSILON, type BertWeights, type Matrix } from './bert-onnx.ts';

type Rows = Float64Array[];

function row(matrix: Matrix, index: number): Float64Array {
  return Float64Array.from(matrix.data.subarray(index * matrix.cols, (index + 1) * matrix.cols));
}

export function linear(x: Rows, weight: Matrix, bias: Float32Array): Rows {
  return x.map((vector) => {
    const out = Float64Array.from(bias);
    for (let i = 0; i < weight.rows; i++) {
      const xi = vector[i]!;
      for (let j = 0; j < weight.cols; j++) out[j]! += xi * weight.data[i * weight.cols + j]!;
    }
    return out;
  });
}

export function layerNorm(x: Rows, scale: Float32Array, bias: Float32Array): Rows {
  return x.map((vector) => {
    const mean = vector.reduce((a, b) => a + b, 0) / vector.length;
    const variance = vector.reduce((a, b) => a + (b - mean) ** 2, 0) / vector.length;
    const inv = 1 / Math.sqrt(variance + LAYER_NORM_EPSILON);
    return vector.map((value, i) => (value - mean) * inv * scale[i]! + bias[i]!);
  });
}

const add = (a: Rows, b: Rows): Rows => a.map((vector, t) => vector.map((value, i) => value + b[t]![i]!));

export function referenceErf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse; a series/continued fraction pair is exact to ~1e-15.
  const z = Math.abs(x);
  let result: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    result = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let fraction = 0;
    for (let n = 60; n >= 1; n--) fraction = (n / 2) / (z + fraction);
    result = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + fraction);
  }
  return x < 0 ? -result : result;
}

/**
 * Token vectors (last_hidden_state) of one sequence; `causal`: each token sees only itself and those before it;
 * `attended`: only the first `attended` tokens are seen (the attention mask's zeros after them), though every token is computed.
 */
export function referenceForward(weights: BertWeights, ids: number[], causal = false, typeIds?: number[], attended = ids.length): Rows {
  const { hidden, heads } = weights.shape;
  const headSize = hidden / heads;
  let x = layerNorm(
    ids.map((id, t) => {
      const vector = row(weights.wordEmbeddings, id);
      const position = row(weights.positionEmbeddings, t);
      const type = row(weights.typeEmbeddings, typeIds?.[t] ?? 0);
      return vector.map((value, i) => value + position[i]! + (weights.shape.tokenTypeIds ? type[i]! : 0));
    }),
    weights.embeddingNormScale,
    weights.embeddingNormBias,
  );
  for (const layer of weights.layers) {
    const q = linear(x, layer.query, layer.queryBias);
    const k = linear(x, layer.key, layer.keyBias);
    const v = linear(x, layer.value, layer.valueBias);
    const context: Rows = x.map(() => new Float64Array(hidden));
    const scores = new Float64Array(ids.length);
    for (let h = 0; h < heads; h++) {
      const lo = h * headSize;
      for (let t = 0; t < ids.length; t++) {
        const seen = causal ? t + 1 : attended;
        const query = q[t]!;
        let max = -Infinity;
        for (let s = 0; s < seen; s++) {
          const key = k[s]!;
          let dot = 0;
          for (let i = lo; i < lo + headSize; i++) dot += query[i]! * key[i]!;
          scores[s] = dot / Math.sqrt(headSize);
          if (scores[s]! > max) max = scores[s]!;
        }
        let total = 0;
        for (let s = 0; s < seen; s++) total += scores[s] = Math.exp(scores[s]! - max);
        const out = context[t]!;
        for (let s = 0; s < seen; s++) {
          const weight = scores[s]! / total;
          const value = v[s]!;
          for (let i = lo; i < lo + headSize; i++) out[i]! += weight * value[i]!;
        }
      }
    }
    x = layerNorm(add(x, linear(context, layer.attentionOut, layer.attentionOutBias)), layer.attentionNormScale, layer.attentionNormBias);
    const up = linear(x, layer.up, layer.upBias).map((vector) => vector.map((u) => 0.5 * u * (1 + referenceErf(u / Math.SQRT2))));
    x = layerNorm(add(x, linear(up, layer.down, layer.downBias)), layer.outputNormScale, layer.outputNormBias);
  }
  return x;
}
