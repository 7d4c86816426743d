// A CPU profile of every thread of a server under load (the HTTP thread, inference workers, tokenizer and parse
// threads), over a window: Node refuses --cpu-prof in NODE_OPTIONS, and a server started by a bench passes
// NODE_OPTIONS on to its processes and threads. Each thread starts profiling PROF_START seconds after it starts, for
// PROF_SECONDS, and writes PROF_DIR/<pid>-<thread id>.cpuprofile (Chrome DevTools opens them; summary.mjs sums them):
//   NODE_OPTIONS="--import ./bench/profile/thread-profiles.mjs" PROF_DIR=/tmp/prof PROF_START=10 PROF_SECONDS=8 npm start
import inspector from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
const dir = process.env.PROF_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  setTimeout(() => {
    session.post('Profiler.start');
    setTimeout(() => {
      session.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(`${dir}/${process.pid}-${threadId}.cpuprofile`, JSON.stringify(result.profile));
      });
    }, Number(process.env.PROF_SECONDS ?? 8) * 1000).unref();
  }, Number(process.env.PROF_START ?? 5) * 1000).unref();
}
