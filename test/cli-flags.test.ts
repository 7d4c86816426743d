import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { applyFlags } from '../src/cli-flags.ts';

const run = promisify(execFile);
const DOWNLOAD = new URL('../scripts/download.ts', import.meta.url).pathname;
const SERVER_FLAGS = { '--port': 'PORT', '--host': 'HOST', '--models': 'MODELS_FILE' };

test('--port 9000, --host=::1 and --models FILE set PORT, HOST and MODELS_FILE; --help is reported', () => {
  const env: NodeJS.ProcessEnv = { PORT: '8000' };
  assert.deepEqual(applyFlags(['--port', '9000', '--host=::1', '--models', 'mine.txt'], SERVER_FLAGS, 'npm start', env), { help: false });
  assert.deepEqual(env, { PORT: '9000', HOST: '::1', MODELS_FILE: 'mine.txt' });
  assert.deepEqual(applyFlags(['-h'], SERVER_FLAGS, 'npm start', {}), { help: true });
});

test('an unknown flag, a stray argument or a flag without its value is refused, pointing to --help', () => {
  const refused = (args: string[], message: string) => assert.throws(() => applyFlags(args, SERVER_FLAGS, 'npm start', {}), { name: 'FlagError', message });
  const help = '`npm start -- --help` says what it takes (flags: --help, --port, --host, --models).';
  refused(['--prot', '9000'], `unknown option '--prot'. ${help}`);
  refused(['--verbose=1'], `unknown option '--verbose'. ${help}`);
  refused(['9000'], `unexpected argument '9000'. ${help}`);
  refused(['--port'], `--port needs a value. ${help}`);
  refused(['--models='], `--models needs a value. ${help}`);
});

test('npm run download refuses an unknown flag and reads the models file --models names', async () => {
  const failure = (args: string[]) => run(process.execPath, ['--import', 'tsx', DOWNLOAD, ...args], { env: { ...process.env, HF_HUB_OFFLINE: '1' } }).then(
    () => assert.fail('it succeeded'),
    (error: { code: number; stderr: string }) => error,
  );
  const unknown = await failure(['--model', 'foo.txt']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr.trim(), "error: unknown option '--model'. `npm run download -- --help` says what it takes (flags: --help, --models).");
  const missing = await failure(['--models', '/nonexistent/foo.txt']);
  assert.match(missing.stderr, /\/nonexistent\/foo\.txt/);
});
