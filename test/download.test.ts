import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseModelsFile } from '../src/models-file.ts';
import { Registry } from '../src/registry.ts';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { startHubStandIn, type HubHostility, type HubRepo, type HubStandIn } from './helpers/hub-stand-in.ts';
import { listRepoFiles, MAX_LISTING_PAGES } from '../src/download/listing.ts';
import { checkRepoPath, planDownload, planExternalData, type RepoFile } from '../src/download/plan.ts';
import { writeVerified } from '../src/download/verified-file.ts';

const run = promisify(execFile);
const SCRIPT = new URL('../scripts/download.ts', import.meta.url).pathname;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name))).sort();
}

/** Runs `npm run download`'s script; never throws, returns exit code and stderr. */
async function download(env: Record<string, string>, timeoutMs = 30_000) {
  const started = performance.now();
  try {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', SCRIPT], { env: { ...process.env, ...env }, timeout: timeoutMs });
    return { code: 0, stderr, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    const failure = error as { code: number; stderr: string };
    return { code: failure.code, stderr: failure.stderr, seconds: (performance.now() - started) / 1000 };
  }
}

const NEEDED = [
  '1_Pooling/config.json', '2_Dense/config.json', '2_Dense/model.safetensors', 'config.json', 'modules.json', 'onnx/model.onnx', 'onnx/weights.bin',
  'sentence_bert_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt',
];
const NOT_NEEDED = {
  'pytorch_model.bin': 'torch weights', 'model.safetensors': 'safetensors weights', 'tf_model.h5': 'tf', 'rust_model.ot': 'rust',
  'openvino/openvino_model.xml': 'openvino', 'openvino/openvino_model.bin': 'openvino', 'onnx/model_qint8_avx512.onnx': 'other onnx',
  // Guessable names the graph does not use: its weights are in the file it names (weights.bin).
  'onnx/model.onnx_data': 'not this graph\'s', 'onnx/model_fp16.onnx_data': 'another variant\'s', '2_Dense/pytorch_model.bin': 'torch weights',
  'README.md': '# readme', 'train_script.py': 'print()',
};

let hub: HubStandIn;
let workDir: string;
let source: Record<string, Buffer>;

before(async () => {
  workDir = await tempDir('download');
  // A Dense module with its own weights, and the graph's weights in an external-data file it names, as large exports have.
  const fixture = await writeFixtureModel(join(workDir, 'source'), 'acme/tiny', { dense: [{ out: 16 }], graph: { externalData: 'weights.bin' } });
  source = Object.fromEntries(await Promise.all((await filesUnder(fixture.dir)).map(async (path) => [path, await readFile(join(fixture.dir, path))])));
  const files = { ...source, ...NOT_NEEDED };
  hub = await startHubStandIn({
    'acme/tiny': { files, lfs: ['onnx/model.onnx', 'onnx/weights.bin', 'onnx/model.onnx_data', 'pytorch_model.bin', 'model.safetensors', '2_Dense/model.safetensors'] },
    'acme/gated': { files, lfs: ['onnx/model.onnx'], token: 'hf_secret' },
    'acme/no-onnx': { files: { 'config.json': '{}', 'pytorch_model.bin': 'x', 'onnx/other.onnx': 'x' } },
  });
});
after(async () => {
  await hub.close();
  await rm(workDir, { recursive: true, force: true });
});

async function setup(name: string, modelsTxt: string) {
  const dir = join(workDir, name);
  await rm(dir, { recursive: true, force: true });
  const modelsFile = join(workDir, `${name}.models.txt`);
  await writeFile(modelsFile, modelsTxt);
  return { artifacts: join(dir, 'artifacts'), env: { MODELS_FILE: modelsFile, ARTIFACTS_DIR: join(dir, 'artifacts'), HF_ENDPOINT: hub.url } };
}

describe('npm run download against a Hub stand-in', () => {
  test('fetches exactly the files serving needs, verified, in the huggingface-cli layout; the server loads them', async () => {
    const { artifacts, env } = await setup('fetch', 'acme/tiny@v1.0 alias=tiny\n');
    const result = await download(env);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await filesUnder(join(artifacts, 'acme/tiny')), NEEDED);
    for (const path of NEEDED) assert.deepEqual(await readFile(join(artifacts, 'acme/tiny', path)), source[path], path);
    assert.ok(hub.requests.some((path) => path === '/api/models/acme/tiny/tree/v1.0'), 'the revision pin is used');
    assert.match(result.stderr, /12 file\(s\) fetched/);

    const registry = await Registry.open(parseModelsFile('acme/tiny alias=tiny', 'models.txt'), {
      artifactsDir: artifacts, workersPerModel: 1, intraOpThreads: 1, batching: { maxBatchTokens: 1024, maxBatchSize: 8 },
    });
    await registry.ready;
    const model = (await registry.resolve('tiny')!.loaded).embedder!;
    assert.equal(JSON.parse(Buffer.from((await model.embed({ texts: ['hello'] })).embeddings[0]!).toString()).length, 16);
    await registry.close();
  });

  test('a prompt= the model does not have is reported by the download, with the models.txt line', async () => {
    const { env } = await setup('typo', 'acme/tiny prompt=qeury\n');
    const result = await download(env);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /model "acme\/tiny" \(.*typo\.models\.txt:1, .*\): prompt=qeury is not among its prompts \(none\)\. The files are downloaded; fix .*typo\.models\.txt:1/);
  });

  test('a re-run transfers nothing; a truncated file is fetched again', async () => {
    const { artifacts, env } = await setup('rerun', 'acme/tiny\n');
    assert.equal((await download(env)).code, 0);
    const before = new Map(hub.downloads);
    const again = await download(env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(hub.downloads, before, 'no file transferred on a re-run');
    assert.match(again.stderr, /0 file\(s\) fetched.*12 already complete/);

    const onnx = join(artifacts, 'acme/tiny/onnx/model.onnx');
    await truncate(onnx, 100);
    await writeFile(join(artifacts, 'acme/tiny/config.json'), '{"damaged": true}');
    const repaired = await download(env);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(repaired.stderr, /2 file\(s\) fetched/);
    assert.deepEqual(await readFile(onnx), source['onnx/model.onnx']);
    assert.deepEqual(await readFile(join(artifacts, 'acme/tiny/config.json')), source['config.json']);
  });

  test('a gated repo needs HF_TOKEN, and works with it', async () => {
    const { env } = await setup('gated', 'acme/gated\n');
    const denied = await download(env);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /acme\/gated.*401.*HF_TOKEN/s);
    const allowed = await download({ ...env, HF_TOKEN: 'hf_secret' });
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  test('an unknown repo fails clearly, naming the repo and the models.txt line', async () => {
    const { env } = await setup('unknown', '# models\nacme/does-not-exist\n');
    const result = await download(env);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /acme\/does-not-exist .*models\.txt:2/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  test('a repo without the chosen ONNX file fails and lists the ONNX files it has', async () => {
    const { env } = await setup('no-onnx', 'acme/no-onnx\n');
    const result = await download(env);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /acme\/no-onnx.*has no onnx\/model\.onnx; its ONNX files are: onnx\/other\.onnx/);
  });

  test('an unreachable endpoint fails within seconds with what to do', async () => {
    const { env } = await setup('offline', 'acme/tiny\n');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await download({ ...env, HF_ENDPOINT: `http://127.0.0.1:${port}` });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`acme/tiny .*cannot reach http://127.0.0.1:${port} \\(ECONNREFUSED\\).*HF_ENDPOINT`));
    assert.ok(result.seconds < 10, `${result.seconds} s`);
  });

  test('an endpoint that accepts connections but never answers times out instead of hanging', async () => {
    const { env } = await setup('silent', 'acme/tiny\n');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const result = await download({ ...env, HF_ENDPOINT: endpoint, DOWNLOAD_TIMEOUT_MS: '1500' });
    silent.closeAllConnections();
    silent.close();
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /cannot reach .*no answer within 1500 ms/);
    assert.ok(result.seconds < 10, `${result.seconds} s`);
  });

  test('HF_HUB_OFFLINE=1 fetches nothing: succeeds when the files are on disk, names the missing file otherwise', async () => {
    const { env } = await setup('hub-offline', 'acme/tiny\n');
    const missing = await download({ ...env, HF_HUB_OFFLINE: '1' });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /acme\/tiny\/config\.json is missing/);
    assert.equal((await download(env)).code, 0);
    const requests = hub.requests.length;
    const present = await download({ ...env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:1' });
    assert.equal(present.code, 0, present.stderr);
    assert.equal(hub.requests.length, requests);
  });

  test('a malformed models.txt stops the script with file:line', async () => {
    const { env } = await setup('malformed', 'acme/tiny\nacme/x y=z\n');
    const result = await download(env);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /malformed\.models\.txt:2: unknown option "y=z"/);
  });
});

