import { readFile } from 'node:fs/promises';
import { availableParallelism, freemem } from 'node:os';
import { join } from 'node:path';

/**
 * What this process may really use: the machine's CPUs and the memory available at start, or the
 * cgroup limits it runs under where tighter: v2 `cpu.max`/`memory.max`, v1 CFS quota and
 * `memory.limit_in_bytes`, at its own cgroup (from /proc/self/cgroup: a systemd service's
 * `CPUQuota=`, a container sharing the host's cgroup namespace) and every level above it (a
 * container's own cgroup is its namespace's root). Node 20's availableParallelism() ignores CPU
 * quotas, so a 2-CPU pod on a 64-core node would otherwise start 64 workers.
 */
export interface Capacity {
  cpus: number;
  memoryBytes: number;
  /** Where each figure came from, for the start-up log. */
  source: { cpus: string; memory: string };
}

async function readNumbers(path: string): Promise<string[] | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim().split(/\s+/);
  } catch {
    return undefined;
  }
}

/**
 * The process's cgroup path per hierarchy, from /proc/self/cgroup's `id:controllers:path` lines:
 * keyed by controller for v1 (`cpu`, `memory`), by '' for v2.
 */
function ownCgroups(membership: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of membership.split('\n')) {
    const [, controllers, ...path] = line.split(':');
    if (controllers === undefined || path.length === 0) continue;
    for (const controller of controllers.split(',')) paths.set(controller, path.join(':'));
  }
  return paths;
}

/** `base`, then each directory down to the process's own cgroup under it: a limit at any of them binds it. */
function levels(base: string, path = '/'): { dir: string; at: string }[] {
  const parts = path.split('/').filter(Boolean);
  const below = parts.map((_, i) => {
    const under = parts.slice(0, i + 1).join('/');
    return { dir: join(base, under), at: ` at /${under}` };
  });
  return [{ dir: base, at: '' }, ...below];
}

interface Limit {
  value: number;
  /** Where it was read, for the start-up log. */
  source: string;
}

/** Reads one level's limit, if it sets one; `at` names the level for the source. */
type LevelReader = (dir: string, at: string) => Promise<Limit | undefined>;

/**
 * The tightest limit at any level of the v2 hierarchy, else of v1's `controller` hierarchy (levels
 * absent here, as in a container's own namespace, are skipped).
 */
async function cgroupLimit(root: string, own: Map<string, string>, controller: string, v2: LevelReader, v1: LevelReader) {
  const tightest = async (candidates: { dir: string; at: string }[], read: LevelReader) => {
    const found = await Promise.all(candidates.map(({ dir, at }) => read(dir, at)));
    return found.reduce<Limit | undefined>((best, limit) => (limit && (!best || limit.value < best.value) ? limit : best), undefined);
  };
  return (await tightest(levels(root, own.get('')), v2)) ?? tightest(levels(join(root, controller), own.get(controller)), v1);
}

function cgroupCpus(root: string, own: Map<string, string>) {
  return cgroupLimit(
    root,
    own,
    'cpu',
    async (dir, at) => {
      const max = await readNumbers(join(dir, 'cpu.max'));
      if (!max || max[0] === 'max' || !(Number(max[0]) > 0) || !(Number(max[1]) > 0)) return undefined;
      return { value: Number(max[0]) / Number(max[1]), source: `cgroup cpu.max ${max.join(' ')}${at}` };
    },
    async (dir, at) => {
      const [quota] = (await readNumbers(join(dir, 'cpu.cfs_quota_us'))) ?? [];
      const [period] = (await readNumbers(join(dir, 'cpu.cfs_period_us'))) ?? [];
      if (!(Number(quota) > 0) || !(Number(period) > 0)) return undefined;
      return { value: Number(quota) / Number(period), source: `cgroup cfs quota ${quota}/${period}${at}` };
    },
  );
}

function cgroupMemory(root: string, own: Map<string, string>) {
  const limit =
    (file: string): LevelReader =>
    async (dir, at) => {
      const [value] = (await readNumbers(join(dir, file))) ?? [];
      // v1 reports "no limit" as a huge number (2^63 rounded to pages).
      if (value === undefined || value === 'max' || !(Number(value) > 0) || Number(value) >= 2 ** 60) return undefined;
      return { value: Number(value), source: `cgroup ${file}${at}` };
    };
  return cgroupLimit(root, own, 'memory', limit('memory.max'), limit('memory.limit_in_bytes'));
}

export async function detectCapacity(
  options: { cgroupRoot?: string; membership?: string; machineCpus?: number; availableMemory?: number } = {},
): Promise<Capacity> {
  const root = options.cgroupRoot ?? '/sys/fs/cgroup';
  const own = ownCgroups(options.membership ?? (await readFile('/proc/self/cgroup', 'utf8').catch(() => '')));
  const machineCpus = options.machineCpus ?? availableParallelism();
  // MemAvailable, not the total: memory other processes hold now is not the workers' to plan for.
  const availableMemory = options.availableMemory ?? freemem();
  const quota = await cgroupCpus(root, own);
  const memory = await cgroupMemory(root, own);
  const quotaCpus = quota ? Math.max(1, Math.floor(quota.value)) : Infinity;
  return {
    cpus: Math.min(machineCpus, quotaCpus),
    memoryBytes: Math.min(availableMemory, memory?.value ?? Infinity),
    source: {
      cpus: quotaCpus < machineCpus ? quota!.source : `${machineCpus} CPUs available to the process`,
      memory: memory && memory.value < availableMemory ? memory.source : 'available on the machine',
    },
  };
}

