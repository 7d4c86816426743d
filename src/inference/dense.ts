/**
 * sentence-transformers' Dense module, run on pooled vectors in the inference worker:
 * `activation(W x + b)` (plus the input, projected if need be, with `use_residual`), weights
 * from the module's `model.safetensors` (`linear.weight` [out, in], `linear.bias`, `residual.weight`).
 */
import { readFile } from 'node:fs/promises';
import type { DenseActivation, DenseLayer } from './modules.ts';

interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** A float16 or bfloat16 value's bits as the float it stands for. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

export function float16ToFloat32(half: Uint16Array): Float32Array {
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = halfToFloat(half[i]!);
  return out;
}

/** Reads the named tensors of a safetensors file as float32. */
export async function readSafetensors(path: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const bytes = await readFile(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, SafetensorsEntry>;
  const base = 8 + headerLength;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = entry.data_offsets;
    const raw = bytes.subarray(base + start, base + end);
    const copy = new Uint8Array(raw); // aligned
    let data: Float32Array;
    if (entry.dtype === 'F32') data = new Float32Array(copy.buffer);
    else if (entry.dtype === 'F16') data = float16ToFloat32(new Uint16Array(copy.buffer));
    else if (entry.dtype === 'BF16') data = Float32Array.from(new Uint16Array(copy.buffer), (bits) => new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!);
    else if (entry.dtype === 'F64') data = Float32Array.from(new Float64Array(copy.buffer));
    else throw new Error(`${path}: tensor ${name} is ${entry.dtype}, not a float type`);
    tensors.set(name, { shape: entry.shape, data });
  }
  return tensors;
}

export interface LoadedDense {
  layer: DenseLayer;
  weight: Float32Array;
  bias: Float32Array | undefined;
  residual: Float32Array | undefined;
}

export async function loadDense(layer: DenseLayer): Promise<LoadedDense> {
  const tensors = await readSafetensors(layer.weightsFile);
  const tensor = (name: string, shape: number[]) => {
    const found = tensors.get(name);
    if (!found) throw new Error(`${layer.weightsFile} has no tensor ${name}`);
    if (found.shape.join('x') !== shape.join('x')) throw new Error(`${layer.weightsFile}: ${name} is ${found.shape.join('x')}, the config says ${shape.join('x')}`);
    return found.data;
  };
  const { inFeatures, outFeatures } = layer;
  return {
    layer,
    weight: tensor('linear.weight', [outFeatures, inFeatures]),
    bias: layer.bias ? tensor('linear.bias', [outFeatures]) : undefined,
    residual: layer.residual && inFeatures !== outFeatures ? tensor('residual.weight', [outFeatures, inFeatures]) : undefined,
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
