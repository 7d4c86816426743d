/** CPU time by thread, from the scheduler's account (Linux): unlike wall time, it does not grow when the machine is busy. */
import { readdir, readFile } from 'node:fs/promises';

/** Seconds a thread has run on a CPU (0 once it is gone). */
export async function threadCpuSeconds(pid: number, tid: number | string): Promise<number> {
  const schedstat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0');
  return Number(schedstat.split(' ')[0]) / 1e9;
}

/** Seconds run by a process's main thread (for a Node process, its event loop's) and by all its other threads. */
export async function processCpuSeconds(pid: number) {
  const threads = await readdir(`/proc/${pid}/task`).catch(() => []);
  const seconds = await Promise.all(threads.map(async (tid) => ({ main: tid === String(pid), seconds: await threadCpuSeconds(pid, tid) })));
  const sum = (main: boolean) => seconds.filter((thread) => thread.main === main).reduce((total, thread) => total + thread.seconds, 0);
  return { mainThread: sum(true), otherThreads: sum(false) };
}
