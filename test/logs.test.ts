import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

const LOGS = new URL('../src/logs.ts', import.meta.url).href;

test('a burst of process log lines all reach stdout, without a warning', async () => {
  // In a process of its own: the logs write to file descriptor 1.
  const script = `const { createLogs } = await import(${JSON.stringify(LOGS)});
    const { log } = createLogs('info');
    for (let i = 0; i < 30; i++) log.error({ i }, 'burst line');
    setTimeout(() => process.exit(0), 300);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  assert.deepEqual(stdout.trim().split('\n').map((line) => JSON.parse(line).i), Array.from({ length: 30 }, (_, i) => i));
});
