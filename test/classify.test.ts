/**
 * Sequence classifiers served at TEI's /predict and vLLM's /classify, and similarity at TEI's
 * /similarity and vLLM's /score, against an independent float64 reference of transformers'
 * text-classification pipeline (classifier-reference.ts), and against the embedding and rerank
 * routes' own answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { classifyResponseSchema, predictResponseSchema } from '../src/schemas/classify.ts';
import { errorResponseSchema } from '../src/schemas/error.ts';
import { modelListSchema } from '../src/schemas/models.ts';
import { scoreResponseSchema, similarityResponseSchema } from '../src/schemas/similarity.ts';
import { cosine, startTestApp, type TestServer } from './helpers/app.ts';
import { referenceClassify } from './helpers/classifier-reference.ts';
import { CLASSIFIER_LIMIT, CLASSIFIERS, type ClassifierRepo } from './helpers/classifier-fixtures.ts';

const OTHERS = { 'emb/mini': {}, 'ce/bge': { family: 'unigram' as const, crossEncoder: {}, modelMaxLength: CLASSIFIER_LIMIT } };
const REPOS = Object.keys(CLASSIFIERS) as ClassifierRepo[];
const TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello world!', '  leading and trailing spaces  ', 'Grüße aus München, die Straße ist schön!', ''];
const LONG = Array.from({ length: 40 }, () => 'the quick brown fox').join(' ');

let server: TestServer;
before(async () => {
  const models = { ...Object.fromEntries(REPOS.map((repo) => [repo, CLASSIFIERS[repo].options])), ...OTHERS };
  const lines = [...REPOS.map((repo) => `${repo} ${'line' in CLASSIFIERS[repo] ? CLASSIFIERS[repo].line : ''}`), 'emb/mini', 'ce/bge'];
  server = await startTestApp(models, lines.join('\n'));
});
after(() => server.close());

const post = (url: string, payload: object) => server.app.inject({ method: 'POST', url, payload });
const reference = (repo: ClassifierRepo, text: string, pair?: string) => referenceClassify(server.fixtures[repo]!, CLASSIFIER_LIMIT, CLASSIFIERS[repo].activation, text, pair);

/** The reference's labels sorted as the pipeline sorts them (highest first, ties in label order). */
function expectedRanking(repo: ClassifierRepo, scores: number[]) {
  return scores.map((score, index) => ({ score, label: CLASSIFIERS[repo].labels[index]!, index })).sort((a, b) => b.score - a.score || a.index - b.index);
}

function assertPredictions(repo: ClassifierRepo, got: { score: number; label: string }[], scores: number[], what: string) {
  const expected = expectedRanking(repo, scores);
  assert.deepEqual(got.map(({ label }) => label), expected.map(({ label }) => label), `${what}: labels in the reference's order`);
  got.forEach(({ score }, i) => assert.ok(Math.abs(score - expected[i]!.score) < 1e-5, `${what} ${expected[i]!.label}: ${score} against ${expected[i]!.score}`));
}

describe('POST /predict: every label, highest score first, within 1e-5 of the pipeline', () => {
  for (const repo of REPOS) {
    test(repo, async () => {
      for (const text of TEXTS) {
        const response = await post('/predict', { model: repo, inputs: text });
        assert.equal(response.statusCode, 200, response.body);
        const body = predictResponseSchema.parse(response.json()) as { score: number; label: string }[];
        assertPredictions(repo, body, (await reference(repo, text)).scores, `${repo} ${JSON.stringify(text)}`);
      }
    });
  }
});

test("POST /predict reads inputs as TEI does: ['a', 'b'] is one pair, [['a'], ['a', 'b']] a batch", async () => {
  const repo = 'cls/bert-nli';
  const [premise, hypothesis] = ['a man is eating food', 'someone eats'];
  const pair = await post('/predict', { model: repo, inputs: [premise, hypothesis] });
  assert.equal(pair.statusCode, 200, pair.body);
  assertPredictions(repo, pair.json(), (await reference(repo, premise, hypothesis)).scores, 'the pair');
  const single = await post('/predict', { model: repo, inputs: [premise] });
  assertPredictions(repo, single.json(), (await reference(repo, premise)).scores, '["text"]');
  const batch = await post('/predict', { model: repo, inputs: [[premise], [premise, hypothesis], [hypothesis, premise]] });
  assert.equal(batch.statusCode, 200, batch.body);
  const rows = batch.json() as { score: number; label: string }[][];
  assert.equal(rows.length, 3);
  assertPredictions(repo, rows[0]!, (await reference(repo, premise)).scores, 'batch item 0');
  assertPredictions(repo, rows[1]!, (await reference(repo, premise, hypothesis)).scores, 'batch item 1');
  assertPredictions(repo, rows[2]!, (await reference(repo, hypothesis, premise)).scores, 'batch item 2: order matters');
  // No model named: the first classifier served.
  const unnamed = await post('/predict', { inputs: 'hello world' });
  assertPredictions(REPOS[0]!, unnamed.json(), (await reference(REPOS[0]!, 'hello world')).scores, 'the default classifier');
});