/** Memory an HTTP process needs beside its inference workers (Node, Fastify, tokenizers, parse threads); measured ~150 MB. */
export const PROCESS_BASE_BYTES = 200 * 1024 * 1024;
/** An inference worker's memory per byte of its ONNX files (weights, ORT's prepacked copies, arenas) … */
export const WORKER_BYTES_PER_MODEL_BYTE = 2;
/** … plus its own (a V8 isolate, ORT's session state); 16 MiniLM-L6-sized workers measured ~200 MB each in all. */
export const WORKER_BASE_BYTES = 80 * 1024 * 1024;
/** Part of the memory the defaults may plan for; the rest is left for request buffers and the OS. */
const PLANNABLE_MEMORY = 0.8;
/** CPUs per HTTP process by default: one HTTP thread keeps this many single-thread inference workers fed. */
export const CPUS_PER_HTTP_PROCESS = 4;

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

export interface ServingPlan {
  httpProcesses: number;
  /** Inference workers per model, over all HTTP processes. */
  workersPerModel: number;
  intraOpThreads: number;
  /** Per HTTP process, the memory its model runs may hold at once beyond the weights (see batching/run-memory.ts). */
  runMemoryBytes: number;
  /**
   * Whether ONNX Runtime's memory arena stays on for models taking long inputs: it keeps a worker's
   * largest run's memory for good (faster runs of long inputs), so only when every worker of a
   * process may keep its longest run's within the process's memory for runs.
   */
  keepArena: boolean;
  /** Why the figures are what they are, for the start-up log. */
  reasons: string[];
}

/**
 * The default split: one single-threaded inference worker per CPU and model (several
 * single-thread sessions outrun one multi-threaded session on CPUs; see README), capped so that
 * every worker's copy of the weights fits in memory, shared among one HTTP process per
 * CPUS_PER_HTTP_PROCESS CPUs. Explicit settings win.
 */
export function planServing(
  capacity: Capacity,
  modelBytes: number[],
  explicit: { httpProcesses?: number; workersPerModel?: number; intraOpThreads?: number },
  /**
   * Per loaded model (ids sharing weights count once), what one run of its longest input takes at its peak without
   * ONNX Runtime's arena, and what a worker keeps with it, and how to name it.
   */
  longestRuns: { model: string; tokens: number; peakBytes: number; arenaPeakBytes: number }[] = [],
): ServingPlan {
  const reasons = [`${capacity.cpus} CPUs (${capacity.source.cpus}), ${gib(capacity.memoryBytes)} GiB (${capacity.source.memory})`];
  let intraOpThreads = explicit.intraOpThreads ?? 1;
  let workersPerModel = explicit.workersPerModel ?? Math.max(1, Math.floor(capacity.cpus / intraOpThreads));
  let httpProcesses = explicit.httpProcesses ?? Math.max(1, Math.ceil(capacity.cpus / CPUS_PER_HTTP_PROCESS));
  const perWorkerSet = modelBytes.reduce((sum, bytes) => sum + WORKER_BASE_BYTES + bytes * WORKER_BYTES_PER_MODEL_BYTE, 0);
  if (explicit.workersPerModel === undefined && perWorkerSet > 0) {
    const fitting = Math.max(1, Math.floor((capacity.memoryBytes * PLANNABLE_MEMORY - httpProcesses * PROCESS_BASE_BYTES) / perWorkerSet));
    if (fitting < workersPerModel) {
      // Fewer copies of the weights, each run by more threads, so that every CPU still works: 12 fitting on 16 CPUs
      // would leave 4 idle, 8 of 2 threads use them all (and leave memory for runs).
      if (explicit.intraOpThreads === undefined) intraOpThreads = Math.ceil(capacity.cpus / fitting);
      workersPerModel = Math.min(fitting, Math.max(1, Math.floor(capacity.cpus / intraOpThreads)));
      reasons.push(
        `workers capped at ${workersPerModel} per model by memory, ${intraOpThreads} thread(s) each: each holds ~${(perWorkerSet / 2 ** 20).toFixed(0)} MB of weights for all models`,
      );
    }
  }
  if (httpProcesses > workersPerModel) {
    httpProcesses = workersPerModel;
    reasons.push(`HTTP processes capped at ${httpProcesses}, one per inference worker at most`);
  }
  const runMemoryBytes = Math.max(0, (capacity.memoryBytes * PLANNABLE_MEMORY - httpProcesses * PROCESS_BASE_BYTES - workersPerModel * perWorkerSet) / httpProcesses);
  const workersPerProcess = Math.ceil(workersPerModel / httpProcesses);
  const kept = longestRuns.reduce((sum, { arenaPeakBytes }) => sum + workersPerProcess * arenaPeakBytes, 0);
  const keepArena = kept <= runMemoryBytes;
  if (!keepArena) reasons.push(`ONNX Runtime's memory arena off for models taking long inputs: each worker keeping its longest run's memory would take ~${gib(kept)} GiB per process`);
  for (const { model, tokens, ...peaks } of longestRuns) {
    const peakBytes = keepArena ? peaks.arenaPeakBytes : peaks.peakBytes;
    if (peakBytes <= runMemoryBytes) continue;
    reasons.push(
      `${model}: one input of ${tokens} tokens takes ~${gib(peakBytes)} GiB while it runs, more than the ${gib(runMemoryBytes)} GiB each HTTP process has for runs, ` +
        `so such inputs run one at a time per process (${httpProcesses} at once: ~${gib(httpProcesses * peakBytes)} GiB); lower its max_seq_length or give the server more memory`,
    );
  }
  return { httpProcesses, workersPerModel, intraOpThreads, runMemoryBytes, keepArena, reasons };
}


/** Worker `index` of `total`, split over `processes` as evenly as possible. */
export function workersOfProcess(total: number, processes: number, index: number): number {
  return Math.floor(total / processes) + (index < total % processes ? 1 : 0);
}
