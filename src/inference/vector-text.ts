/** How a vector leaves the service: a JSON array of numbers, or (what the OpenAI SDKs ask for) a base64 string. */
export type VectorEncoding = 'float' | 'base64';

/**
 * The vector as JSON text. base64 holds its little-endian float32 bytes, what the OpenAI SDKs decode:
 * typed arrays use the platform's byte order, and every platform onnxruntime-node ships binaries for is little-endian.
 */
export function vectorJson(vector: Float32Array, encoding: VectorEncoding): string {
  return encoding === 'base64'
    ? `"${Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')}"`
    : JSON.stringify(Array.from(vector));
}
