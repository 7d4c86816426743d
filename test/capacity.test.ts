import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectCapacity, planServing, workersOfProcess } from '../src/capacity.ts';
import { runPeakBytes } from '../src/inference/run-peak.ts';
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
  const machine = { machineCpus: 64, availableMemory: 256 * GiB, membership: '0::/\n' };
  assert.deepEqual(await detectCapacity({ cgroupRoot: v2, ...machine }), {
    cpus: 2, memoryBytes: 4 * GiB, source: { cpus: 'cgroup cpu.max 250000 100000', memory: 'cgroup memory.max' },
  });
  const fromV1 = await detectCapacity({ cgroupRoot: v1, ...machine });
  assert.equal(fromV1.cpus, 4);
  assert.equal(fromV1.memoryBytes, 256 * GiB, 'v1 reports no limit as a huge number');
  assert.equal((await detectCapacity({ cgroupRoot: unlimited, ...machine })).cpus, 64);
  const small = await detectCapacity({ cgroupRoot: v2, machineCpus: 1, availableMemory: GiB, membership: '' });
  assert.equal(small.cpus, 1, 'never more CPUs than the machine');
  assert.deepEqual([small.memoryBytes, small.source.memory], [GiB, 'available on the machine'], 'never more memory than is available');
});

test('limits set on the cgroup the process is in, or any level above it, count too: the tightest wins', async (t) => {
  // A systemd service (CPUQuota=300%) in a slice holding 8 GiB, on cgroup v2 with no limit at the root.
  const service = await cgroup({
    'system.slice/embeddings.service/cpu.max': '300000 100000\n',
    'system.slice/embeddings.service/memory.max': 'max\n',
    'system.slice/memory.max': `${8 * GiB}\n`,
    'cpu.max': 'max 100000\n',
  });
  // cgroup v1, as on this machine: memory and cpu controllers mounted apart, the process deep in each.
  const v1 = await cgroup({
    'cpu,cpuacct/batch/cpu.cfs_quota_us': '600000\n',
    'cpu,cpuacct/batch/cpu.cfs_period_us': '100000\n',
    'cpu,cpuacct/batch/job7/cpu.cfs_quota_us': '-1\n',
    'memory/process_api/6b6b/memory.limit_in_bytes': `${3 * GiB}\n`,
  });
  await symlink('cpu,cpuacct', join(v1, 'cpu'));
  // A container whose /proc/self/cgroup names the host's path, with its own cgroup mounted as the root.
  const container = await cgroup({ 'cpu.max': '150000 100000\n' });
  t.after(() => Promise.all([service, v1, container].map((dir) => rm(dir, { recursive: true, force: true }))));
  const machine = { machineCpus: 64, availableMemory: 256 * GiB };
  assert.deepEqual(await detectCapacity({ cgroupRoot: service, membership: '0::/system.slice/embeddings.service\n', ...machine }), {
    cpus: 3,
    memoryBytes: 8 * GiB,
    source: { cpus: 'cgroup cpu.max 300000 100000 at /system.slice/embeddings.service', memory: 'cgroup memory.max at /system.slice' },
  });
  const membershipV1 = '9:memory:/process_api/6b6b\n3:cpu,cpuacct:/batch/job7\n0::/\n';
  assert.deepEqual(await detectCapacity({ cgroupRoot: v1, membership: membershipV1, ...machine }), {
    cpus: 6,
    memoryBytes: 3 * GiB,
    source: { cpus: 'cgroup cfs quota 600000/100000 at /batch', memory: 'cgroup memory.limit_in_bytes at /process_api/6b6b' },
  });
  assert.equal((await detectCapacity({ cgroupRoot: container, membership: '0::/system.slice/docker-1f2e.scope\n', ...machine })).cpus, 1);
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

test('the plan leaves each HTTP process memory for its runs, and says when one input of a long-context model takes more', () => {
  const capacity = { cpus: 16, memoryBytes: 64 * GiB, source: { cpus: 'test', memory: 'test' } };
  // MiniLM-L6's shape: 12 heads, 384 wide, 1536 in the feed-forward layer.
  const shape = { attentionHeads: 12, hidden: 384, intermediate: 1536 };
  assert.ok(Math.abs(runPeakBytes(shape, 1, 8000) / 1e9 - 6.2) < 0.1, 'one 8000-token input: ~6.2 GB (6.4 measured)');
  assert.ok(runPeakBytes(shape, 16, 512) < 0.6e9, 'a batch of 16 512-token inputs: a few hundred MB');
  const short = planServing(capacity, [90e6], {}, [{ model: 'minilm', tokens: 512, peakBytes: runPeakBytes(shape, 1, 512) }]);
  // 80% of 64 GiB, less 4 processes × 200 MiB and 16 workers × (80 MiB + 2 × 90 MB), over 4 processes.
  assert.ok(Math.abs(short.runMemoryBytes / GiB - 11.6) < 0.1, `${short.runMemoryBytes / GiB} GiB per process`);
  assert.doesNotMatch(short.reasons.join(' '), /tokens takes/);
  const long = planServing(capacity, [2.2e9], {}, [{ model: 'bge-m3', tokens: 8192, peakBytes: runPeakBytes({ attentionHeads: 16, hidden: 1024, intermediate: 4096 }, 1, 8192) }]);
  assert.match(long.reasons.join(' '), /bge-m3: one input of 8192 tokens takes ~8\.\d GiB while it runs, more than the \d\.\d GiB each HTTP process has for runs/);
});

test("the plan keeps ONNX Runtime's arena for long inputs only where every worker may keep its longest run's memory", () => {
  const capacity = (memoryBytes: number) => ({ cpus: 2, memoryBytes, source: { cpus: 'test', memory: 'test' } });
  const minilm2048 = [{ model: 'long', tokens: 2048, peakBytes: runPeakBytes({ attentionHeads: 12, hidden: 384, intermediate: 1536 }, 1, 2048) }];
  assert.equal(planServing(capacity(24 * GiB), [90e6], {}, minilm2048).keepArena, true, '2 workers × ~0.45 GB fit in 24 GiB');
  const small = planServing(capacity(1.3 * GiB), [90e6], {}, minilm2048);
  assert.equal(small.keepArena, false, 'not in 1.3 GiB');
  assert.match(small.reasons.join(' '), /memory arena off for models taking long inputs/);
});
