/**
 * What an ONNX graph wants fed, built for a right-padded batch: token ids, the attention mask,
 * token types (a cross-encoder pair's, else all 0), positions (0… per text: right padding keeps every real token at its own
 * index), and for decoder exports with a key/value cache (`past_key_values.N.key/value`) an empty
 * past of length 0, its element type and head shape taken from the graph.
 */
import ort from 'onnxruntime-node';

const TOKEN_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);
const PAST = /^past_key_values\.\d+\.(key|value)$/;
/** Merged decoder exports (optimum) choose the branch that uses the cache with this flag. */
const USE_CACHE_BRANCH = 'use_cache_branch';

/**
 * int64 inputs are built as pairs of 32-bit words (the value, then its sign), little-endian like
 * every platform onnxruntime-node ships binaries for: a BigInt per element cost ~30 ns each.
 */
function intTensor(type: string, values: Int32Array, dims: number[]): ort.Tensor {
  if (type === 'int32') return new ort.Tensor('int32', values, dims);
  const words = new Int32Array(2 * values.length);
  for (let i = 0; i < values.length; i++) {
    words[2 * i] = values[i]!;
    words[2 * i + 1] = values[i]! >> 31;
  }
  return new ort.Tensor('int64', new BigInt64Array(words.buffer), dims);
}

/** An empty float tensor of the past's type: `[batch, heads, 0, headDim]`. */
function emptyPast(meta: ort.InferenceSession.TensorValueMetadata, batch: number): ort.Tensor {
  const dims = meta.shape.map((dim, axis) => (axis === 0 ? batch : axis === 2 ? 0 : dim));
  if (dims.length !== 4 || dims.some((dim) => typeof dim !== 'number')) {
    throw new Error(`the graph's ${meta.name} has shape [${meta.shape.join(', ')}]; expected [batch, heads, past length, head size] with fixed heads and head size`);
  }
  const shape = dims as number[];
  if (meta.type === 'float16') return new ort.Tensor('float16', new Uint16Array(0), shape);
  if (meta.type === 'float32') return new ort.Tensor('float32', new Float32Array(0), shape);
  throw new Error(`the graph's ${meta.name} is ${meta.type}; expected float32 or float16`);
}

/** The feeds for a padded batch; `typeIds` (laid out as `padded`) are the token types, all 0 when absent. */
export type FeedBuilder = (padded: Int32Array, mask: Int32Array, batch: number, seqLen: number, typeIds?: Int32Array) => Record<string, ort.Tensor>;

/** The feeds builder for a session's inputs; an input it cannot feed stops the start, named. */
export function graphInputs(session: ort.InferenceSession): FeedBuilder {
  const metadata = new Map(session.inputMetadata.map((meta) => [meta.name, meta]));
  const unknown = session.inputNames.filter((name) => !TOKEN_INPUTS.has(name) && !PAST.test(name) && name !== USE_CACHE_BRANCH);
  if (unknown.length > 0) {
    throw new Error(
      `the ONNX graph wants inputs this server cannot feed: ${unknown.join(', ')} (it feeds ${[...TOKEN_INPUTS].join(', ')}, past_key_values.N.key/value and use_cache_branch); ` +
        'models with custom code that need extra inputs (e.g. a task id) are not supported',
    );
  }
  const typeOf = (name: string) => {
    const meta = metadata.get(name);
    return meta?.isTensor ? meta.type : 'int64';
  };
  return (padded, mask, batch, seqLen, typeIds) => {
    const values: Record<string, () => Int32Array> = {
      input_ids: () => padded,
      attention_mask: () => mask,
      token_type_ids: () => typeIds ?? new Int32Array(batch * seqLen),
      position_ids: () => Int32Array.from({ length: batch * seqLen }, (_, i) => i % seqLen),
    };
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      if (name === USE_CACHE_BRANCH) feeds[name] = new ort.Tensor('bool', new Uint8Array([0]), [1]);
      else if (PAST.test(name)) feeds[name] = emptyPast(metadata.get(name) as ort.InferenceSession.TensorValueMetadata, batch);
      else feeds[name] = intTensor(typeOf(name), values[name]!(), [batch, seqLen]);
    }
    return feeds;
  };
}
