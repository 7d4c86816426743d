/**
 * Writes a BERT-architecture ONNX graph with seeded random weights: token,
 * position and type embeddings, N encoder layers (masked multi-head
 * self-attention, GELU feed-forward, post-LayerNorm), output `last_hidden_state`.
 * The same weights drive the float64 reference forward pass in bert-reference.ts.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;

export interface BertShape {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
  /** Whether the graph has a token_type_ids input (BERT) or not (MPNet-like). */
  tokenTypeIds: boolean;
  seed: number;
}

export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

export interface BertLayerWeights {
  query: Matrix; queryBias: Float32Array;
  key: Matrix; keyBias: Float32Array;
  value: Matrix; valueBias: Float32Array;
  attentionOut: Matrix; attentionOutBias: Float32Array;
  attentionNormScale: Float32Array; attentionNormBias: Float32Array;
  up: Matrix; upBias: Float32Array;
  down: Matrix; downBias: Float32Array;
  outputNormScale: Float32Array; outputNormBias: Float32Array;
}

export interface BertWeights {
  shape: BertShape;
  wordEmbeddings: Matrix;
  positionEmbeddings: Matrix;
  typeEmbeddings: Matrix;
  embeddingNormScale: Float32Array;
  embeddingNormBias: Float32Array;
  layers: BertLayerWeights[];
}

export const LAYER_NORM_EPSILON = 1e-12;
export const MASKED_SCORE = -10000;

/** mulberry32: small, fast, seeded. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeBertWeights(shape: BertShape): BertWeights {
  const random = seededRandom(shape.seed);
  const values = (n: number, spread: number, center = 0) => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = center + (random() * 2 - 1) * spread;
    return data;
  };
  const matrix = (rows: number, cols: number, spread: number): Matrix => ({ rows, cols, data: values(rows * cols, spread) });
  const { hidden, intermediate } = shape;
  const linearSpread = (fanIn: number) => Math.sqrt(3 / fanIn);
  return {
    shape,
    wordEmbeddings: matrix(shape.vocab, hidden, 1),
    positionEmbeddings: matrix(shape.maxPositions, hidden, 0.5),
    typeEmbeddings: matrix(2, hidden, 0.5),
    embeddingNormScale: values(hidden, 0.2, 1),
    embeddingNormBias: values(hidden, 0.1),
    layers: Array.from({ length: shape.layers }, () => ({
      query: matrix(hidden, hidden, linearSpread(hidden)), queryBias: values(hidden, 0.1),
      key: matrix(hidden, hidden, linearSpread(hidden)), keyBias: values(hidden, 0.1),
      value: matrix(hidden, hidden, linearSpread(hidden)), valueBias: values(hidden, 0.1),
      attentionOut: matrix(hidden, hidden, linearSpread(hidden)), attentionOutBias: values(hidden, 0.1),
      attentionNormScale: values(hidden, 0.2, 1), attentionNormBias: values(hidden, 0.1),
      up: matrix(hidden, intermediate, linearSpread(hidden)), upBias: values(intermediate, 0.1),
      down: matrix(intermediate, hidden, linearSpread(intermediate)), downBias: values(hidden, 0.1),
      outputNormScale: values(hidden, 0.2, 1), outputNormBias: values(hidden, 0.1),
    })),
  };
}

/** int8 weights as onnxruntime.quantization.quantize_dynamic writes them: per tensor, symmetric, zero point 0. */
function quantizeSymmetric(data: Float32Array): { values: Int8Array; scale: number } {
  let largest = 0;
  for (const value of data) largest = Math.max(largest, Math.abs(value));
  const scale = largest / 127 || 1;
  return { values: Int8Array.from(data, (value) => Math.max(-127, Math.min(127, Math.round(value / scale)))), scale };
}

/** Rows (the K axis) per block of a 4-bit MatMulNBits weight, as MatMul4BitsQuantizer's default. */
const INT4_BLOCK = 32;

/** Each block's scale: a power of two, so that the weights a graph holds are exactly `(q - 8) × scale` and the reference can use them as they are. */
const int4Scale = (largest: number) => 2 ** Math.ceil(Math.log2(largest / 7 || 1));