test('NLI pairs on the DeBERTa-v3-style and BERT classifiers, cut longest first to the limit', async () => {
  for (const repo of ['cls/deberta-nli', 'cls/bert-nli', 'cls/distilbert-sst2', 'cls/modernbert'] as const) {
    for (const [first, second] of [['the quick brown fox', 'a fox is quick'], [LONG, 'hello world'], ['hello', LONG]]) {
      const response = await post('/predict', { model: repo, inputs: [[first!, second!]] });
      assert.equal(response.statusCode, 200, response.body);
      assertPredictions(repo, (response.json() as { score: number; label: string }[][])[0]!, (await reference(repo, first!, second!)).scores, `${repo} pair`);
    }
  }
});

test('raw_scores gives the logits, in the same order', async () => {
  const repo = 'cls/go-emotions';
  const response = await post('/predict', { model: repo, inputs: 'hello world!', raw_scores: true });
  const { logits } = await reference(repo, 'hello world!');
  const expected = logits.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score);
  (response.json() as { score: number; label: string }[]).forEach(({ score, label }, i) => {
    assert.equal(label, CLASSIFIERS[repo].labels[expected[i]!.index]);
    assert.ok(Math.abs(score - expected[i]!.score) < 1e-5);
  });
});

test("a multi-label model's scores are sigmoids (they need not sum to 1); a single-label model's sum to 1", async () => {
  const multi = (await post('/predict', { model: 'cls/go-emotions', inputs: 'hello world!' })).json() as { score: number }[];
  const single = (await post('/predict', { model: 'cls/xlmr-sentiment', inputs: 'hello world!' })).json() as { score: number }[];
  const sum = (rows: { score: number }[]) => rows.reduce((total, { score }) => total + score, 0);
  assert.ok(Math.abs(sum(multi) - 1) > 0.05, `sigmoids: ${sum(multi)}`);
  assert.ok(Math.abs(sum(single) - 1) < 1e-6);
});

test('POST /v1/classify: probs in the labels\' order, the best label, num_classes and usage, as vLLM', async () => {
  for (const repo of REPOS) {
    const response = await post('/v1/classify', { model: repo, input: TEXTS });
    assert.equal(response.statusCode, 200, response.body);
    const body = classifyResponseSchema.parse(response.json());
    assert.match(body.id, /^classify-/);
    assert.equal(body.model, repo);
    let tokens = 0;
    for (const [index, text] of TEXTS.entries()) {
      const expected = await reference(repo, text);
      tokens += expected.tokens;
      const row = body.data[index]!;
      assert.equal(row.index, index);
      assert.equal(row.num_classes, CLASSIFIERS[repo].labels.length);
      row.probs.forEach((p, i) => assert.ok(Math.abs(p - expected.scores[i]!) < 1e-5, `${repo} ${index} ${i}`));
      assert.equal(row.label, CLASSIFIERS[repo].labels[expected.scores.indexOf(Math.max(...expected.scores))]);
    }
    assert.deepEqual(body.usage, { prompt_tokens: tokens, total_tokens: tokens });
  }
  const single = await post('/classify', { model: 'cls/xlmr-sentiment', input: 'hello world!', use_activation: false });
  const { logits } = await reference('cls/xlmr-sentiment', 'hello world!');
  classifyResponseSchema.parse(single.json()).data[0]!.probs.forEach((p, i) => assert.ok(Math.abs(p - logits[i]!) < 1e-5));
});

test("a one-label classifier declared kind=classifier is served as one (sigmoid), not as a reranker", async () => {
  const response = await post('/predict', { model: 'cls/one-label', inputs: 'hello world' });
  assertPredictions('cls/one-label', response.json(), (await reference('cls/one-label', 'hello world')).scores, 'one label');
  const rerank = await post('/rerank', { model: 'cls/one-label', query: 'a', documents: ['b'] });
  assert.equal(rerank.statusCode, 400);
  assert.equal(errorResponseSchema.parse(rerank.json()).error.code, 'model_kind_mismatch');
});

