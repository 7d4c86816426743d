import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectCapacity, planServing, workersOfProcess } from '../src/capacity.ts';
import { runPeakBytes, runShapeOf, type RunShape } from '../src/batching/run-peak.ts';
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

test('the plan: a single-thread worker per CPU, an HTTP process per 4 CPUs, fewer and wider workers when their weights do not fit', () => {
  const capacity = (cpus: number, memoryBytes: number) => ({ cpus, memoryBytes, source: { cpus: 'test', memory: 'test' } });
  assert.deepEqual(planServing(capacity(16, 64 * GiB), [90e6], {}).httpProcesses, 4);
  assert.equal(planServing(capacity(16, 64 * GiB), [90e6], {}).workersPerModel, 16);
  assert.equal(planServing(capacity(2, 24 * GiB), [90e6], {}).httpProcesses, 1);
  const tight = planServing(capacity(16, 2 * GiB), [500e6], {});
  assert.equal(tight.workersPerModel, 1, '2 GiB holds one copy of a 500 MB model (×2 at run time) beside an HTTP process');
  assert.equal(tight.httpProcesses, 1);
  assert.match(tight.reasons.join(' '), /workers capped at 1 per model by memory, 16 thread\(s\) each/);
  assert.equal(tight.intraOpThreads, 16, 'the one worker runs on every CPU');
  // bge-m3's 2.2 GB on 16 CPUs and 64 GiB: 12 copies fit; 8 workers of 2 threads keep all 16 CPUs busy.
  const wide = planServing(capacity(16, 64 * GiB), [2.2e9], {});
  assert.deepEqual([wide.workersPerModel, wide.intraOpThreads], [8, 2]);
  const threadsGiven = planServing(capacity(16, 64 * GiB), [2.2e9], { intraOpThreads: 1 });
  assert.deepEqual([threadsGiven.workersPerModel, threadsGiven.intraOpThreads], [12, 1], 'INTRA_OP_THREADS set: only the count is capped');
  const explicit = planServing(capacity(16, 2 * GiB), [500e6], { workersPerModel: 6, httpProcesses: 2, intraOpThreads: 2 });
  assert.deepEqual([explicit.workersPerModel, explicit.httpProcesses, explicit.intraOpThreads], [6, 2, 2]);
  assert.deepEqual([0, 1, 2].map((index) => workersOfProcess(8, 3, index)), [3, 3, 2]);
});

// Run shapes as the models' config.json files give them.
const MINILM = runShapeOf({ architectures: ['BertModel'], hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536 }, 384);
const BGE_M3 = runShapeOf({ architectures: ['XLMRobertaModel'], hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 }, 1024);
const QWEN3_EMBEDDING = runShapeOf(
  { architectures: ['Qwen3ForCausalLM'], hidden_size: 1024, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, intermediate_size: 3072 },
  1024,
);
/** What planServing needs of a model's longest input. */
const longestRun = (model: string, shape: RunShape, tokens: number) => ({
  model, tokens, peakBytes: runPeakBytes(shape, 1, tokens, false), arenaPeakBytes: runPeakBytes(shape, 1, tokens, true),
});

test('a run shape from config.json: a decoder by its architecture or its own key/value heads', () => {
  assert.deepEqual(MINILM, { layers: 6, attentionHeads: 12, hidden: 384, intermediate: 1536, keyValueWidth: 384, causal: false });
  assert.deepEqual(QWEN3_EMBEDDING, { layers: 28, attentionHeads: 16, hidden: 1024, intermediate: 3072, keyValueWidth: 1024, causal: true });
  assert.equal(runShapeOf({ hidden_size: 768, num_key_value_heads: 4 }, 768).causal, true);
  assert.deepEqual(runShapeOf({}, 768), { layers: 12, attentionHeads: 12, hidden: 768, intermediate: 3072, keyValueWidth: 768, causal: false }, 'what a config does not say, estimated from the width');
});

