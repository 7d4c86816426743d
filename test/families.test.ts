/**
 * Every model family people deploy, as small generated snapshots shaped like the real ones, against
 * an independent reference: token ids from the Rust `tokenizers` library (another build of it than
 * the server's), a float64 forward pass, and sentence-transformers' modules (Pooling in its order,
 * Dense, Normalize only where modules.json has it). Each text alone and batched, float and base64,
 * with and without the model's prompts.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { describeModel } from '../src/inference/files/model-files.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { Registry } from '../src/registry.ts';
import type { PoolingMode } from '../src/inference/heads/pooling.ts';
import { embeddingsResponseSchema } from '../src/schemas/embeddings.ts';
import { embeddingModelSchema, modelListSchema } from '../src/schemas/models.ts';
import { cosine, startTestApp, tempDir, type TestServer } from './helpers/app.ts';
import { writeFixtureModel, type FixtureOptions } from './helpers/fixture-model.ts';
import { referenceEmbedding, rustTokenizer } from './helpers/reference.ts';

const { onnx } = onnxProto;
const MAX_TOKENS = 24;

/** Hard cases for normalisers: NFD Vietnamese and Hangul, a ZWJ emoji sequence, ligatures and fullwidth forms, CJK, accents. */
const TEXTS = [
  'the quick brown fox jumps over the lazy dog',
  'Grüße aus München, die Straße ist schön!',
  '東京の天気は晴れです。敏捷的棕色狐狸',
  'emoji 😀 👨\u200d👩\u200d👧 family',
  'Xin cha\u0300o the\u0302\u0301 gio\u031b\u0301i',
  '\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165',
  'ﬁnancial ＡＢＣ ｶﾀｶﾅ ①',
  'the quick brown fox jumps over the lazy dog and keeps running far beyond the limit of twenty four tokens',
];

interface Family {
  fixture: FixtureOptions;
  /** What the reference needs beyond the fixture's weights. */
  causal?: boolean;
  prompts?: Record<string, string>;
  /** What GET /models should say about the output width. */
  dimensions: number;
}

const E5_PROMPTS = { query: 'query: ', passage: 'passage: ' };
const QWEN_PROMPTS = { query: 'Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:', document: '' };
const GEMMA_PROMPTS = { query: 'task: search result | query: ', document: 'title: none | text: ' };

