import { readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * What this process may really use: CPUs and memory, from the cgroup limits a
 * container runs under (v2 `cpu.max`/`memory.max`, v1 CFS quota and
 * `memory.limit_in_bytes`) where they are tighter than the machine. Node 20's
 * availableParallelism() ignores CPU quotas, so a 2-CPU pod on a 64-core node
 * would otherwise start 64 workers.
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

async function cgroupCpus(root: string): Promise<{ cpus: number; source: string } | undefined> {
  const v2 = await readNumbers(join(root, 'cpu.max'));
  if (v2 && v2[0] !== 'max' && Number(v2[0]) > 0 && Number(v2[1]) > 0) {
    return { cpus: Number(v2[0]) / Number(v2[1]), source: `cgroup cpu.max ${v2.join(' ')}` };
  }
  const [quota] = (await readNumbers(join(root, 'cpu', 'cpu.cfs_quota_us'))) ?? [];
  const [period] = (await readNumbers(join(root, 'cpu', 'cpu.cfs_period_us'))) ?? [];
  if (Number(quota) > 0 && Number(period) > 0) return { cpus: Number(quota) / Number(period), source: `cgroup cfs quota ${quota}/${period}` };
  return undefined;
}

async function cgroupMemory(root: string): Promise<{ bytes: number; source: string } | undefined> {
  for (const [file, name] of [['memory.max', 'cgroup memory.max'], ['memory/memory.limit_in_bytes', 'cgroup memory.limit_in_bytes']]) {
    const [value] = (await readNumbers(join(root, file!))) ?? [];
    // v1 reports "no limit" as a huge number (2^63 rounded to pages).
    if (value !== undefined && value !== 'max' && Number(value) > 0 && Number(value) < 2 ** 60) return { bytes: Number(value), source: name! };
  }
  return undefined;
}

export async function detectCapacity(options: { cgroupRoot?: string; machineCpus?: number; machineMemory?: number } = {}): Promise<Capacity> {
  const root = options.cgroupRoot ?? '/sys/fs/cgroup';
  const machineCpus = options.machineCpus ?? availableParallelism();
  const machineMemory = options.machineMemory ?? totalmem();
  const quota = await cgroupCpus(root);
  const memory = await cgroupMemory(root);
  const quotaCpus = quota ? Math.max(1, Math.floor(quota.cpus)) : Infinity;
  return {
    cpus: Math.min(machineCpus, quotaCpus),
    memoryBytes: Math.min(machineMemory, memory?.bytes ?? Infinity),
    source: {
      cpus: quotaCpus < machineCpus ? quota!.source : `${machineCpus} CPUs available to the process`,
      memory: memory && memory.bytes < machineMemory ? memory.source : 'machine memory',
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

export interface ServingPlan {
  httpProcesses: number;
  /** Inference workers per model, over all HTTP processes. */
  workersPerModel: number;
  intraOpThreads: number;
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
): ServingPlan {
  const reasons = [`${capacity.cpus} CPUs (${capacity.source.cpus}), ${(capacity.memoryBytes / 2 ** 30).toFixed(1)} GiB (${capacity.source.memory})`];
  const intraOpThreads = explicit.intraOpThreads ?? 1;
  let workersPerModel = explicit.workersPerModel ?? Math.max(1, Math.floor(capacity.cpus / intraOpThreads));
  let httpProcesses = explicit.httpProcesses ?? Math.max(1, Math.ceil(capacity.cpus / CPUS_PER_HTTP_PROCESS));
  const perWorkerSet = modelBytes.reduce((sum, bytes) => sum + WORKER_BASE_BYTES + bytes * WORKER_BYTES_PER_MODEL_BYTE, 0);
  if (explicit.workersPerModel === undefined && perWorkerSet > 0) {
    const fitting = Math.floor((capacity.memoryBytes * PLANNABLE_MEMORY - httpProcesses * PROCESS_BASE_BYTES) / perWorkerSet);
    if (fitting < workersPerModel) {
      workersPerModel = Math.max(1, fitting);
      reasons.push(
        `workers capped at ${workersPerModel} per model by memory: each holds ~${(perWorkerSet / 2 ** 20).toFixed(0)} MB of weights for all models`,
      );
    }
  }
  if (httpProcesses > workersPerModel) {
    httpProcesses = workersPerModel;
    reasons.push(`HTTP processes capped at ${httpProcesses}, one per inference worker at most`);
  }
  return { httpProcesses, workersPerModel, intraOpThreads, reasons };
}

/** Worker `index` of `total`, split over `processes` as evenly as possible. */
export function workersOfProcess(total: number, processes: number, index: number): number {
  return Math.floor(total / processes) + (index < total % processes ? 1 : 0);
}