test('the plan leaves each HTTP process memory for its runs, and says when one input of a long-context model takes more', () => {
  const capacity = { cpus: 16, memoryBytes: 64 * GiB, source: { cpus: 'test', memory: 'test' } };
  // One 8000-token input to a MiniLM-L6-shaped graph peaked at 6.4 GB (its first run); a worker's arena keeps more than twice that.
  assert.ok(Math.abs(runPeakBytes(MINILM, 1, 8000, false) / 1e9 - 7.1) < 0.05, 'one 8000-token input: ~7.1 GB without the arena');
  assert.ok(Math.abs(runPeakBytes(MINILM, 1, 8000, true) / 1e9 - 15.5) < 0.05, '~15.5 GB kept with it');
  assert.ok(runPeakBytes(MINILM, 1, 512, true) < 0.1e9, 'a run of 512 tokens (the cap of a batched run): ~0.09 GB');
  // Qwen3-Embedding-0.6B: 16 heads' scores and a causal mask per pair of tokens, 28 layers' keys and values per token.
  assert.ok(Math.abs(runPeakBytes(QWEN3_EMBEDDING, 1, 8192, false) / 1e9 - 20.9) < 0.05, 'Qwen3-Embedding-0.6B, 8192 tokens: ~20.9 GB without the arena');
  const short = planServing(capacity, [90e6], {}, [longestRun('minilm', MINILM, 512)]);
  // 80% of 64 GiB, less 4 processes × 200 MiB and 16 workers × (80 MiB + 2 × 90 MB), over 4 processes.
  assert.ok(Math.abs(short.runMemoryBytes / GiB - 11.6) < 0.1, `${short.runMemoryBytes / GiB} GiB per process`);
  assert.doesNotMatch(short.reasons.join(' '), /tokens takes/);
  const long = planServing(capacity, [2.2e9], {}, [longestRun('bge-m3', BGE_M3, 8192)]);
  assert.match(long.reasons.join(' '), /bge-m3: one input of 8192 tokens takes ~9\.4 GiB while it runs, more than the 4\.3 GiB each HTTP process has for runs/);
  // 8 workers of 2 threads (12 copies would fit) leave 4.3 GiB per process for runs, where 12 of 1 thread left 0.1.
});

test("the plan keeps ONNX Runtime's arena for long inputs only where every worker may keep its longest run's memory", () => {
  const capacity = (memoryBytes: number) => ({ cpus: 2, memoryBytes, source: { cpus: 'test', memory: 'test' } });
  const minilm2048 = [longestRun('long', MINILM, 2048)];
  assert.equal(planServing(capacity(24 * GiB), [90e6], {}, minilm2048).keepArena, true, '2 workers × ~1.1 GB fit in 24 GiB');
  const small = planServing(capacity(1.3 * GiB), [90e6], {}, minilm2048);
  assert.equal(small.keepArena, false, 'not in 1.3 GiB');
  assert.match(small.reasons.join(' '), /memory arena off for models taking long inputs/);
});

test('a Qwen3-shaped decoder at 8192 tokens on 7-12 GiB and 2 CPUs: no arena, and no more runs at once than fit', () => {
  // The generated 4-head decoder (bench/run-peak.ts) took 2.45 GB for one 8192-token run without the arena, and
  // ~5.7 GB per worker with it (two workers, four such inputs: 12.6 GB); the plan had it at 2.0 GiB either way.
  const decoder = runShapeOf({ architectures: ['Qwen3ForCausalLM'], hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128 }, 64);
  const measured = { arena: 5.7e9, noArena: 2.45e9 };
  for (const memory of [7, 8, 10, 12]) {
    const plan = planServing({ cpus: 2, memoryBytes: memory * GiB, source: { cpus: 'test', memory: 'test' } }, [3e6], {}, [longestRun('qwen3', decoder, 8192)]);
    assert.equal(plan.keepArena, false, `${memory} GiB: two workers keeping ~${measured.arena / 1e9} GB each do not fit`);
    assert.match(plan.reasons.join(' '), /arena off for models taking long inputs: each worker keeping its longest run's memory would take ~15\.7 GiB per process/);
    const atOnce = Math.min(2, Math.floor(plan.runMemoryBytes / runPeakBytes(decoder, 1, 8192, false)));
    assert.ok(atOnce >= 1 && atOnce * measured.noArena <= plan.runMemoryBytes, `${memory} GiB: ${atOnce} run(s) at once`);
  }
});
