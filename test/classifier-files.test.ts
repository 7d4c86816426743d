/**
 * Sequence classifiers' configs (id2label, problem_type, models.txt's kind=classifier) read as
 * transformers' text-classification pipeline reads them, its activations, TEI's and vLLM's input
 * shapes, and the generated classifiers of every family checked against the float64 reference.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { describeModel } from '../src/inference/files/model-files.ts';
import { labelScores, rankedLabels } from '../src/inference/heads/label-scores.ts';
import { parseModelsFile } from '../src/models-file.ts';
import { predictItems } from '../src/schemas/classify.ts';
import { scorePairs } from '../src/schemas/similarity.ts';
import { tempDir } from './helpers/app.ts';
import { referenceActivation, referenceIds, referenceLogits } from './helpers/classifier-reference.ts';
import { CLASSIFIER_LIMIT, CLASSIFIERS, type ClassifierRepo } from './helpers/classifier-fixtures.ts';
import { writeFixtureModel, type FixtureModel } from './helpers/fixture-model.ts';

let dir: string;
const fixtures = {} as Record<ClassifierRepo, FixtureModel>;
before(async () => {
  dir = await tempDir('classifier-files');
  for (const [repo, { options }] of Object.entries(CLASSIFIERS)) fixtures[repo as ClassifierRepo] = await writeFixtureModel(dir, repo, options);
});
after(() => rm(dir, { recursive: true, force: true }));

const spec = (line: string) => parseModelsFile(line, 'models.txt')[0]!;

describe('a sequence classifier is described by its labels and the pipeline\'s activation', () => {
  for (const [repo, fixture] of Object.entries(CLASSIFIERS) as [ClassifierRepo, (typeof CLASSIFIERS)[ClassifierRepo]][]) {
    test(repo, async () => {
      const description = await describeModel(spec(`${repo} ${'line' in fixture ? fixture.line : ''}`), dir);
      assert.equal(description.kind, 'classifier');
      assert.deepEqual(description.labels, fixture.labels);
      assert.equal(description.labelActivation, fixture.activation);
      assert.equal(description.maxTokens, CLASSIFIER_LIMIT);
      assert.deepEqual(description.heads, [{ kind: 'logits', labels: fixture.labels.length, activation: 'identity' }]);
    });
  }
});

/** Rewrites a fixture's config.json with `change` applied. */
async function withConfig(repo: string, change: (config: Record<string, unknown>) => void) {
  const options = { crossEncoder: { labelNames: ['a', 'b'] } };
  const { dir: modelDir } = await writeFixtureModel(dir, repo, options);
  const path = join(modelDir, 'config.json');
  const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  change(config);
  await writeFile(path, JSON.stringify(config));
}

test("config.json's problem_type and label count choose the activation, as the pipeline's postprocess does", async () => {
  const cases: [string, (config: Record<string, unknown>) => void, string, string][] = [
    ['cfg/regression', (config) => Object.assign(config, { problem_type: 'regression', id2label: { 0: 'score' } }), 'kind=classifier', 'none'],
    ['cfg/multi', (config) => Object.assign(config, { problem_type: 'multi_label_classification' }), '', 'sigmoid'],
    ['cfg/single', (config) => Object.assign(config, { problem_type: 'single_label_classification' }), '', 'softmax'],
    ['cfg/plain', () => undefined, '', 'softmax'],
    // id2label wins over num_labels, as in transformers' PretrainedConfig.
    ['cfg/num-labels', (config) => Object.assign(config, { num_labels: 7 }), '', 'softmax'],
    // Without id2label, num_labels names them LABEL_i.
    ['cfg/no-id2label', (config) => Object.assign(config, { id2label: undefined, num_labels: 3 }), '', 'softmax'],
  ];
  for (const [repo, change, options, activation] of cases) {
    await withConfig(repo, change);
    const description = await describeModel(spec(`${repo} ${options}`), dir);
    assert.equal(description.kind, 'classifier', repo);
    assert.equal(description.labelActivation, activation, repo);
  }
  assert.deepEqual((await describeModel(spec('cfg/num-labels'), dir)).labels, ['a', 'b']);
  assert.deepEqual((await describeModel(spec('cfg/no-id2label'), dir)).labels, ['LABEL_0', 'LABEL_1', 'LABEL_2']);
});

test('a one-label sequence classifier is a reranker unless models.txt says kind=classifier', async () => {
  await writeFixtureModel(dir, 'cfg/one', { crossEncoder: {} });
  assert.equal((await describeModel(spec('cfg/one'), dir)).kind, 'reranker');
  const declared = await describeModel(spec('cfg/one kind=classifier'), dir);
  assert.deepEqual([declared.kind, declared.labels, declared.labelActivation], ['classifier', ['LABEL_0'], 'sigmoid']);
});

