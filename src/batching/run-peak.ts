import { positive, type Json } from '../inference/files/config-json.ts';

/** What a model's runs hold beyond its weights, from its config.json. */
export interface RunShape {
  layers: number;
  attentionHeads: number;
  /** The token vectors' width, and the feed-forward layer's. */
  hidden: number;
  intermediate: number;
  /** A decoder's keys/values per token and layer: key/value heads × head size (grouped-query attention has fewer key/value heads). */
  keyValueWidth: number;
  /** Causal attention (a decoder): a [batch, 1, L, L] mask beside the scores, and every layer's keys and values as outputs. */
  causal: boolean;
  /** Per token, the floats of a vocabulary-wide output the run fetches (an MLM's logits, for SPLADE); none when absent. */
  logitsWidth?: number;
  /** Per token, the floats of a projection run on the token states after the graph (bge-m3's colbert_linear); none when absent. */
  projectionWidth?: number;
}

/**
 * What a run holds at its peak, per unit, measured with the server's session options
 * (bench/run-peak.ts: generated graphs of 2–8 layers, 4–16 heads, 512–8192 tokens, each run in a
 * process of its own after the lengths a worker meets on the way to its longest). Attention scores
 * are float32 in every export (an fp16 or 4-bit graph's too: fp16 exports take the softmax in
 * float32), two alive at once: 8.1–8.8 bytes a score (one head, one pair of tokens). ONNX Runtime's
 * arena keeps more: a length's second run allocates its memory pattern as one block beside the
 * chunks the first left: 19.0–19.6 bytes a score (encoders), 28.4 and 8.3 a pair of tokens for the
 * causal mask (decoders of 4 layers or more; 2-layer ones took less). Without the arena, glibc's
 * heap keeps freed blocks under its mmap threshold (up to 32 MiB each), most around a decoder's
 * per-layer tensors: up to 12.8 bytes a score and ~100 MB besides (a 16-head decoder of 4 layers × 256 at 4096
 * tokens: 3430–3489 MB, which 10 bytes a score underestimated by 5%).
 */
const PEAK_BYTES = {
  arena: { encoder: { score: 20, pair: 0, run: 16 * 2 ** 20 }, decoder: { score: 29, pair: 9, run: 16 * 2 ** 20 } },
  noArena: { encoder: { score: 9, pair: 0, run: 64 * 2 ** 20 }, decoder: { score: 11, pair: 16, run: 128 * 2 ** 20 } },
};
/**
 * Per token, layer and key/value element, the keys and values a decoder export outputs
 * (`present.N.*`, kept to the run's end even when not fetched) and its copies of them: 7–15 bytes
 * measured with the arena, 14–32 without (16 layers × 512 wide, 1024–2048 tokens).
 */
const KEY_VALUE_BYTES = { arena: 16, noArena: 32 };
/**
 * Per logit of a vocabulary-wide output (an MLM's [batch, tokens, vocabulary] logits, which SPLADE
 * pools): the MatMul's result, the bias added as a second tensor, and the masked copy max pooling
 * takes in the graph (splade-max-graph.ts; sum pooling fetches the logits instead). Measured
 * (bench/run-peak.ts splade-like mlm: 2 × 64 with 30 522 logits a token, 512 and 2048 tokens) 16.3–18.7
 * bytes with the arena, 10.3–12.0 without, when the worker fetched the logits; with the pooling in the
 * graph 266 and 1430 MB with the arena, 161 and 591 without (estimates 351, 1607, 281, 1035). The plan
 * without this term was 4–8× short.
 */
const LOGIT_BYTES = { arena: 20, noArena: 13 };
/**
 * Per float of a projection run on a run's token states after the graph (bge-m3's colbert_linear, in a session of its
 * own that keeps its arena whatever the worker's setting): its MatMul's and Add's outputs, and the arena's memory
 * pattern beside them from a length's second run. Measured (test/helpers/run-peak-child.ts, a 1-layer 256-wide graph
 * with a 4096-wide projection, settling at 1024 and 2048 tokens) 13.8–16.5 bytes with the worker's arena, 11.8–16.7
 * without; 20–28 on bge-m3's widths (1024 → 1024, 16 heads, 2048 tokens), where the attention term is twice the
 * measured peak. On bge-m3's shape, 9 MB a run of 512 tokens: 7% of the estimate without it for one input of 512, 19% for 16 of 32.
 */
const PROJECTION_BYTES = 17;

/**
 * Peak bytes of one run of `batch` inputs padded to `longest` tokens, above the worker's memory
 * before it: per input, each head's scores (longest² each), a decoder's causal mask (longest²) and
 * its keys and values (per token and layer), a few activation vectors per token, an MLM's logits and a projection
 * of the token states after the graph, plus what the allocators keep around a run. With `memoryArena`, what a worker keeps for good once it has run
 * that length a few times.
 */
export function runPeakBytes(shape: RunShape, batch: number, longest: number, memoryArena: boolean): number {
  const bytes = PEAK_BYTES[memoryArena ? 'arena' : 'noArena'][shape.causal ? 'decoder' : 'encoder'];
  const attention = longest * longest * (bytes.score * shape.attentionHeads + bytes.pair);
  const keysAndValues = shape.causal ? longest * shape.layers * shape.keyValueWidth * KEY_VALUE_BYTES[memoryArena ? 'arena' : 'noArena'] : 0;
  const activations = longest * (4 * shape.hidden + 2 * shape.intermediate) * 4;
  const logits = longest * (shape.logitsWidth ?? 0) * LOGIT_BYTES[memoryArena ? 'arena' : 'noArena'];
  const projection = longest * (shape.projectionWidth ?? 0) * PROJECTION_BYTES;
  return batch * (attention + keysAndValues + activations + logits + projection) + bytes.run;
}

/**
 * A config.json's run shape; what it does not say is estimated from the width. A decoder
 * (…ForCausalLM, `is_decoder`, or key/value heads of its own, as Qwen, Llama, Mistral and Gemma
 * configs give) counts as causal: an encoder taken for one is only overestimated.
 */
export function runShapeOf(config: Json, hidden: number): RunShape {
  const attentionHeads = positive(config.num_attention_heads) ?? positive(config.n_head) ?? Math.max(1, Math.round(hidden / 64));
  const architectures = Array.isArray(config.architectures) ? (config.architectures as unknown[]) : [];
  const keyValueHeads = positive(config.num_key_value_heads);
  return {
    layers: positive(config.num_hidden_layers) ?? positive(config.n_layer) ?? positive(config.num_layers) ?? 12,
    attentionHeads,
    hidden,
    intermediate: positive(config.intermediate_size) ?? positive(config.d_ff) ?? 4 * hidden,
    keyValueWidth: (keyValueHeads ?? attentionHeads) * (positive(config.head_dim) ?? Math.ceil(hidden / attentionHeads)),
    causal:
      config.is_decoder === true ||
      keyValueHeads !== undefined ||
      architectures.some((name) => typeof name === 'string' && name.endsWith('ForCausalLM')),
  };
}
