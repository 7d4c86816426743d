import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSparseLayout, readStaticWeights } from '../../src/inference/files/sparse-modules.ts';
import { tempDir } from '../helpers/app.ts';
import { writeFixtureModel } from '../helpers/fixture-model.ts';
import { writeSparseModel } from '../helpers/sparse-fixture.ts';

test('the sparse layouts a repo\'s files describe: MLMTransformer + SpladePooling, and a Router with a static query side', async () => {
  const dir = await tempDir('sparse-layout');
  try {
    const plain = await writeSparseModel(dir, 'test/st5', { layout: 'st5', pooling: 'sum', activation: 'log1p_relu' });
    const splade = { kind: 'splade', pooling: 'sum', activation: 'log1p_relu' };
    assert.deepEqual(await readSparseLayout(plain.dir), { query: splade, document: splade, defaultSide: 'document', mlmPath: '' });
    const st54 = await writeSparseModel(dir, 'test/st54', { layout: 'st5', st54: true });
    assert.deepEqual((await readSparseLayout(st54.dir))?.document, { kind: 'splade', pooling: 'max', activation: 'relu' });

    const router = await writeSparseModel(dir, 'test/router', { layout: 'router', defaultRoute: 'query' });
    const layout = await readSparseLayout(router.dir);
    assert.deepEqual(layout, {
      query: { kind: 'static', path: 'query_0_SparseStaticEmbedding', weightsFile: join(router.dir, 'query_0_SparseStaticEmbedding/model.safetensors') },
      document: { kind: 'splade', pooling: 'max', activation: 'relu' },
      defaultSide: 'query',
      mlmPath: '',
    });
    assert.deepEqual(await readStaticWeights(router.dir, layout!.query as never, router.dir, 128), router.staticWeights);
    assert.equal((await readSparseLayout((await writeSparseModel(dir, 'test/folder', { layout: 'router-in-folder' })).dir))?.mlmPath, 'document_0_MLMTransformer');

    const dense = await writeFixtureModel(dir, 'test/dense');
    assert.equal(await readSparseLayout(dense.dir), undefined, 'a dense pipeline is not sparse');
    assert.equal(await readSparseLayout((await writeSparseModel(dir, 'test/classic', { layout: 'classic' })).dir), undefined, 'a classic repo has no modules.json');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sparse layouts this server cannot run are refused, saying why', async () => {
  const dir = await tempDir('sparse-layout');
  try {
    const model = await writeSparseModel(dir, 'test/router', { layout: 'router' });
    const config = (structure: unknown, parameters: unknown = {}) =>
      writeFile(join(model.dir, 'router_config.json'), JSON.stringify({
        types: { q: 'sentence_transformers.sparse_encoder.models.SparseStaticEmbedding', m: 'sentence_transformers.sparse_encoder.models.MLMTransformer', m2: 'sentence_transformers.sparse_encoder.models.MLMTransformer', p: 'sentence_transformers.sparse_encoder.models.SpladePooling' },
        structure,
        parameters,
      }));
    await config({ query: ['m', 'p'], document: ['m2', 'p'] });
    await assert.rejects(readSparseLayout(model.dir), /both of the Router's routes run an MLMTransformer/);
    await config({ query: ['q'], passage: ['m', 'p'] });
    await assert.rejects(readSparseLayout(model.dir), /routes are query, passage/);
    await config({ query: ['q'], document: ['m'] });
    await assert.rejects(readSparseLayout(model.dir), /document route is MLMTransformer; this server runs/);
    await config({ query: ['q'], document: ['m', 'p'] }, { default_route: 'corpus' });
    await assert.rejects(readSparseLayout(model.dir), /default_route "corpus"/);
    await config({ query: ['q'], document: ['m', 'p'] }, {});
    assert.equal((await readSparseLayout(model.dir))?.defaultSide, 'query', 'without a default_route, the first route (allow_empty_key)');
    await mkdir(join(model.dir, 'p'));
    await writeFile(join(model.dir, 'p/config.json'), JSON.stringify({ pooling_strategy: 'mean' }));
    await assert.rejects(readSparseLayout(model.dir), /pooling_strategy "mean" is not one of max, sum/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
