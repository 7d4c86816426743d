// Worker threads do not inherit the main thread's TypeScript loader, so each
// worker registers tsx itself before importing its real entry module.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
