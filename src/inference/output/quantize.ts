/**
 * Compact vectors, exactly as sentence-transformers' `quantize_embeddings` makes them (numpy's
 * float32 arithmetic reproduced with Math.fround, one rounding per operation as numpy does):
 *
 * - binary / ubinary: one bit per dimension, set where the value is > 0, packed most significant bit
 *   first (np.packbits); binary is the unsigned byte − 128 as int8. A vector whose length is not a
 *   multiple of 8 is padded with 0 bits to a whole byte (packbits of that one vector).
 * - uint8 / int8: per dimension, `(value − start) / step` with `step = (max − start) / 255` from the
 *   ranges (`- 128` for int8), truncated toward zero as numpy's astype does. Inside the ranges the
 *   bytes equal quantize_embeddings(…, ranges=…); outside them numpy's cast wraps around (undefined in
 *   C), so here the value is clamped to the type's ends instead. A dimension whose range is a single
 *   value (step 0) gives the type's lowest value at or below it, its highest above.
 */

export const COMPACT_DTYPES = ['int8', 'uint8', 'binary', 'ubinary'] as const;
export type CompactDtype = (typeof COMPACT_DTYPES)[number];
/** What a vector leaves as: its float32 values, or one of the compact types. */
export type VectorDtype = 'float' | CompactDtype;

/** How a vector leaves: its dtype, as JSON numbers or as base64 of its bytes (float32 little-endian for float). */
export interface VectorFormat {
  dtype: VectorDtype;
  base64: boolean;
}

/** Per-dimension quantisation ranges: np.min/np.max over calibration vectors, and step = (max − min) / 255 in float32. */
export interface Int8Ranges {
  starts: Float32Array;
  steps: Float32Array;
}

/** Bytes of a vector of `dimensions` values in `dtype` (a float32 vector: 4 per value). */
export function dtypeBytes(dtype: VectorDtype, dimensions: number): number {
  if (dtype === 'float') return dimensions * 4;
  return dtype === 'binary' || dtype === 'ubinary' ? Math.ceil(dimensions / 8) : dimensions;
}

/**
 * Ranges from calibration vectors (each at least `dimensions` long), over their first `dimensions`
 * values, as quantize_embeddings computes them from `calibration_embeddings`.
 */
export function calibrationRanges(vectors: Float32Array[], dimensions: number): Int8Ranges {
  const starts = new Float32Array(dimensions).fill(Infinity);
  const ends = new Float32Array(dimensions).fill(-Infinity);
  for (const vector of vectors) {
    for (let index = 0; index < dimensions; index++) {
      const value = vector[index]!;
      if (value < starts[index]!) starts[index] = value;
      if (value > ends[index]!) ends[index] = value;
    }
  }
  const steps = new Float32Array(dimensions);
  for (let index = 0; index < dimensions; index++) steps[index] = Math.fround(Math.fround(ends[index]! - starts[index]!) / 255);
  return { starts, steps };
}

/**
 * Writes `vector` in `dtype` into `out` (dtypeBytes long): the bytes a vector database stores (int8
 * and binary as two's complement). Returns `out`.
 */
export function quantize(vector: Float32Array, dtype: CompactDtype, ranges: Int8Ranges | undefined, out: Uint8Array): Uint8Array {
  if (dtype === 'binary' || dtype === 'ubinary') return packBits(vector, dtype === 'binary', out);
  if (!ranges) throw new Error(`${dtype} needs quantisation ranges`);
  const signed = dtype === 'int8';
  const low = signed ? -128 : 0;
  const high = signed ? 127 : 255;
  for (let index = 0; index < vector.length; index++) {
    const scaled = Math.fround(Math.fround(vector[index]! - ranges.starts[index]!) / ranges.steps[index]!);
    const shifted = signed ? Math.fround(scaled - 128) : scaled;
    // NaN: a value at the start of a one-value range (0 / 0), the lowest level as at any range's start.
    const level = Number.isNaN(shifted) ? low : Math.min(high, Math.max(low, Math.trunc(shifted)));
    out[index] = level & 0xff;
  }
  return out;
}

function packBits(vector: Float32Array, signed: boolean, out: Uint8Array): Uint8Array {
  out.fill(0, 0, Math.ceil(vector.length / 8));
  for (let index = 0; index < vector.length; index++) if (vector[index]! > 0) out[index >> 3]! |= 0x80 >> (index & 7);
  // byte − 128 as int8 has the bits of byte ^ 0x80.
  if (signed) for (let index = 0; index < Math.ceil(vector.length / 8); index++) out[index]! ^= 0x80;
  return out;
}

/** The numbers JSON shows for quantised bytes: int8 and binary as signed values. */
export function quantizedValues(bytes: Uint8Array, dtype: CompactDtype): Int8Array | Uint8Array {
  return dtype === 'int8' || dtype === 'binary' ? new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

/** Ranges kept per (dimensions, normalised) asked: at most this many (a 1024-dimension model's ranges are 8 kB). */
const MAX_CACHED_RANGES = 64;

/**
 * A model's int8/uint8 ranges for whatever a request asks: computed from its calibration vectors (pooled, before
 * truncation and normalisation) truncated and normalised as the request's own vectors are, so that a request for 256
 * dimensions quantises against the ranges of 256-dimension vectors.
 */
export class CalibratedRanges {
  private readonly cache = new Map<number, Int8Ranges>();

  constructor(
    private readonly vectors: Float32Array[],
    private readonly normalize: (vector: Float32Array) => Float32Array,
  ) {}

  /** Another calibration vector (before any ranges are asked). */
  add(vector: Float32Array) {
    this.vectors.push(vector);
  }

  get(dimensions: number, normalized: boolean): Int8Ranges {
    const key = normalized ? dimensions : -dimensions;
    let ranges = this.cache.get(key);
    if (!ranges) {
      const vectors = this.vectors.map((vector) => (normalized ? this.normalize(vector.slice(0, dimensions)) : vector.subarray(0, dimensions)));
      ranges = calibrationRanges(vectors, dimensions);
      if (this.cache.size === MAX_CACHED_RANGES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, ranges);
    }
    return ranges;
  }
}

const DTYPES: readonly VectorDtype[] = ['float', ...COMPACT_DTYPES];

/** Formats as one number (a bit per dtype and encoding), how a batch row carries them; 0: none asked. */
export const formatBits = (formats: readonly VectorFormat[]): number =>
  formats.reduce((bits, { dtype, base64 }) => bits | (1 << (DTYPES.indexOf(dtype) * 2 + (base64 ? 1 : 0))), 0);

/** The formats of formatBits, in the order a row's blob holds them (ascending bits). */
export function formatsOfBits(bits: number): VectorFormat[] {
  const formats: VectorFormat[] = [];
  for (let bit = 0; bit < DTYPES.length * 2; bit++) if (bits & (1 << bit)) formats.push({ dtype: DTYPES[bit >> 1]!, base64: (bit & 1) === 1 });
  return formats;
}

/** A format's name in a response (Cohere's and Jina's embedding types): base64 for float's bytes, else its dtype. */
export const formatName = ({ dtype, base64 }: VectorFormat): string => (dtype === 'float' && base64 ? 'base64' : dtype);
