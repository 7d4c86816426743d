/** The real server as a child process, as an operator runs it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Resident memory of the whole process (main thread and workers), in MB. */
  rssMb(): Promise<number>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../../src/server.ts', import.meta.url).pathname], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: new URL(url).port, ...env },
    // Default logging, as operators run it: one JSON line per request, read here as a log collector would.
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logTail = '';
  child.stdout!.on('data', (chunk: Buffer) => (logTail = (logTail + chunk.toString()).slice(-2000)));
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
    child,
    async rssMb() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) / 1024;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