const FAMILIES: Record<string, Family> = {
  // XLM-R Unigram with the Precompiled normaliser, mean pooling, normalised, query/passage prompts.
  'multilingual-e5': { fixture: { family: 'unigram', prompts: E5_PROMPTS, maxSeqLength: MAX_TOKENS }, prompts: E5_PROMPTS, dimensions: 32 },
  // The same tokenizer; no Normalize module: vectors are not unit length.
  'paraphrase-multilingual-minilm': { fixture: { family: 'unigram', normalize: false, maxSeqLength: MAX_TOKENS }, dimensions: 32 },
  // Cased WordPiece, CLS pooling, a Tanh Dense layer, normalised.
  labse: { fixture: { tokenizerLowercases: false, pooling: ['cls'], dense: [{ out: 32 }], maxSeqLength: MAX_TOKENS }, dimensions: 32 },
  // DistilBERT: no token types; mean pooling, a Tanh Dense 32 → 16, no Normalize.
  'distiluse-multilingual': { fixture: { shape: { tokenTypeIds: false }, dense: [{ out: 16 }], normalize: false, maxSeqLength: MAX_TOKENS }, dimensions: 16 },
  // Decoder: byte-level BPE ending in <|endoftext|>, causal attention, last-token pooling, position_ids.
  'qwen3-embedding': {
    fixture: { family: 'byte-bpe', pooling: ['lasttoken'], graph: { causal: true }, prompts: QWEN_PROMPTS, maxSeqLength: MAX_TOKENS },
    causal: true, prompts: QWEN_PROMPTS, dimensions: 32,
  },
  // onnx-community's export of it: an empty key/value past to feed, fp16 outputs, weights in model.onnx_data.
  'qwen3-embedding-onnx-community': {
    fixture: { family: 'byte-bpe', pooling: ['lasttoken'], graph: { causal: true, past: true, fp16: true, externalData: 'model.onnx_data' }, prompts: QWEN_PROMPTS, maxSeqLength: MAX_TOKENS },
    causal: true, prompts: QWEN_PROMPTS, dimensions: 32,
  },
  // Its 4-bit export (onnx/model_q4.onnx): MatMulNBits weights (blocks of 32 with scales and zero points); the reference uses the weights it holds.
  'qwen3-embedding-q4': {
    fixture: { family: 'byte-bpe', pooling: ['lasttoken'], int4: true, onnxPath: 'onnx/model_q4.onnx', graph: { causal: true, past: true }, prompts: QWEN_PROMPTS, maxSeqLength: MAX_TOKENS },
    causal: true, prompts: QWEN_PROMPTS, dimensions: 32,
  },
  'multilingual-e5-q4': { fixture: { family: 'unigram', int4: true, onnxPath: 'onnx/model_q4.onnx', prompts: E5_PROMPTS, maxSeqLength: MAX_TOKENS }, prompts: E5_PROMPTS, dimensions: 32 },
  // SentencePiece-style BPE with byte fallback, <bos> … <eos>, mean pooling, two Dense layers without bias or
  // activation, normalised; the onnx-community graph also outputs its own sentence_embedding.
  embeddinggemma: {
    fixture: {
      family: 'sentencepiece-bpe', dense: [{ out: 48, activation: 'Identity', bias: false }, { out: 24, activation: 'Identity', bias: false }],
      graph: { sentenceEmbedding: true }, prompts: GEMMA_PROMPTS, maxSeqLength: MAX_TOKENS,
    },
    prompts: GEMMA_PROMPTS, dimensions: 24,
  },
  // The same with its Dense weights only as pytorch_model.bin: the graph's sentence_embedding serves it.
  'embeddinggemma-graph-head': {
    fixture: {
      family: 'sentencepiece-bpe', dense: [{ out: 48, activation: 'Identity', bias: false }, { out: 24, activation: 'Identity', bias: false }],
      denseAsPytorch: true, graph: { sentenceEmbedding: true }, prompts: GEMMA_PROMPTS, maxSeqLength: MAX_TOKENS,
    },
    prompts: GEMMA_PROMPTS, dimensions: 24,
  },
  // gte-modernbert: byte-level BPE framed [CLS] … [SEP], no token types, CLS pooling, normalised.
  'gte-modernbert': { fixture: { family: 'modernbert-bpe', pooling: ['cls'], maxSeqLength: MAX_TOKENS }, dimensions: 32 },
  // bge-m3 in sentence-transformers ≥ 5.4's format: new module type names, Pooling's pooling_mode, CLS, normalised.
  'bge-m3-st54': { fixture: { family: 'unigram', pooling: ['cls'], st54: true, maxSeqLength: MAX_TOKENS }, dimensions: 32 },
  // ≥ 5.4 with several pooling modes: concatenated in the config's order, not the classic one.
  'st54-multi-pooling': { fixture: { pooling: ['mean', 'cls'], st54: true, maxSeqLength: MAX_TOKENS }, dimensions: 64 },
};

let server: TestServer;
before(async () => {
  server = await startTestApp(
    Object.fromEntries(Object.entries(FAMILIES).map(([name, family]) => [`fam/${name}`, family.fixture])),
    Object.entries(FAMILIES).map(([name, { fixture }]) => `fam/${name} alias=${name}${fixture.onnxPath ? ` onnx=${fixture.onnxPath}` : ''}`).join('\n'),
  );
});
after(() => server.close());

async function expected(name: string, text: string, prompt = '') {
  const family = FAMILIES[name]!;
  const fixture = server.fixtures[`fam/${name}`]!;
  const ids = await rustTokenizer(fixture.dir, MAX_TOKENS)(prompt + text);
  const pooling = (family.fixture.pooling ?? ['mean']) as PoolingMode[];
  const vector = referenceEmbedding(fixture.weights, ids, {
    pooling,
    normalize: family.fixture.normalize !== false,
    causal: family.causal,
    dense: fixture.dense,
    inGivenOrder: family.fixture.st54,
  });
  return { ids, vector };
}