/**
 * A weight matrix [K, N] as MatMulNBits (com.microsoft, 4 bits) holds it: per output column, blocks
 * of INT4_BLOCK rows, each a float scale and 4-bit values around a zero point of 8, two to a byte
 * (low nibble first); B is [N, blocks, INT4_BLOCK / 2], scales [N × blocks], zero points packed
 * two to a byte per column.
 */
function quantize4Bit(weight: Matrix): { packed: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array; dequantized: Float32Array } {
  const { rows: k, cols: n, data } = weight;
  const blocks = Math.ceil(k / INT4_BLOCK);
  const packed = new Uint8Array(n * blocks * (INT4_BLOCK / 2));
  const scales = new Float32Array(n * blocks);
  const zeroPoints = new Uint8Array(n * Math.ceil(blocks / 2)).fill(0x88);
  const dequantized = new Float32Array(data.length);
  for (let column = 0; column < n; column++) {
    for (let block = 0; block < blocks; block++) {
      const first = block * INT4_BLOCK;
      const last = Math.min(k, first + INT4_BLOCK);
      let largest = 0;
      for (let row = first; row < last; row++) largest = Math.max(largest, Math.abs(data[row * n + column]!));
      const scale = int4Scale(largest);
      scales[column * blocks + block] = scale;
      for (let row = first; row < last; row++) {
        const q = Math.max(-8, Math.min(7, Math.round(data[row * n + column]! / scale)));
        dequantized[row * n + column] = q * scale;
        const index = (column * blocks + block) * INT4_BLOCK + (row - first);
        packed[index >> 1]! |= (q + 8) << ((index & 1) * 4);
      }
    }
  }
  return { packed, scales, zeroPoints, dequantized };
}

/** The weights with every linear layer's matrix as a 4-bit graph holds it (its dequantised values). */
export function as4BitWeights(weights: BertWeights): BertWeights {
  const held = (matrix: Matrix): Matrix => ({ ...matrix, data: quantize4Bit(matrix).dequantized });
  return {
    ...weights,
    layers: weights.layers.map((layer) => ({
      ...layer,
      query: held(layer.query), key: held(layer.key), value: held(layer.value), attentionOut: held(layer.attentionOut), up: held(layer.up), down: held(layer.down),
    })),
  };
}

/**
 * How an LM head holds its weight: float32; float16 (an fp16 export: the hidden state cast to float16, the MatMul
 * and the logits in float16; the weight should be exactly `asHalfGrid`); 4 bits (MatMulNBits, as a q4 export's; the
 * weight should be `as4BitMatrix`).
 */
export type LmHeadFormat = 'float' | 'float16' | 'int4';

/** The matrix as a 4-bit graph holds it (its dequantised values). */
export const as4BitMatrix = (matrix: Matrix): Matrix => ({ ...matrix, data: quantize4Bit(matrix).dequantized });

/** The matrix rounded to multiples of 2^-10 (|values| < 2): exactly what a float16 tensor holds of it. */
export const asHalfGrid = (matrix: Matrix): Matrix => ({ ...matrix, data: matrix.data.map((value) => Math.max(-2047, Math.min(2047, Math.round(value * 1024))) / 1024) });

/** float16 bits of values on asHalfGrid's grid (exact: a multiple of 2^-10 below 2 in magnitude has at most 11 significant bits). */
function halfBits(values: Float32Array): Uint8Array {
  const bits = Uint16Array.from(values, (value) => {
    if (value === 0) return 0;
    const magnitude = Math.abs(value);
    const exponent = Math.floor(Math.log2(magnitude));
    return (value < 0 ? 0x8000 : 0) | ((exponent + 15) << 10) | Math.round((magnitude / 2 ** exponent - 1) * 1024);
  });
  return new Uint8Array(bits.buffer);
}

/** How linear layers hold their weights: float, int8 (dynamic quantisation) or 4 bits (MatMulNBits). */
type WeightFormat = 'float' | 'int8' | 'int4';