test('kind=classifier on an embedding model, an id2label with a gap, and an unknown kind are refused', async () => {
  await writeFixtureModel(dir, 'cfg/embedder');
  await assert.rejects(describeModel(spec('cfg/embedder kind=classifier'), dir), /kind=classifier, but config\.json's architectures name no …ForSequenceClassification/);
  await withConfig('cfg/gap', (config) => Object.assign(config, { id2label: { 0: 'a', 2: 'c' } }));
  await assert.rejects(describeModel(spec('cfg/gap'), dir), /id2label has the key "2"; its keys must be 0…1/);
  assert.throws(() => parseModelsFile('org/name kind=reranker', 'models.txt'), /models\.txt:1: kind "reranker" must be classifier/);
});

test('softmax, sigmoid and none as the pipeline computes them; softmax stays finite for large logits', () => {
  const logits = [2.5, -1.25, 0.5, 3];
  for (const activation of ['softmax', 'sigmoid', 'none'] as const) {
    const got = labelScores(Float32Array.from(logits), activation);
    const expected = referenceActivation(logits, activation);
    got.forEach((score, i) => assert.ok(Math.abs(score - expected[i]!) < 1e-12, `${activation} ${i}`));
  }
  assert.deepEqual(labelScores([1000, 1000, -1000], 'softmax'), [0.5, 0.5, 0]);
  assert.deepEqual(rankedLabels([0.2, 0.5, 0.2, 0.1], ['a', 'b', 'c', 'd']), [
    { label: 'b', score: 0.5 },
    { label: 'a', score: 0.2 },
    { label: 'c', score: 0.2 },
    { label: 'd', score: 0.1 },
  ]);
});

test("TEI's inputs: a string, [text] and [text, pair] are one item; a list of lists is a batch", () => {
  assert.deepEqual(predictItems('a'), { items: [['a']], batch: false });
  assert.deepEqual(predictItems(['a']), { items: [['a']], batch: false });
  assert.deepEqual(predictItems(['a', 'b']), { items: [['a', 'b']], batch: false });
  assert.deepEqual(predictItems([['a'], ['b', 'c']]), { items: [['a'], ['b', 'c']], batch: true });
});

test("vLLM's score pairs: one first text against each second text, or pairwise", () => {
  assert.deepEqual(scorePairs({ text_1: 'q', text_2: ['a', 'b'] }), [['q', 'a'], ['q', 'b']]);
  assert.deepEqual(scorePairs({ text_1: ['q'], text_2: 'a' }), [['q', 'a']]);
  assert.deepEqual(scorePairs({ queries: ['q1', 'q2'], documents: ['a', 'b'] }), [['q1', 'a'], ['q2', 'b']]);
});

describe("each family's generated classifier computes, through ONNX Runtime, the reference's logits", () => {
  const TEXTS: [string, string?][] = [['the quick brown fox'], ['hello world', 'the lazy dog sleeps'], ['Grüße aus München!', 'a'], ['  leading spaces matter to some tokenizers  ']];
  for (const repo of Object.keys(CLASSIFIERS) as ClassifierRepo[]) {
    test(repo, async () => {
      const fixture = fixtures[repo];
      const session = await ort.InferenceSession.create(join(fixture.dir, 'onnx/model.onnx'));
      try {
        const expectsTypes = !['cls/deberta-nli', 'cls/distilbert-sst2', 'cls/modernbert', 'cls/go-emotions', 'cls/xlmr-sentiment'].includes(repo);
        assert.equal(session.inputNames.includes('token_type_ids'), expectsTypes);
        for (const [text, pair] of TEXTS) {
          const { ids, typeIds } = await referenceIds(fixture.dir, CLASSIFIER_LIMIT, text, pair);
          const tensor = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
          const feeds: Record<string, ort.Tensor> = { input_ids: tensor(ids), attention_mask: tensor(ids.map(() => 1)) };
          if (expectsTypes) feeds.token_type_ids = tensor(typeIds);
          const { logits } = await session.run(feeds);
          const expected = referenceLogits(fixture, ids, typeIds);
          assert.deepEqual(logits!.dims, [1, CLASSIFIERS[repo].labels.length]);
          Array.from(logits!.data as Float32Array).forEach((logit, i) => assert.ok(Math.abs(logit - expected[i]!) < 1e-5, `${text} ${pair} label ${i}: ${logit} vs ${expected[i]}`));
        }
      } finally {
        await session.release();
      }
    });
  }
});

test("the DeBERTa-v3-style tokenizer frames texts and pairs as DeBERTa-v3's: [CLS] a [SEP] b [SEP], b's tokens of type 1", async () => {
  const { ids, typeIds } = await referenceIds(fixtures['cls/deberta-nli'].dir, CLASSIFIER_LIMIT, 'hello world', 'the dog');
  assert.equal(ids[0], 1);
  assert.equal(ids.at(-1), 2);
  const middle = ids.indexOf(2);
  assert.ok(middle > 1 && middle < ids.length - 1, `a [SEP] between the texts: ${ids}`);
  assert.deepEqual(typeIds, ids.map((_, i) => (i > middle ? 1 : 0)));
});
