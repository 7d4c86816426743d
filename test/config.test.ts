import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadServerConfig } from '../src/config.ts';
import { tempDir } from './helpers/app.ts';

test('defaults: workers and processes planned at start (nothing set), keys off, CORS off, metrics listener off, truncation on', () => {
  const config = loadServerConfig({});
  assert.equal(config.port, 8000);
  assert.equal(config.host, '127.0.0.1');
  assert.deepEqual(config.apiKeys, []);
  assert.deepEqual(config.corsOrigins, []);
  assert.equal(config.limits.truncate, true);
  assert.equal(config.limits.maxRequestTokens, 300_000);
  assert.deepEqual(config.serving, { httpProcesses: undefined, workersPerModel: undefined, intraOpThreads: undefined });
  assert.equal(config.metricsPort, undefined);
});

test('API keys come from API_KEYS and API_KEYS_FILE together; blank lines and comments are skipped', async () => {
  const dir = await tempDir('keys');
  const file = join(dir, 'keys.txt');
  await writeFile(file, '# team keys\nkey-from-file\n\n  second-from-file  \n');
  try {
    const config = loadServerConfig({ API_KEYS: 'inline-1, inline-2', API_KEYS_FILE: file, CORS_ORIGINS: 'https://a.example,https://b.example' });
    assert.deepEqual(config.apiKeys, ['inline-1', 'inline-2', 'key-from-file', 'second-from-file']);
    assert.deepEqual(config.corsOrigins, ['https://a.example', 'https://b.example']);
    assert.throws(() => loadServerConfig({ API_KEYS_FILE: join(dir, 'missing') }), /API_KEYS_FILE: cannot read .*missing \(ENOENT\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a keys setting that yields no key stops the start instead of opening the API; # is a comment only in the file', async () => {
  const dir = await tempDir('keys');
  try {
    assert.deepEqual(loadServerConfig({ API_KEYS: '#s3cret' }).apiKeys, ['#s3cret']);
    for (const blank of ['', ' , ', ',,']) assert.throws(() => loadServerConfig({ API_KEYS: blank }), /API_KEYS is set but holds no key/);
    for (const [name, text] of [['empty', ''], ['comments', '# only a comment\n\n']]) {
      await writeFile(join(dir, name), text);
      assert.throws(() => loadServerConfig({ API_KEYS_FILE: join(dir, name) }), /API_KEYS_FILE .* holds no key/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('invalid values name the variable', () => {
  assert.throws(() => loadServerConfig({ PORT: '70000' }), /invalid configuration: PORT/);
  assert.throws(() => loadServerConfig({ TRUNCATE: 'maybe' }), /invalid configuration: TRUNCATE/);
});