class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  private counter = 0;

  constructor(private readonly format: WeightFormat) {}

  name(prefix: string) {
    return `${prefix}_${this.counter++}`;
  }

  floats(data: Float32Array, dims: number[]): string {
    const name = this.name('w');
    this.initializers.push(
      onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }),
    );
    return name;
  }

  ints(values: number[], dims: number[] = [values.length]): string {
    const name = this.name('c');
    const data = BigInt64Array.from(values.map(BigInt));
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) }));
    return name;
  }

  scalar(value: number): string {
    return this.floats(Float32Array.of(value), []);
  }

  op(opType: string, inputs: string[], attributes: Record<string, number | number[]> = {}): string {
    const output = this.name(opType.toLowerCase());
    const attribute = Object.entries(attributes).map(([name, value]) =>
      Array.isArray(value)
        ? onnx.AttributeProto.create({ name, ints: value, type: onnx.AttributeProto.AttributeType.INTS })
        : Number.isInteger(value)
          ? onnx.AttributeProto.create({ name, i: value, type: onnx.AttributeProto.AttributeType.INT })
          : onnx.AttributeProto.create({ name, f: value, type: onnx.AttributeProto.AttributeType.FLOAT }),
    );
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [output], attribute }));
    return output;
  }

  tensor(dataType: number, bytes: Uint8Array, dims: number[]): string {
    const name = this.name('q');
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType, rawData: bytes }));
    return name;
  }

  /**
   * x × weight + bias. With int8 weights, the pattern quantize_dynamic emits (ONNX Runtime fuses
   * it into DynamicQuantizeMatMul): activations quantized per call to uint8, an integer matmul, rescaled to float.
   */
  linear(x: string, weight: Matrix, bias: Float32Array): string {
    if (this.format === 'int4') return this.op('Add', [this.matMul4Bit(x, weight), this.floats(bias, [bias.length])]);
    if (this.format === 'float') return this.op('Add', [this.op('MatMul', [x, this.floats(weight.data, [weight.rows, weight.cols])]), this.floats(bias, [bias.length])]);
    const { values, scale } = quantizeSymmetric(weight.data);
    const { DataType } = onnx.TensorProto;
    const quantized = this.tensor(DataType.INT8, new Uint8Array(values.buffer), [weight.rows, weight.cols]);
    const weightZero = this.tensor(DataType.INT8, new Uint8Array(1), []);
    const inputQuantized = this.name('x_q');
    const inputScale = this.name('x_scale');
    const inputZero = this.name('x_zero');
    this.nodes.push(onnx.NodeProto.create({ opType: 'DynamicQuantizeLinear', input: [x], output: [inputQuantized, inputScale, inputZero] }));
    const product = this.op('Cast', [this.op('MatMulInteger', [inputQuantized, quantized, inputZero, weightZero])], { to: DataType.FLOAT });
    const rescaled = this.op('Mul', [product, this.op('Mul', [inputScale, this.scalar(scale)])]);
    return this.op('Add', [rescaled, this.floats(bias, [bias.length])]);
  }

  /** x × weight through MatMulNBits, as onnxruntime's MatMul4BitsQuantizer writes it (an onnx/model_q4.onnx export). */
  matMul4Bit(x: string, weight: Matrix): string {
    const { packed, scales, zeroPoints } = quantize4Bit(weight);
    const { DataType } = onnx.TensorProto;
    const blocks = Math.ceil(weight.rows / INT4_BLOCK);
    const inputs = [
      x,
      this.tensor(DataType.UINT8, packed, [weight.cols, blocks, INT4_BLOCK / 2]),
      this.floats(scales, [weight.cols * blocks]),
      this.tensor(DataType.UINT8, zeroPoints, [zeroPoints.length]),
    ];
    const output = this.name('matmulnbits');
    const attribute = Object.entries({ K: weight.rows, N: weight.cols, bits: 4, block_size: INT4_BLOCK }).map(([name, i]) =>
      onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT }),
    );
    this.nodes.push(onnx.NodeProto.create({ opType: 'MatMulNBits', domain: 'com.microsoft', input: inputs, output: [output], attribute }));
    return output;
  }

  layerNorm(x: string, scale: Float32Array, bias: Float32Array): string {
    return this.op('LayerNormalization', [x, this.floats(scale, [scale.length]), this.floats(bias, [bias.length])], {
      axis: -1,
      epsilon: LAYER_NORM_EPSILON + 0.0,
    });
  }
}

/** GELU as BERT computes it: x/2 · (1 + erf(x/√2)). */
function geluOf(g: GraphBuilder, x: string): string {
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])]), g.scalar(1)])]);
}

function valueInfo(name: string, elemType: number, dims: (string | number)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((dim) => (typeof dim === 'string' ? { dimParam: dim } : { dimValue: dim })) },
      },
    },
  });
}

