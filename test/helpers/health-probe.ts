/** Probes a server's /health from a process of its own, so the waits it sees are the server's, not this test's. */
import { spawn } from 'node:child_process';

export interface ProbeResult {
  /** The longest a /health request took, in ms. */
  maxMs: number;
  answered: number;
  failed: number;
}

const SCRIPT = `
const url = process.argv[1];
let maxMs = 0, answered = 0, failed = 0, running = true;
process.on('message', () => { running = false; });
(async () => {
  while (running) {
    const started = performance.now();
    const ok = await fetch(url).then((response) => response.status === 200, () => false);
    maxMs = Math.max(maxMs, performance.now() - started);
    ok ? answered++ : failed++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  process.send({ maxMs, answered, failed }, () => process.exit(0));
})();
`;

/** Starts probing `${baseUrl}/health` about every 10 ms; `stop()` ends it and says what it saw. */
export async function probeHealth(baseUrl: string): Promise<{ stop(): Promise<ProbeResult> }> {
  const child = spawn(process.execPath, ['-e', SCRIPT, `${baseUrl}/health`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = new Promise<ProbeResult>((resolve, reject) => {
    child.once('message', (message) => resolve(message as ProbeResult));
    child.once('exit', (code) => reject(new Error(`the probe exited with code ${code}`)));
  });
  result.catch(() => undefined);
  // Its first answer: it is up and the connection is warm.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    stop() {
      child.send('stop');
      return result;
    },
  };
}
