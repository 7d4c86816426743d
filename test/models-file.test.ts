import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ModelsFileError, parseModelsFile, weightSets } from '../src/models-file.ts';

test('the shipped models.txt serves two embedding models and a small reranker', async () => {
  const specs = parseModelsFile(await readFile(new URL('../models.txt', import.meta.url), 'utf8'), 'models.txt');
  assert.deepEqual(
    specs.map((spec) => [spec.id, spec.repo, spec.onnxPath]),
    [
      ['all-MiniLM-L12-v2', 'sentence-transformers/all-MiniLM-L12-v2', 'onnx/model.onnx'],
      ['all-mpnet-base-v2', 'sentence-transformers/all-mpnet-base-v2', 'onnx/model.onnx'],
      ['cross-encoder/ms-marco-MiniLM-L6-v2', 'cross-encoder/ms-marco-MiniLM-L6-v2', 'onnx/model.onnx'],
    ],
  );
});

test('repo ids, bare names, revisions and options', () => {
  const specs = parseModelsFile(
    [
      '# comment',
      '',
      '   BAAI/bge-small-en-v1.5@v1.0   alias=bge  # trailing comment',
      'all-MiniLM-L6-v2 onnx=onnx/model_qint8_avx512.onnx',
      'intfloat/e5-small-v2@5c38ec7c405ec4b44b94cc5a9bb96e735b38267a onnx=onnx/model_O4.onnx alias=e5 token_ids=model',
    ].join('\n'),
    'models.txt',
  );
  assert.deepEqual(specs, [
    { id: 'bge', repo: 'BAAI/bge-small-en-v1.5', revision: 'v1.0', onnxPath: 'onnx/model.onnx', source: 'models.txt:3', tokenIds: undefined, promptName: undefined },
    { id: 'all-MiniLM-L6-v2', repo: 'sentence-transformers/all-MiniLM-L6-v2', revision: undefined, onnxPath: 'onnx/model_qint8_avx512.onnx', source: 'models.txt:4', tokenIds: undefined, promptName: undefined },
    { id: 'e5', repo: 'intfloat/e5-small-v2', revision: '5c38ec7c405ec4b44b94cc5a9bb96e735b38267a', onnxPath: 'onnx/model_O4.onnx', source: 'models.txt:5', tokenIds: 'model', promptName: undefined },
  ]);
});

test('a malformed line is reported with file:line and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['a/b/c', /models\.txt:2: "a\/b\/c" is not a Hugging Face repo id/],
    ['org/name@', /models\.txt:2: "" is not a valid revision/],
    ['org/name@a@b', /more than one "@"/],
    ['org/name color=blue', /unknown option "color=blue"/],
    ['org/name token_ids=gpt2', /token_ids "gpt2" must be one of openai, model/],
    ['org/name alias', /unknown option "alias"/],
    ['org/name alias=', /option "alias" has no value/],
    ['org/name alias=a alias=b', /option "alias" given twice/],
    ['org/name onnx=model.bin', /must be a relative path inside the repo ending in \.onnx/],
    ['org/name onnx=../x.onnx', /must be a relative path/],
    ['org/../x', /is not a Hugging Face repo id/],
    ['org/name alias=x\nother/name alias=x', /models\.txt:3: model id "x" is already used at models\.txt:2/],
    // An id equal to another repo's name would take its requests.
    ['acme/cls-synth alias=cls\nsentence-transformers/all-MiniLM-L6-v2 alias=acme/cls-synth', /models\.txt:3: model id "acme\/cls-synth" is a name of acme\/cls-synth \(models\.txt:2\)/],
    ['acme/cls-synth\nall-MiniLM-L6-v2 alias=cls-synth', /model id "cls-synth" is a name of acme\/cls-synth/],
  ];
  for (const [line, message] of cases) {
    assert.throws(() => parseModelsFile(`# header\n${line}`, 'models.txt'), (error: Error) => error instanceof ModelsFileError && message.test(error.message), line);
  }
});

test('ids of one repo and ONNX file form one weight set, shared when loaded', () => {
  const specs = parseModelsFile('acme/e5 alias=q prompt=query\nacme/e5 alias=p prompt=passage\nacme/e5 alias=int8 onnx=onnx/model_qint8.onnx\nacme/other', 'models.txt');
  assert.deepEqual(weightSets(specs).map((set) => set.map((spec) => spec.id)), [['q', 'p'], ['int8'], ['acme/other']]);
});

test('a file with no model is an error', () => {
  assert.throws(() => parseModelsFile('# nothing\n\n', 'm.txt'), /m\.txt: lists no model/);
});
