import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectCapacity, planServing, workersOfProcess } from '../src/capacity.ts';
import { tempDir } from './helpers/app.ts';

const GiB = 2 ** 30;

async function cgroup(files: Record<string, string>) {
  const root = await tempDir('cgroup');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

test('CPUs and memory come from the cgroup limits (v2 and v1) where tighter than the machine', async (t) => {
  const v2 = await cgroup({ 'cpu.max': '250000 100000\n', 'memory.max': `${4 * GiB}\n` });
  const v1 = await cgroup({ 'cpu/cpu.cfs_quota_us': '400000\n', 'cpu/cpu.cfs_period_us': '100000\n', 'memory/memory.limit_in_bytes': '9223372036854771712\n' });
  const unlimited = await cgroup({ 'cpu.max': 'max 100000\n', 'memory.max': 'max\n' });
  t.after(() => Promise.all([v2, v1, unlimited].map((dir) => rm(dir, { recursive: true, force: true }))));
  const machine = { machineCpus: 64, machineMemory: 256 * GiB };
  assert.deepEqual(await detectCapacity({ cgroupRoot: v2, ...machine }), {
    cpus: 2, memoryBytes: 4 * GiB, source: { cpus: 'cgroup cpu.max 250000 100000', memory: 'cgroup memory.max' },
  });
  const fromV1 = await detectCapacity({ cgroupRoot: v1, ...machine });
  assert.equal(fromV1.cpus, 4);
  assert.equal(fromV1.memoryBytes, 256 * GiB, 'v1 reports no limit as a huge number');
  assert.equal((await detectCapacity({ cgroupRoot: unlimited, ...machine })).cpus, 64);
  assert.equal((await detectCapacity({ cgroupRoot: v2, machineCpus: 1, machineMemory: GiB })).cpus, 1, 'never more than the machine');
});

test('the plan: a single-thread worker per CPU, an HTTP process per 4 CPUs, fewer workers when their weights do not fit', () => {
  const capacity = (cpus: number, memoryBytes: number) => ({ cpus, memoryBytes, source: { cpus: 'test', memory: 'test' } });
  assert.deepEqual(planServing(capacity(16, 64 * GiB), [90e6], {}).httpProcesses, 4);
  assert.equal(planServing(capacity(16, 64 * GiB), [90e6], {}).workersPerModel, 16);
  assert.equal(planServing(capacity(2, 24 * GiB), [90e6], {}).httpProcesses, 1);
  const tight = planServing(capacity(16, 2 * GiB), [500e6], {});
  assert.equal(tight.workersPerModel, 1, '2 GiB holds one copy of a 500 MB model (×2 at run time) beside an HTTP process');
  assert.equal(tight.httpProcesses, 1);
  assert.match(tight.reasons.join(' '), /workers capped at 1 per model by memory/);
  const explicit = planServing(capacity(16, 2 * GiB), [500e6], { workersPerModel: 6, httpProcesses: 2, intraOpThreads: 2 });
  assert.deepEqual([explicit.workersPerModel, explicit.httpProcesses, explicit.intraOpThreads], [6, 2, 2]);
  assert.deepEqual([0, 1, 2].map((index) => workersOfProcess(8, 3, index)), [3, 3, 2]);
});
