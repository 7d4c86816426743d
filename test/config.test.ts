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

test('invalid values name the variable and the value given', () => {
  assert.throws(() => loadServerConfig({ PORT: '70000' }), /invalid configuration: PORT="70000": expected a whole number from 0 to 65535/);
  assert.throws(() => loadServerConfig({ PORT: 'eighty' }), /PORT="eighty": expected a whole number/);
  assert.throws(() => loadServerConfig({ TRUNCATE: 'maybe' }), /invalid configuration: TRUNCATE="maybe"/);
  assert.throws(() => loadServerConfig({ HOST: 'localhost:8000' }), /HOST="localhost:8000": expected a host name or IP address .* the port goes in PORT/);
  assert.equal(loadServerConfig({ HOST: '::1' }).host, '::1');
});

test('a set but empty value is refused, never read as 0 or as unset (PORT=\'\' would listen on a random port)', () => {
  for (const name of ['PORT', 'METRICS_PORT', 'HOST', 'BODY_LIMIT', 'INFERENCE_WORKERS', 'REQUEST_TIMEOUT_MS', 'MAX_CONNECTIONS', 'API_KEYS_FILE']) {
    assert.throws(() => loadServerConfig({ [name]: '' }), new RegExp(`invalid configuration: ${name}`), name);
  }
});

test('timeouts beyond what Node timers can wait (2^31 - 1 ms) are refused: 3 000 000 000 ms would fire after 1 ms', () => {
  for (const name of ['REQUEST_TIMEOUT_MS', 'DRAIN_TIMEOUT_MS', 'HEADERS_TIMEOUT_MS', 'BODY_TIMEOUT_MS']) {
    assert.throws(() => loadServerConfig({ [name]: '3000000000' }), new RegExp(`${name}="3000000000": expected a whole number from 1 to 2147483647`), name);
    assert.doesNotThrow(() => loadServerConfig({ [name]: String(2 ** 31 - 1) }), name);
  }
});

test('a secret is never printed in a configuration error', () => {
  assert.throws(() => loadServerConfig({ API_KEYS: ' , ' }), (error: Error) => !error.message.includes(' , ') || /API_KEYS is set but holds no key/.test(error.message));
});
