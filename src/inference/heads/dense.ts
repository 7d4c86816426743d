/**
 * sentence-transformers' Dense module, run on pooled vectors in the inference worker:
 * `activation(W x + b)` (plus the input, projected if need be, with `use_residual`), weights
 * from the module's `model.safetensors` (`linear.weight` [out, in], `linear.bias`, `residual.weight`).
 */
import type { DenseActivation, DenseLayer } from '../files/modules.ts';
import { readSafetensorsLayout, readSafetensorsTensors } from '../files/safetensors.ts';

export interface LoadedDense {
  layer: DenseLayer;
  weight: Float32Array;
  bias: Float32Array | undefined;
  residual: Float32Array | undefined;
}

type Expected = [name: string, shape: number[]];

/** The tensors a Dense layer reads, with the shapes its config gives them. */
function expectedTensors({ inFeatures, outFeatures, bias, residual }: DenseLayer): Record<'weight' | 'bias' | 'residual', Expected | undefined> {
  return {
    weight: ['linear.weight', [outFeatures, inFeatures]],
    bias: bias ? ['linear.bias', [outFeatures]] : undefined,
    residual: residual && inFeatures !== outFeatures ? ['residual.weight', [outFeatures, inFeatures]] : undefined,
  };
}

function pick<T extends { shape: number[] }>(layer: DenseLayer, tensors: Map<string, T>, expected: Expected | undefined): T | undefined {
  if (!expected) return undefined;
  const [name, shape] = expected;
  const found = tensors.get(name);
  if (!found) throw new Error(`${layer.weightsFile} has no tensor ${name}`);
  if (found.shape.join('x') !== shape.join('x')) throw new Error(`${layer.weightsFile}: ${name} is ${found.shape.join('x')}, the config says ${shape.join('x')}`);
  return found;
}

/** Checks a Dense layer's weights file against itself and the layer's config, reading only its header (at start, before any worker loads it). */
export async function checkDenseWeights(layer: DenseLayer): Promise<void> {
  const tensors = await readSafetensorsLayout(layer.weightsFile);
  for (const expected of Object.values(expectedTensors(layer))) pick(layer, tensors, expected);
}

export async function loadDense(layer: DenseLayer): Promise<LoadedDense> {
  const expected = expectedTensors(layer);
  const tensors = await readSafetensorsTensors(layer.weightsFile, Object.values(expected).flatMap((tensor) => (tensor ? [tensor[0]] : [])));
  return {
    layer,
    weight: pick(layer, tensors, expected.weight)!.data,
    bias: pick(layer, tensors, expected.bias)?.data,
    residual: pick(layer, tensors, expected.residual)?.data,
  };
}

const SQRT_HALF = Math.SQRT1_2;

/** erf to float32 precision (Abramowitz and Stegun 7.1.26 is too coarse): a series near 0, a continued fraction beyond. */
function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 2.5) {
    // Maclaurin series: erf(z) = 2/√π Σ (-1)^n z^(2n+1) / (n! (2n+1)).
    let term = z;
    let sum = z;
    for (let n = 1; n < 60; n++) {
      term *= (-z * z) / n;
      const next = term / (2 * n + 1);
      sum += next;
      if (Math.abs(next) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // erfc(z) = exp(-z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + …)))).
  let fraction = z;
  for (let k = 60; k >= 1; k--) fraction = z + k / 2 / fraction;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / fraction;
  return Math.sign(x) * (1 - erfc);
}

const ACTIVATIONS: Record<DenseActivation, (x: number) => number> = {
  Identity: (x) => x,
  Tanh: Math.tanh,
  ReLU: (x) => (x > 0 ? x : 0),
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  GELU: (x) => 0.5 * x * (1 + erf(x * SQRT_HALF)),
  SiLU: (x) => x / (1 + Math.exp(-x)),
};

/** W x (+ b), accumulated in float64. */
function project(weight: Float32Array, input: Float32Array, outFeatures: number, bias?: Float32Array): Float64Array {
  const inFeatures = input.length;
  const out = new Float64Array(outFeatures);
  for (let o = 0, row = 0; o < outFeatures; o++, row += inFeatures) {
    let sum = bias ? bias[o]! : 0;
    for (let i = 0; i < inFeatures; i++) sum += weight[row + i]! * input[i]!;
    out[o] = sum;
  }
  return out;
}

/** Runs the Dense layers in order on one pooled vector. */
export function applyDense(layers: LoadedDense[], pooled: Float32Array): Float32Array {
  let vector = pooled;
  for (const { layer, weight, bias, residual } of layers) {
    const activation = ACTIVATIONS[layer.activation];
    const linear = project(weight, vector, layer.outFeatures, bias);
    const skip = layer.residual ? (residual ? project(residual, vector, layer.outFeatures) : vector) : undefined;
    const next = new Float32Array(layer.outFeatures);
    for (let o = 0; o < layer.outFeatures; o++) next[o] = activation(linear[o]!) + (skip ? skip[o]! : 0);
    vector = next;
  }
  return vector;
}