/** How the graph is exported, beyond its weights: the variants exports come in. */
export interface GraphOptions {
  /** Dense layers' weights as int8, as quantize_dynamic does. */
  int8?: boolean;
  /** Dense layers' weights as 4 bits (MatMulNBits); they should already be `as4BitWeights`, so that the reference uses what the graph holds. */
  int4?: boolean;
  /** A decoder: causal attention, and positions from a `position_ids` input. */
  causal?: boolean;
  /** With causal: `past_key_values.N.key/value` inputs concatenated before the current keys/values, `present.N.*` outputs (onnx-community's decoder exports). */
  past?: boolean;
  /** The outputs as float16 (and a float16 past), as an fp16 export gives them. */
  fp16?: boolean;
  /** Weights larger than 1 kB go to this external-data file beside the graph (its name recorded in the graph). */
  externalData?: string;
  /** Also outputs `sentence_embedding`: masked mean pooling, then these Dense layers (no activation), then L2 normalisation, as onnx-community's exports put inside. */
  sentenceEmbedding?: { dense: Matrix[] };
  /** A sequence classifier's head (BERT's pooler and classifier; XLM-R's classification head): `logits` [batch, labels]. */
  classifier?: ClassifierWeights;
  /** A masked-language model's head instead of `last_hidden_state`: `logits` [batch, seq, vocab], as a fill-mask export outputs. */
  mlmHead?: MlmHeadWeights;
  /** bge-m3's heads inside the graph, as all-in-one exports have them: `dense_vecs`, `sparse_vecs` (or `sparseName`), `colbert_vecs` (see bge-m3-fixture.ts). */
  bgeM3?: BgeM3GraphHeads;
  /**
   * A causal LM's head, as onnx-community's decoder exports end: `logits` [batch, tokens, vocab] = the last hidden state
   * × `weight` [hidden, vocab] in one MatMul, or with `tied`, × the word embeddings transposed (a Transpose node).
   */
  lmHead?: { weight: Matrix; tied?: false; format?: LmHeadFormat } | { tied: true };
  /**
   * A decoder's sequence classifier (transformers' …ForSequenceClassification on Qwen3, Llama): `score` [hidden, labels]
   * on every token, `logits` [batch, labels] taken at each row's last token that is not `padId`.
   */
  lastTokenScore?: { weight: Matrix; padId: number };
}

/**
 * BertForMaskedLM's cls.predictions (DistilBERT's vocab_transform/vocab_layer_norm/vocab_projector):
 * logits = LayerNorm(GELU(x · transform + transformBias)) · wordEmbeddingsᵀ + decoderBias, the decoder
 * tied to the word embeddings (one initializer, transposed in the graph).
 */
export interface MlmHeadWeights {
  transform: Matrix;
  transformBias: Float32Array;
  normScale: Float32Array;
  normBias: Float32Array;
  decoderBias: Float32Array;
}

/** bge-m3's heads as a graph holds them: matrices [in, out]. */
export interface BgeM3GraphHeads {
  sparse: Matrix;
  sparseBias: Float32Array;
  colbert: Matrix;
  colbertBias: Float32Array;
  sparseName?: string;
}

/** logit = tanh(x[first token] · dense + denseBias) · out + outBias. */
export interface ClassifierWeights {
  dense: Matrix;
  denseBias: Float32Array;
  out: Matrix;
  outBias: Float32Array;
}

export interface OnnxFiles {
  graph: Uint8Array;
  /** External-data files by name. */
  external: Map<string, Uint8Array>;
}

const EXTERNAL_MIN_BYTES = 1024;