test('GET /v1/models lists classifiers with their labels and activation', async () => {
  const body = modelListSchema.parse((await server.app.inject({ method: 'GET', url: '/v1/models' })).json());
  for (const repo of REPOS) {
    const model = body.data.find((entry) => entry.id === repo)!;
    assert.equal(model.kind, 'classifier');
    assert.ok(model.kind === 'classifier');
    assert.deepEqual([model.labels, model.activation, model.max_input_tokens], [CLASSIFIERS[repo].labels, CLASSIFIERS[repo].activation, CLASSIFIER_LIMIT]);
  }
});

test('errors: the wrong kind, an unknown model, three strings as one item, an over-long text with truncate false', async () => {
  const cases: [string, object, number, string][] = [
    ['/v1/embeddings', { model: 'cls/bert-nli', input: 'a' }, 400, 'model_kind_mismatch'],
    ['/v1/classify', { model: 'emb/mini', input: 'a' }, 400, 'model_kind_mismatch'],
    ['/v1/classify', { model: 'nope', input: 'a' }, 404, 'model_not_found'],
    ['/predict', { model: 'cls/bert-nli', inputs: ['a', 'b', 'c'] }, 400, 'invalid_request_error'],
    ['/predict', { model: 'cls/bert-nli', inputs: [] }, 400, 'invalid_request_error'],
    ['/predict', { model: 'cls/bert-nli', inputs: LONG, truncate: false }, 400, 'context_length_exceeded'],
    ['/v1/classify', { model: 'cls/bert-nli', input: ['a', LONG], truncate: false }, 400, 'context_length_exceeded'],
    ['/v1/score', { model: 'emb/mini', text_1: ['a', 'b'], text_2: ['a', 'b', 'c'] }, 400, 'invalid_request_error'],
    ['/v1/score', { model: 'cls/bert-nli', text_1: 'a', text_2: 'b' }, 400, 'model_kind_mismatch'],
    ['/similarity', { model: 'emb/mini', inputs: { source_sentence: 'a', sentences: [] } }, 400, 'invalid_request_error'],
  ];
  for (const [url, payload, status, code] of cases) {
    const response = await post(url, payload);
    assert.equal(response.statusCode, status, `${url} ${JSON.stringify(payload)}: ${response.body}`);
    const body = response.json() as { error: { code?: string; type?: string } | string; error_type?: string };
    // TEI-shaped routes answer in TEI's shape once its error shape is merged; until then, OpenAI's.
    if (typeof body.error === 'object') assert.ok(body.error.code === code || body.error.type === code, `${url}: ${response.body}`);
  }
  const tooLong = errorResponseSchema.parse((await post('/v1/classify', { model: 'cls/bert-nli', input: ['a', LONG], truncate: false })).json());
  assert.equal(tooLong.error.param, 'input');
  assert.match(tooLong.error.message, /^Item 1 has 16\d tokens, more than the model's limit of 32\./);
});

describe('similarity equals what the embedding and rerank routes give', () => {
  const SOURCE = 'what does the quick brown fox do';
  const SENTENCES = ['the quick brown fox jumps over the lazy dog', 'hello world', 'Grüße aus München!', 'hello world'];

  async function embeddings(texts: string[]) {
    const response = await post('/v1/embeddings', { model: 'emb/mini', input: texts });
    return (response.json() as { data: { embedding: number[] }[] }).data.map(({ embedding }) => embedding);
  }
  async function rerankScores(query: string, documents: string[]) {
    const response = await post('/rerank', { model: 'ce/bge', query, documents });
    const scores = new Array<number>(documents.length);
    for (const { index, relevance_score } of (response.json() as { results: { index: number; relevance_score: number }[] }).results) scores[index] = relevance_score;
    return scores;
  }
  const close = (got: number[], expected: number[], what: string) => {
    assert.equal(got.length, expected.length, what);
    got.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-6, `${what} ${i}: ${value} against ${expected[i]}`));
  };

  test('POST /similarity: cosine of /v1/embeddings vectors; a reranker\'s /rerank scores', async () => {
    const response = await post('/similarity', { inputs: { source_sentence: SOURCE, sentences: SENTENCES }, model: 'emb/mini' });
    assert.equal(response.statusCode, 200, response.body);
    const [source, ...others] = await embeddings([SOURCE, ...SENTENCES]);
    close(similarityResponseSchema.parse(response.json()), others.map((vector) => cosine(source!, vector)), 'cosine');
    const reranked = await post('/similarity', { inputs: { source_sentence: SOURCE, sentences: SENTENCES }, model: 'ce/bge' });
    close(reranked.json(), await rerankScores(SOURCE, SENTENCES), 'reranker');
    // No model named: the first embedding model or reranker served.
    close((await post('/similarity', { inputs: { source_sentence: SOURCE, sentences: SENTENCES } })).json(), others.map((vector) => cosine(source!, vector)), 'default');
  });

  test("POST /similarity's truncation_direction: left cuts over-long texts at their start, as TEI's /embed and /rerank cut them", async () => {
    const long = Array.from({ length: 120 }, (_, i) => (i < 60 ? 'fox' : 'hello world')).join(' ');
    const sentences = [long, SENTENCES[0]!];
    for (const direction of ['right', 'left'] as const) {
      const embedded = await post('/embed', { model: 'emb/mini', inputs: [SOURCE, ...sentences], truncation_direction: direction, normalize: false });
      assert.equal(embedded.statusCode, 200, embedded.body);
      const [source, ...others] = embedded.json() as number[][];
      const response = await post('/similarity', { inputs: { source_sentence: SOURCE, sentences }, model: 'emb/mini', parameters: { truncation_direction: direction } });
      assert.equal(response.statusCode, 200, response.body);
      close(response.json(), others.map((vector) => cosine(source!, vector)), `cosine, ${direction}`);
      const reranked = await post('/rerank', { model: 'ce/bge', query: SOURCE, texts: sentences, truncation_direction: direction });
      const expected = new Array<number>(sentences.length);
      for (const { index, score } of reranked.json() as { index: number; score: number }[]) expected[index] = score;
      close((await post('/similarity', { inputs: { source_sentence: SOURCE, sentences }, model: 'ce/bge', parameters: { truncation_direction: direction } })).json(), expected, `reranker, ${direction}`);
    }
    const [right, left] = await Promise.all(
      (['right', 'left'] as const).map(async (direction) => (await post('/similarity', { inputs: { source_sentence: SOURCE, sentences }, model: 'emb/mini', parameters: { truncation_direction: direction } })).json() as number[]),
    );
    assert.notEqual(right![0], left![0], 'the two ends of the long text differ');
    assert.equal(right![1], left![1], 'a text within the limit is not cut');
  });

  test('POST /v1/score: text_1 against each text_2, and queries/documents pairwise', async () => {
    const oneToMany = await post('/v1/score', { model: 'emb/mini', text_1: SOURCE, text_2: SENTENCES });
    assert.equal(oneToMany.statusCode, 200, oneToMany.body);
    const body = scoreResponseSchema.parse(oneToMany.json());
    const [source, ...others] = await embeddings([SOURCE, ...SENTENCES]);
    close(body.data.map(({ score }) => score), others.map((vector) => cosine(source!, vector)), 'score 1:N');
    assert.deepEqual(body.data.map(({ index }) => index), [0, 1, 2, 3]);
    const firsts = ['hello world', SOURCE];
    const seconds = ['the quick brown fox', 'hello'];
    const pairwise = await post('/v1/score', { model: 'emb/mini', queries: firsts, documents: seconds });
    const vectors = await embeddings([...firsts, ...seconds]);
    close(scoreResponseSchema.parse(pairwise.json()).data.map(({ score }) => score), [cosine(vectors[0]!, vectors[2]!), cosine(vectors[1]!, vectors[3]!)], 'score N:N');
    const reranked = await post('/v1/score', { model: 'ce/bge', text_1: firsts, text_2: seconds });
    close(scoreResponseSchema.parse(reranked.json()).data.map(({ score }) => score), [(await rerankScores(firsts[0]!, [seconds[0]!]))[0]!, (await rerankScores(firsts[1]!, [seconds[1]!]))[0]!], 'reranker N:N');
    // use_activation false: the logits, as /rerank's raw_scores.
    const raw = await post('/v1/score', { model: 'ce/bge', text_1: SOURCE, text_2: SENTENCES, use_activation: false });
    const logits = (await post('/rerank', { model: 'ce/bge', query: SOURCE, texts: SENTENCES, raw_scores: true })).json() as { index: number; score: number }[];
    close(scoreResponseSchema.parse(raw.json()).data.map(({ score }) => score), SENTENCES.map((_, i) => logits.find(({ index }) => index === i)!.score), 'raw logits');
  });
});