const decodeBase64 = (text: string) => Array.from(new Float32Array(new Uint8Array(Buffer.from(text, 'base64')).buffer));

async function embed(model: string, input: string | string[], fields: Record<string, unknown> = {}) {
  const response = await server.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model, input, ...fields } });
  assert.equal(response.statusCode, 200, response.body);
  return embeddingsResponseSchema.parse(response.json()).data.map(({ embedding, num_tokens }) => ({
    vector: typeof embedding === 'string' ? decodeBase64(embedding) : embedding,
    tokens: num_tokens,
  }));
}

function assertClose(actual: number[], reference: number[], what: string) {
  assert.equal(actual.length, reference.length, `${what}: width`);
  const similarity = cosine(actual, reference);
  assert.ok(similarity >= 0.99999, `${what}: cosine ${similarity}`);
  const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  assert.ok(Math.abs(norm(actual) - norm(reference)) <= 1e-4 * Math.max(1, norm(reference)), `${what}: norm ${norm(actual)} against ${norm(reference)}`);
}

describe('every family embeds as sentence-transformers would', () => {
  for (const [name, family] of Object.entries(FAMILIES)) {
    test(`${name}: alone and batched, float and base64${family.prompts ? ', with its prompts' : ''}`, async () => {
      const references = await Promise.all(TEXTS.map((text) => expected(name, text)));
      const batched = await embed(name, TEXTS);
      const batchedBase64 = await embed(name, TEXTS, { encoding_format: 'base64' });
      for (const [index, text] of TEXTS.entries()) {
        const { ids, vector } = references[index]!;
        const alone = (await embed(name, text))[0]!;
        for (const [how, got] of [['alone', alone], ['batched', batched[index]!], ['base64', batchedBase64[index]!]] as const) {
          assertClose(got.vector, vector, `${name} ${how} ${JSON.stringify(text)}`);
          assert.equal(got.tokens, ids.length, `${name} ${how} ${JSON.stringify(text)}: num_tokens`);
        }
      }
      for (const [side, promptName] of Object.entries({ query: 'query', document: family.prompts?.document !== undefined ? 'document' : 'passage' })) {
        const prompt = family.prompts?.[promptName];
        if (prompt === undefined) continue;
        const got = await embed(name, TEXTS.slice(0, 3), { input_type: side });
        for (const [index, text] of TEXTS.slice(0, 3).entries()) {
          const reference = await expected(name, text, prompt);
          assertClose(got[index]!.vector, reference.vector, `${name} ${side} prompt ${JSON.stringify(text)}`);
          assert.equal(got[index]!.tokens, reference.ids.length);
        }
      }
    });
  }

  test("GET /models shows each pipeline's real output width and normalisation", async () => {
    const models = modelListSchema.parse((await server.app.inject({ url: '/v1/models' })).json());
    for (const [name, family] of Object.entries(FAMILIES)) {
      const model = embeddingModelSchema.parse(models.data.find((entry) => entry.id === name));
      assert.equal(model.dimensions, family.dimensions, name);
      assert.equal(model.normalized, family.fixture.normalize !== false, name);
    }
  });

  test('dimensions truncates the pipeline output (after Dense), re-normalised where the model normalises', async () => {
    const [got] = await embed('labse', 'the quick brown fox', { dimensions: 8 });
    const { vector } = await expected('labse', 'the quick brown fox');
    const norm = Math.sqrt(vector.slice(0, 8).reduce((sum, x) => sum + x * x, 0));
    assertClose(got!.vector, vector.slice(0, 8).map((x) => x / norm), 'labse dimensions 8');
  });
});