/** Serialises the weights as an ONNX model (opset 17) in the given export variant. */
export function bertOnnxFiles(weights: BertWeights, options: GraphOptions = {}): OnnxFiles {
  const { shape } = weights;
  const g = new GraphBuilder(options.int4 ? 'int4' : options.int8 ? 'int8' : 'float');
  const headSize = shape.hidden / shape.heads;
  const { DataType } = onnx.TensorProto;
  const pastType = options.fp16 ? DataType.FLOAT16 : DataType.FLOAT;

  const inputShape = g.op('Shape', ['input_ids']);
  const seqLen = g.op('Gather', [inputShape, g.ints([1], [])], { axis: 0 });
  const positions = options.causal ? 'position_ids' : g.op('Range', [g.ints([0], []), seqLen, g.ints([1], [])]);
  const wordTable = g.floats(weights.wordEmbeddings.data, [shape.vocab, shape.hidden]);
  const word = g.op('Gather', [wordTable, 'input_ids'], { axis: 0 });
  const position = g.op('Gather', [g.floats(weights.positionEmbeddings.data, [shape.maxPositions, shape.hidden]), positions], { axis: 0 });
  let embedded = g.op('Add', [word, position]);
  if (shape.tokenTypeIds) {
    embedded = g.op('Add', [embedded, g.op('Gather', [g.floats(weights.typeEmbeddings.data, [2, shape.hidden]), 'token_type_ids'], { axis: 0 })]);
  }
  let x = g.layerNorm(embedded, weights.embeddingNormScale, weights.embeddingNormBias);
  let castMask: string | undefined;
  const maskFloat = () => (castMask ??= g.op('Cast', ['attention_mask'], { to: DataType.FLOAT }));
  const pastInputs: string[] = [];
  const presentOutputs: string[] = [];

  // A 0-layer model has no attention: no mask or head constants, which ONNX Runtime would warn about as unused.
  if (weights.layers.length > 0) {
    const mask = g.op('Unsqueeze', [maskFloat(), g.ints([1, 2])]);
    let scoreBias = g.op('Mul', [g.op('Sub', [g.scalar(1), mask]), g.scalar(MASKED_SCORE)]);
    if (options.causal) {
      // Token t sees tokens up to t: a lower-triangular mask built from the sequence length.
      const steps = g.op('Range', [g.ints([0], []), seqLen, g.ints([1], [])]);
      const later = g.op('Greater', [g.op('Unsqueeze', [steps, g.ints([0])]), g.op('Unsqueeze', [steps, g.ints([1])])]);
      scoreBias = g.op('Add', [scoreBias, g.op('Mul', [g.op('Cast', [later], { to: DataType.FLOAT }), g.scalar(MASKED_SCORE)])]);
    }
    const splitHeads = g.ints([0, 0, shape.heads, headSize]);
    const mergeHeads = g.ints([0, 0, shape.hidden]);

    for (const [index, layer] of weights.layers.entries()) {
      const heads = (weight: Matrix, bias: Float32Array, perm = [0, 2, 1, 3]) => g.op('Transpose', [g.op('Reshape', [g.linear(x, weight, bias), splitHeads])], { perm });
      const query = heads(layer.query, layer.queryBias);
      let value = heads(layer.value, layer.valueBias);
      let keyT: string;
      if (options.past) {
        const withPast = (current: string, kind: 'key' | 'value') => {
          const input = `past_key_values.${index}.${kind}`;
          pastInputs.push(input);
          const past = options.fp16 ? g.op('Cast', [input], { to: DataType.FLOAT }) : input;
          const joined = g.op('Concat', [past, current], { axis: 2 });
          const output = `present.${index}.${kind}`;
          presentOutputs.push(output);
          g.nodes.push(onnx.NodeProto.create({ opType: options.fp16 ? 'Cast' : 'Identity', input: [joined], output: [output], attribute: options.fp16 ? [onnx.AttributeProto.create({ name: 'to', i: DataType.FLOAT16, type: onnx.AttributeProto.AttributeType.INT })] : [] }));
          return joined;
        };
        keyT = g.op('Transpose', [withPast(heads(layer.key, layer.keyBias), 'key')], { perm: [0, 1, 3, 2] });
        value = withPast(value, 'value');
      } else {
        keyT = heads(layer.key, layer.keyBias, [0, 2, 3, 1]);
      }
      const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [query, keyT]), g.scalar(1 / Math.sqrt(headSize))]), scoreBias]);
      const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), value]);
      const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: [0, 2, 1, 3] }), mergeHeads]);
      x = g.layerNorm(g.op('Add', [x, g.linear(merged, layer.attentionOut, layer.attentionOutBias)]), layer.attentionNormScale, layer.attentionNormBias);
      const gelu = geluOf(g, g.linear(x, layer.up, layer.upBias));
      x = g.layerNorm(g.op('Add', [x, g.linear(gelu, layer.down, layer.downBias)]), layer.outputNormScale, layer.outputNormBias);
    }
  }
  const outputType = options.fp16 ? DataType.FLOAT16 : DataType.FLOAT;
  const finish = (value: string, name: string) =>
    g.nodes.push(
      onnx.NodeProto.create({
        opType: options.fp16 ? 'Cast' : 'Identity',
        input: [value],
        output: [name],
        attribute: options.fp16 ? [onnx.AttributeProto.create({ name: 'to', i: DataType.FLOAT16, type: onnx.AttributeProto.AttributeType.INT })] : [],
      }),
    );
  const outputs: ReturnType<typeof valueInfo>[] = [];
  if (options.mlmHead) {
    const head = options.mlmHead;
    const transformed = g.layerNorm(geluOf(g, g.linear(x, head.transform, head.transformBias)), head.normScale, head.normBias);
    const decoder = g.op('Transpose', [wordTable], { perm: [1, 0] });
    finish(g.op('Add', [g.op('MatMul', [transformed, decoder]), g.floats(head.decoderBias, [shape.vocab])]), 'logits');
    outputs.push(valueInfo('logits', outputType, ['batch_size', 'sequence_length', shape.vocab]));
  } else if (!options.lmHead && !options.lastTokenScore) {
    // A causal LM's export outputs its logits, not its hidden state.
    finish(x, 'last_hidden_state');
    outputs.push(valueInfo('last_hidden_state', outputType, ['batch_size', 'sequence_length', shape.hidden]));
  }
  if (options.classifier) {
    const { dense, denseBias, out, outBias } = options.classifier;
    const first = g.op('Gather', [x, g.ints([0], [])], { axis: 1 });
    const pooled = g.op('Tanh', [g.linear(first, dense, denseBias)]);
    g.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [g.linear(pooled, out, outBias)], output: ['logits'] }));
    outputs.push(valueInfo('logits', DataType.FLOAT, ['batch_size', out.cols]));
  }
  if (options.lmHead) {
    const format = options.lmHead.tied ? 'float' : (options.lmHead.format ?? 'float');
    const matrix = options.lmHead.tied ? undefined : options.lmHead.weight;
    const head = matrix ? undefined : g.op('Transpose', [wordTable], { perm: [1, 0] });
    if (format === 'int4') {
      g.matMul4Bit(x, matrix!);
      g.nodes.at(-1)!.output = ['logits'];
    } else if (format === 'float16') {
      const half = g.tensor(DataType.FLOAT16, halfBits(matrix!.data), [shape.hidden, shape.vocab]);
      g.nodes.push(onnx.NodeProto.create({ opType: 'MatMul', input: [g.op('Cast', [x], { to: DataType.FLOAT16 }), half], output: ['logits'] }));
    } else if (options.fp16) finish(g.op('MatMul', [x, head ?? g.floats(matrix!.data, [shape.hidden, shape.vocab])]), 'logits');
    else g.nodes.push(onnx.NodeProto.create({ opType: 'MatMul', input: [x, head ?? g.floats(matrix!.data, [shape.hidden, shape.vocab])], output: ['logits'] }));
    const logitsType = format === 'float16' ? DataType.FLOAT16 : outputType;
    outputs.push(valueInfo('logits', logitsType, ['batch_size', 'sequence_length', shape.vocab]));
  }
  if (options.lastTokenScore) {
    const { weight, padId } = options.lastTokenScore;
    const scores = g.op('MatMul', [x, g.floats(weight.data, [weight.rows, weight.cols])]);
    const steps = g.op('Cast', [g.op('Range', [g.ints([0], []), seqLen, g.ints([1], [])])], { to: DataType.FLOAT });
    const notPad = g.op('Cast', [g.op('Not', [g.op('Equal', ['input_ids', g.ints([padId], [])])])], { to: DataType.FLOAT });
    const last = g.op('ArgMax', [g.op('Mul', [notPad, steps])], { axis: -1, keepdims: 1 });
    const picked = g.op('Cast', [g.op('Equal', [g.op('Cast', [steps], { to: DataType.INT64 }), last])], { to: DataType.FLOAT });
    const logits = g.op('ReduceSum', [g.op('Mul', [scores, g.op('Unsqueeze', [picked, g.ints([2])])]), g.ints([1])], { keepdims: 0 });
    g.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [logits], output: ['logits'] }));
    outputs.push(valueInfo('logits', DataType.FLOAT, ['batch_size', weight.cols]));
  }
  if (options.sentenceEmbedding) {
    const weightsMask = g.op('Unsqueeze', [maskFloat(), g.ints([2])]);
    const summed = g.op('ReduceSum', [g.op('Mul', [x, weightsMask]), g.ints([1])], { keepdims: 0 });
    let sentence = g.op('Div', [summed, g.op('ReduceSum', [weightsMask, g.ints([1])], { keepdims: 0 })]);
    let width = shape.hidden;
    for (const dense of options.sentenceEmbedding.dense) {
      sentence = g.op('MatMul', [sentence, g.floats(dense.data, [dense.rows, dense.cols])]);
      width = dense.cols;
    }
    const norm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [sentence, sentence]), g.ints([1])], { keepdims: 1 })]);
    finish(g.op('Div', [sentence, norm]), 'sentence_embedding');
    outputs.push(valueInfo('sentence_embedding', outputType, ['batch_size', width]));
  }

  if (options.bgeM3) {
    const heads = options.bgeM3;
    // x / max(‖x‖, 1e-12) over the last axis, as F.normalize.
    const normalized = (value: string) =>
      g.op('Div', [value, g.op('Max', [g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [value, value]), g.ints([-1])], { keepdims: 1 })]), g.scalar(1e-12)])]);
    finish(normalized(g.op('Gather', [x, g.ints([0], [])], { axis: 1 })), 'dense_vecs');
    const sparseName = heads.sparseName ?? 'sparse_vecs';
    finish(g.op('Relu', [g.linear(x, heads.sparse, heads.sparseBias)]), sparseName);
    const afterFirst = g.op('Slice', [x, g.ints([1]), g.ints([2 ** 31 - 1]), g.ints([1])]);
    const maskAfterFirst = g.op('Unsqueeze', [g.op('Slice', [maskFloat(), g.ints([1]), g.ints([2 ** 31 - 1]), g.ints([1])]), g.ints([2])]);
    finish(normalized(g.op('Mul', [g.linear(afterFirst, heads.colbert, heads.colbertBias), maskAfterFirst])), 'colbert_vecs');
    outputs.push(
      valueInfo('dense_vecs', outputType, ['batch_size', shape.hidden]),
      valueInfo(sparseName, outputType, ['batch_size', 'sequence_length', 1]),
      valueInfo('colbert_vecs', outputType, ['batch_size', 'colbert_length', heads.colbert.cols]),
    );
  }

  const INT64 = DataType.INT64;
  const inputs = ['input_ids', 'attention_mask', ...(shape.tokenTypeIds ? ['token_type_ids'] : []), ...(options.causal ? ['position_ids'] : [])];
  const external = new Map<string, Uint8Array>();
  if (options.externalData) {
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const tensor of g.initializers) {
      const raw = tensor.rawData;
      if (!raw || raw.length < EXTERNAL_MIN_BYTES) continue;
      tensor.externalData = [
        onnx.StringStringEntryProto.create({ key: 'location', value: options.externalData }),
        onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
        onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
      ];
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.rawData = new Uint8Array(0);
      parts.push(raw);
      offset += raw.length;
    }
    external.set(options.externalData, Buffer.concat(parts));
  }
  const graph = onnx.GraphProto.create({
    name: options.causal ? 'decoder' : 'bert',
    node: g.nodes,
    initializer: g.initializers,
    input: [
      ...inputs.map((name) => valueInfo(name, INT64, ['batch_size', 'sequence_length'])),
      ...pastInputs.map((name) => valueInfo(name, pastType, ['batch_size', shape.heads, 'past_sequence_length', headSize])),
    ],
    output: [...outputs, ...presentOutputs.map((name) => valueInfo(name, pastType, ['batch_size', shape.heads, 'total_sequence_length', headSize]))],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'embeddings-server test fixture',
    opsetImport: [{ domain: '', version: 17 }, ...(options.int4 || (options.lmHead && !options.lmHead.tied && options.lmHead.format === 'int4') ? [{ domain: 'com.microsoft', version: 1 }] : [])],
    graph,
  });
  return { graph: onnx.ModelProto.encode(model).finish(), external };
}
