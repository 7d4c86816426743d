/** How a vector leaves the service: a JSON array of numbers, or (what the OpenAI SDKs ask for) a base64 string. */
export type VectorEncoding = 'float' | 'base64';

/**
 * The vector as JSON text. base64 holds its little-endian float32 bytes, what the OpenAI SDKs decode:
 * typed arrays use the platform's byte order, and every platform onnxruntime-node ships binaries for is little-endian.
 */
export function vectorJson(vector: Float32Array, encoding: VectorEncoding): string {
  return encoding === 'base64'
    ? `"${Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')}"`
    : JSON.stringify(numbersOf(vector));
}

// One plain array of doubles per width, refilled for each vector: JSON.stringify needs a JS array,
// and Array.from (iterator, fresh array) took a quarter of the time spent on number text.
const scratchArrays = new Map<number, number[]>();

function numbersOf(vector: Float32Array): number[] {
  let numbers = scratchArrays.get(vector.length);
  if (numbers === undefined) scratchArrays.set(vector.length, (numbers = Array.from({ length: vector.length }, () => 0.5)));
  for (let index = 0; index < vector.length; index++) numbers[index] = vector[index]!;
  return numbers;
}

/**
 * JSON texts of vectors (ASCII: numbers or base64) back to back in one buffer of its own, and where
 * each ends. Handed to another thread by transfer, they cost it no copy and no garbage, and reach
 * the socket as bytes; as strings each was copied onto that thread's heap and encoded again.
 */
export function packJson(texts: string[]): { json: Uint8Array; ends: Int32Array } {
  const ends = new Int32Array(texts.length);
  let total = 0;
  texts.forEach((text, index) => (ends[index] = total += text.length));
  const json = Buffer.allocUnsafeSlow(total);
  texts.forEach((text, index) => json.write(text, index === 0 ? 0 : ends[index - 1]!, 'latin1'));
  return { json, ends };
}