describe('what cannot be run exactly is refused at start, naming the model, the part and what to do', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('refusals');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const spec = (repo: string) => parseModelsFile(`${repo} alias=${repo.split('/')[1]}`, 'models.txt')[0]!;

  /** Loads the model as the server would; returns the load's error. */
  async function loadError(repo: string): Promise<Error> {
    const registry = await Registry.open([spec(repo)], { artifactsDir: dir, workersPerModel: 1, intraOpThreads: 1, batching: { maxBatchTokens: 512, maxBatchSize: 8 } });
    const error = await registry.ready.then(() => new Error('it loaded'), (failure: Error) => failure);
    await registry.close();
    return error;
  }

  test('a custom module', async () => {
    const { dir: modelDir } = await writeFixtureModel(dir, 'acme/custom');
    const modules = JSON.parse(await readFile(join(modelDir, 'modules.json'), 'utf8'));
    modules.splice(2, 0, { idx: 2, name: '2', path: '2_MyHead', type: 'my_package.heads.MyHead' });
    await writeFile(join(modelDir, 'modules.json'), JSON.stringify(modules));
    await assert.rejects(describeModel(spec('acme/custom'), dir), /model "custom" \(models\.txt:1, .*acme\/custom\): modules\.json has modules this server cannot run: my_package\.heads\.MyHead \(2_MyHead\)/);
  });

  test('a Dense activation it does not compute', async () => {
    const { dir: modelDir } = await writeFixtureModel(dir, 'acme/softplus', { dense: [{ out: 16 }] });
    await writeFile(join(modelDir, '2_Dense/config.json'), JSON.stringify({ in_features: 32, out_features: 16, bias: true, activation_function: 'torch.nn.modules.activation.Softplus' }));
    await assert.rejects(describeModel(spec('acme/softplus'), dir), /model "softplus" .*2_Dense uses the activation torch\.nn\.modules\.activation\.Softplus, which this server does not compute/);
  });

  test('Dense weights only as pytorch_model.bin, with no sentence_embedding in the graph', async () => {
    await writeFixtureModel(dir, 'acme/pickled', { dense: [{ out: 16 }], denseAsPytorch: true });
    const error = await loadError('acme/pickled');
    assert.match(error.message, /model "pickled" .* failed to load: 2_Dense has its weights only as pytorch_model\.bin.*convert them to 2_Dense\/model\.safetensors.*or use an ONNX export whose graph outputs sentence_embedding/);
  });

  test('a graph that wants an input it cannot feed (a custom-code model\'s task id)', async () => {
    const { dir: modelDir } = await writeFixtureModel(dir, 'acme/task-id');
    const onnxFile = join(modelDir, 'onnx/model.onnx');
    const model = onnx.ModelProto.decode(await readFile(onnxFile));
    model.graph!.input!.push(onnx.ValueInfoProto.create({ name: 'task_id', type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [{ dimValue: 1 }] } } } }));
    await writeFile(onnxFile, onnx.ModelProto.encode(model).finish());
    const error = await loadError('acme/task-id');
    assert.match(error.message, /model "task-id" .* failed to load: the ONNX graph wants inputs this server cannot feed: task_id .*custom code/);
  });
});

test('an 8192-token model embeds an 8000-token input whole and exactly (one run, past the batch token budget)', async () => {
  const long = await startTestApp(
    { 'fam/long': { family: 'unigram', shape: { layers: 1, hidden: 8, heads: 1, intermediate: 16, maxPositions: 8192 }, maxSeqLength: 8192, modelMaxLength: 8192 } },
    'fam/long alias=long',
    { maxBatchTokens: 2048 },
  );
  try {
    const fixture = long.fixtures['fam/long']!;
    const reference = rustTokenizer(fixture.dir, 8192);
    const sentence = 'the quick brown fox jumps over the lazy dog ';
    const perSentence = ((await reference(sentence.repeat(100))).length - 2) / 100;
    const text = sentence.repeat(Math.ceil(7990 / perSentence));
    const ids = await reference(text);
    const response = await long.app.inject({ method: 'POST', url: '/v1/embeddings', payload: { model: 'long', input: text } });
    assert.equal(response.statusCode, 200, response.body);
    const [data] = embeddingsResponseSchema.parse(response.json()).data;
    assert.equal(data!.num_tokens, ids.length);
    assert.ok(ids.length >= 7990 && ids.length < 8192, `${ids.length} tokens`);
    assertClose(data!.embedding as number[], referenceEmbedding(fixture.weights, ids, { pooling: ['mean'], normalize: true }), '8000 tokens');
  } finally {
    await long.close();
  }
});
