/** The real server as a child process, as an operator runs it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { processCpuSeconds, threadCpuSeconds } from './thread-cpu.ts';

export interface ServerProcess {
  url: string;
  /** The metrics listener's /metrics (METRICS_PORT). */
  metricsUrl: string;
  /** What the process printed first (its start-up lines). */
  startupLog(): string;
  child: ChildProcess;
  /** The HTTP processes' ids (the primary's children). */
  httpPids(): Promise<number[]>;
  /** Resident memory of the whole process tree (primary, HTTP processes, their threads), in MB. */
  rssMb(): Promise<number>;
  /** CPU seconds run so far by the tree's processes: their main threads (the HTTP threads), and all their other threads. */
  cpuSeconds(): Promise<{ mainThreads: number; otherThreads: number }>;
  /** CPU seconds run so far by the HTTP processes' main threads (the HTTP threads) alone: not the primary's, not their workers'. */
  httpThreadCpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The process and its descendants (the cluster's HTTP processes). */
async function processTree(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const nested = await Promise.all(children.trim().split(/\s+/).filter(Boolean).map((child) => processTree(Number(child))));
  return [pid, ...nested.flat()];
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
}

/** Starts `entry` (the server, unless a bench substitutes its floor) on free ports and waits until /ready answers 200. */
export async function startServer(env: Record<string, string>, entry = new URL('../../src/server.ts', import.meta.url).pathname): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const metricsPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: new URL(url).port, METRICS_PORT: String(metricsPort), ...env },
    // Default logging, as operators run it: one JSON line per request, read here as a log collector would.
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logTail = '';
  let logHead = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    logTail = (logTail + chunk.toString()).slice(-2000);
    if (logHead.length < 16_000) logHead += chunk.toString();
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`the server exited before it was ready:\n${logTail}`);
    const status = await fetch(`${url}/ready`).then((response) => response.status, () => 0);
    if (status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    startupLog: () => logHead,
    child,
    async httpPids() {
      return (await processTree(child.pid!)).slice(1);
    },
    async rssMb() {
      return (await processTree(child.pid!)).reduce(async (sum, pid) => (await sum) + (await rssOf(pid)), Promise.resolve(0));
    },
    async cpuSeconds() {
      const perProcess = await Promise.all((await processTree(child.pid!)).map(processCpuSeconds));
      return {
        mainThreads: perProcess.reduce((sum, cpu) => sum + cpu.mainThread, 0),
        otherThreads: perProcess.reduce((sum, cpu) => sum + cpu.otherThreads, 0),
      };
    },
    async httpThreadCpuSeconds() {
      const pids = (await processTree(child.pid!)).slice(1);
      return (await Promise.all(pids.map((pid) => threadCpuSeconds(pid, String(pid))))).reduce((sum, seconds) => sum + seconds, 0);
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
