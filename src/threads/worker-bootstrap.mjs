// Worker threads do not inherit the main thread's TypeScript loader: running from source, each
// worker registers tsx itself before importing its real entry module; the compiled build needs none.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) (await import('tsx/esm/api')).register();
await import(workerData.entry);