describe('npm run download against a hostile Hub', () => {
  /**
   * Downloads acme/hostile (the fixture model's files, with `files` added or replaced) from a stand-in that
   * misbehaves as `hostility(its url)` says; acme/hostile needs HF_TOKEN when env sets one.
   */
  async function downloadFromHostile(
    name: string,
    hostility: (url: string) => HubHostility,
    options: { env?: Record<string, string>; files?: Record<string, string | Buffer> } = {},
  ) {
    const { artifacts, env } = await setup(name, 'acme/hostile\n');
    const repo: HubRepo = { files: { ...source, ...options.files }, lfs: ['onnx/model.onnx', 'onnx/weights.bin', '2_Dense/model.safetensors'], token: options.env?.HF_TOKEN };
    const hostileHub = await startHubStandIn({ 'acme/hostile': repo });
    repo.hostile = hostility(hostileHub.url);
    try {
      const result = await download({ ...env, HF_ENDPOINT: hostileHub.url, ...options.env });
      return { ...result, dir: join(artifacts, 'acme/hostile'), requests: hostileHub.requests };
    } finally {
      await hostileHub.close();
    }
  }
  const LISTING = '';
  const configSize = () => source['config.json']!.length;

  test('an endless body stops at the listed size; nothing is left on disk', async () => {
    const result = await downloadFromHostile('endless', () => ({ endless: ['config.json'] }));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`acme/hostile, file config\\.json .*: the Hub sent more than the listed ${configSize()} bytes`));
    await assert.rejects(stat(join(result.dir, 'config.json.partial')), { code: 'ENOENT' });
    await assert.rejects(stat(join(result.dir, 'config.json')), { code: 'ENOENT' });
  });

  test('a GET that fails after the listing names the file and the HTTP status', async () => {
    const result = await downloadFromHostile('fail-get', () => ({ failGet: { 'config.json': 500 } }));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /acme\/hostile, file config\.json .*answered 500/);
    assert.doesNotMatch(result.stderr, /undefined/);
  });

  test('a listing that stalls after its headers fails after DOWNLOAD_TIMEOUT_MS, saying so', async () => {
    const result = await downloadFromHostile('stalled-listing', () => ({ stall: [LISTING] }), { env: { DOWNLOAD_TIMEOUT_MS: '1000' } });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /acme\/hostile .*the file listing: the transfer stalled: under 64 KiB in 1000 ms \(DOWNLOAD_TIMEOUT_MS\)/);
  });

  test('a listing or a file that drips a byte at a time fails as stalled, naming it', async () => {
    const listing = await downloadFromHostile('dripping-listing', () => ({ drip: { paths: [LISTING], bytes: 1, everyMs: 50 } }), { env: { DOWNLOAD_TIMEOUT_MS: '1000' } });
    assert.notEqual(listing.code, 0);
    assert.match(listing.stderr, /acme\/hostile .*the file listing: the transfer stalled: under 64 KiB in 1000 ms/);
    const file = await downloadFromHostile('dripping-file', () => ({ drip: { paths: ['config.json'], bytes: 1, everyMs: 50 } }), { env: { DOWNLOAD_TIMEOUT_MS: '1000' } });
    assert.notEqual(file.code, 0);
    assert.match(file.stderr, /acme\/hostile, file config\.json .*the transfer stalled: under 64 KiB in 1000 ms/);
  });

  test('a file that keeps coming but too slowly fails after DOWNLOAD_TOTAL_TIMEOUT_MS', async () => {
    // 12 MB at 128 KiB every 100 ms (9.6 s): fast enough not to count as stalled, too slow for the 4 s allowed.
    const result = await downloadFromHostile('slow-file', () => ({ drip: { paths: ['config.json'], bytes: 128 * 1024, everyMs: 100 } }), {
      env: { DOWNLOAD_TIMEOUT_MS: '3000', DOWNLOAD_TOTAL_TIMEOUT_MS: '4000' },
      files: { 'config.json': Buffer.alloc(12_000_000, 32) },
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /acme\/hostile, file config\.json .*not complete after 4000 ms \(DOWNLOAD_TOTAL_TIMEOUT_MS\)/);
  });

  test('a listing whose Link: next leads back to itself fails instead of looping', async () => {
    const result = await downloadFromHostile('link-loop', (url) => ({ nextLink: `${url}/api/models/acme/hostile/tree/main?recursive=true&expand=false` }));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /acme\/hostile .*the file listing: its Link: next leads back to a page already read/);
    assert.equal(result.requests.filter((path) => path.includes('/tree/')).length, 1);
  });

  test('HF_TOKEN goes only to HF_ENDPOINT\'s origin: not to a listing page or a xet link elsewhere', async () => {
    const seen: { path: string; authorization: string | undefined }[] = [];
    const elsewhere = createServer((request, response) => {
      seen.push({ path: request.url!, authorization: request.headers.authorization });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('[]');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const other = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    try {
      const result = await downloadFromHostile('token', () => ({ nextLink: `${other}/api/models/acme/hostile/tree/main?page=2`, xetOrigin: other }), {
        env: { HF_TOKEN: 'hf_secret' },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(seen.some(({ path }) => path.endsWith('?page=2')), 'the next page was read');
      assert.deepEqual(seen.filter(({ authorization }) => authorization !== undefined), []);
    } finally {
      elsewhere.close();
    }
  });

  test('files redirected to storage elsewhere arrive, without HF_TOKEN there', async () => {
    const storage = await startHubStandIn({ 'acme/hostile': { files: source } });
    try {
      const result = await downloadFromHostile('redirected', () => ({ redirectFilesTo: storage.url }), { env: { HF_TOKEN: 'hf_secret' } });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /12 file\(s\) fetched/);
      assert.equal(storage.downloads.size, 12);
      assert.deepEqual(storage.authorized, []);
    } finally {
      await storage.close();
    }
  });

  test('a listing with too many entries, or too many bytes, is refused with the bound', async () => {
    const entries = await downloadFromHostile('many-entries', () => ({ extraEntries: { count: 100_001, pathBytes: 1 } }));
    assert.notEqual(entries.code, 0);
    assert.match(entries.stderr, /acme\/hostile .*the file listing: more than 100000 entries/);
    const bytes = await downloadFromHostile('huge-listing', () => ({ extraEntries: { count: 20_000, pathBytes: 2000 } }));
    assert.notEqual(bytes.code, 0);
    assert.match(bytes.stderr, /acme\/hostile .*the file listing: larger than 32 MiB/);
  });

  test('a listed name that is not a plain relative path is refused by name, and nothing is written', async () => {
    const escape = await downloadFromHostile('backslash', () => ({}), { files: { '..\\..\\PWNED.json': '{}' } });
    assert.notEqual(escape.code, 0);
    assert.match(escape.stderr, /acme\/hostile .*the Hub lists a file named "\.\.\\\\\.\.\\\\PWNED\.json", which is not a plain relative path \(it has a backslash\)/);
    const nul = await downloadFromHostile('nul', () => ({}), { files: { 'evil\u0000.json': '{}' } });
    assert.notEqual(nul.code, 0);
    assert.match(nul.stderr, /the Hub lists a file named "evil\\u0000\.json", which is not a plain relative path \(it has a control character\)/);
    assert.doesNotMatch(nul.stderr, /cannot reach/);
    await assert.rejects(stat(escape.dir), { code: 'ENOENT' });
  });
});

describe('listed names that are not plain relative paths are refused', () => {
  const onnx: RepoFile = { type: 'file', path: 'onnx/model.onnx', size: 1 };
  const reasons: [string, string][] = [
    ['..\\..\\PWNED.json', 'it has a backslash'],
    ['1_Pooling\\config.json', 'it has a backslash'],
    ['a\u0000.json', 'it has a control character'],
    ['a\u001b[2J.json', 'it has a control character'],
    ['a\u007f.txt', 'it has a control character'],
    ['C:PWNED.json', 'it names a drive'],
    ['/etc/x/config.json', 'it is absolute'],
    ['1_Pooling/../../config.json', 'it has an empty, "." or ".." part'],
    ['1_Pooling//config.json', 'it has an empty, "." or ".." part'],
  ];
  test('each kind of name, with why', () => {
    for (const [name, reason] of reasons) {
      assert.throws(() => checkRepoPath(name), {
        message: `the Hub lists a file named ${JSON.stringify(name)}, which is not a plain relative path (${reason}); refusing to write it`,
      }, name);
    }
    for (const name of ['config.json', '1_Pooling/config.json', 'onnx/model.onnx', 'a..b.json', '.hidden.json', 'x y.json', 'ünï.json']) checkRepoPath(name);
  });
  test('a planned file with such a name stops the plan', () => {
    assert.throws(() => planDownload([onnx, { type: 'file', path: 'C:PWNED.json', size: 1 }], 'onnx/model.onnx'), /"C:PWNED\.json", which is not a plain relative path \(it names a drive\)/);
  });
  test('external-data names from the graph are held to the same rule', () => {
    const weights: RepoFile = { type: 'file', path: 'onnx/weights.bin', size: 1 };
    assert.deepEqual(planExternalData([onnx, weights], 'onnx/model.onnx', ['./weights.bin']).map((file) => file.path), ['onnx/weights.bin']);
    assert.throws(() => planExternalData([onnx, weights], 'onnx/model.onnx', ['..\\..\\evil.bin']), {
      message: 'onnx/model.onnx keeps its weights in a file named "..\\\\..\\\\evil.bin", which is not a plain relative path (it has a backslash); refusing to write it',
    });
    assert.throws(() => planExternalData([onnx, weights], 'onnx/model.onnx', ['x/../../weights.bin']), /"\.\.\/weights\.bin", which is not a plain relative path \(it has an empty, "\." or "\.\." part\)/);
  });
  test("a sparse Router's module files are planned: its sides' configs, tokenizers and static weights, not the MLM's PyTorch weights", () => {
    const files = [
      'onnx/model.onnx', 'modules.json', 'router_config.json', 'config.json', 'model.safetensors',
      'query_0_SparseStaticEmbedding/config.json', 'query_0_SparseStaticEmbedding/model.safetensors', 'query_0_SparseStaticEmbedding/tokenizer.json', 'query_0_SparseStaticEmbedding/vocab.txt',
      'query_0_IDF/model.safetensors', 'document_0_MLMTransformer/config.json', 'document_0_MLMTransformer/model.safetensors', 'document_1_SpladePooling/config.json',
    ].map((path) => ({ type: 'file', path, size: 1 }));
    assert.deepEqual(
      planDownload(files, 'onnx/model.onnx').map((file) => file.path),
      [
        'onnx/model.onnx', 'modules.json', 'router_config.json', 'config.json',
        'query_0_SparseStaticEmbedding/config.json', 'query_0_SparseStaticEmbedding/model.safetensors', 'query_0_SparseStaticEmbedding/tokenizer.json', 'query_0_SparseStaticEmbedding/vocab.txt',
        'query_0_IDF/model.safetensors', 'document_0_MLMTransformer/config.json', 'document_1_SpladePooling/config.json',
      ],
    );
  });

  test('names that are not planned are left alone, whatever they are', () => {
    assert.deepEqual(planDownload([onnx, { type: 'file', path: 'docs\\..\\x.md', size: 1 }], 'onnx/model.onnx').map((file) => file.path), ['onnx/model.onnx']);
  });
});

describe('the file listing holds the Hub to what the download relies on', () => {
  /** Lists a/b from a fetch that answers `page(url)` for each page. */
  const listWith = (page: (url: URL) => { body: string; next?: string }) =>
    listRepoFiles({
      repo: { type: 'model', name: 'a/b' }, revision: undefined, hubUrl: 'http://hub', accessToken: undefined,
      fetch: async (input) => {
        const { body, next } = page(new URL(String(input)));
        return new Response(body, { headers: { 'content-type': 'application/json', ...(next && { link: `<${next}>; rel="next"` }) } });
      },
    });

  test(`a listing that pages on for ever stops after ${MAX_LISTING_PAGES} pages`, async () => {
    let pages = 0;
    await assert.rejects(
      listWith((url) => {
        pages++;
        return { body: '[]', next: `http://hub/next?page=${Number(url.searchParams.get('page') ?? 0) + 1}` };
      }),
      { name: 'TransferError', message: `the file listing: more than ${MAX_LISTING_PAGES} pages` },
    );
    assert.equal(pages, MAX_LISTING_PAGES);
  });

  test('an entry without a usable size, path or hash is refused, by its place in the listing', async () => {
    const entries: [unknown, string][] = [
      [{ type: 'file', path: 'config.json', size: '612' }, 'size: Invalid input: expected number, received string'],
      [{ type: 'file', path: 'config.json', size: -1 }, 'size: Too small: expected number to be >=0'],
      [{ type: 'file', path: 'config.json' }, 'size: Invalid input: expected number, received undefined'],
      [{ type: 'file', path: ['config.json'], size: 1 }, 'path: Invalid input: expected string, received array'],
      [{ type: 'file', path: 'model.onnx', size: 134, lfs: { oid: 'f'.repeat(64), size: 1e300 } }, 'lfs.size: Too big: expected int to be <=9007199254740991'],
    ];
    for (const [entry, why] of entries) {
      await assert.rejects(listWith(() => ({ body: JSON.stringify([{ type: 'directory', path: 'onnx', size: 0 }, entry]) })), {
        message: `the file listing: entry 2 is not a file or folder entry (${why})`,
      });
    }
  });

  test('a listing that is not a JSON list says so', async () => {
    await assert.rejects(listWith(() => ({ body: '{"error": "none"}' })), { message: 'the file listing: not a JSON list of entries (items is not iterable)' });
    await assert.rejects(listWith(() => ({ body: '[{"type":' })), { message: /^the file listing: not a JSON list of entries \(.*JSON/ });
  });
});

test('a body longer than listed is cancelled at the first chunk past the size, with nothing past it written', async () => {
  const dir = await tempDir('verified');
  let pulls = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(output) {
      pulls++;
      output.enqueue(new Uint8Array(400).fill(pulls));
    },
    cancel() {
      cancelled = true;
    },
  });
  const delivered: number[] = [];
  await assert.rejects(writeVerified(join(dir, 'config.json'), { path: 'config.json', size: 612, check: undefined }, body, (bytes) => delivered.push(bytes)), {
    name: 'IntegrityError',
    message: 'the Hub sent more than the listed 612 bytes',
  });
  assert.deepEqual(delivered, [400], 'the second chunk would pass 612 bytes: not written');
  assert.ok(cancelled, 'the body was cancelled');
  assert.ok(pulls <= 3, `${pulls} chunks read`);
  assert.deepEqual(await readdir(dir), [], 'no .partial left');
  await rm(dir, { recursive: true, force: true });
});
