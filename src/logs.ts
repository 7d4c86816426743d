import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

/** Bytes of request lines gathered before they are written, and the longest they wait. */
const ACCESS_LINES_BYTES = 4096;
const ACCESS_LINES_WAIT_MS = 1000;

/**
 * The process's logs on stdout: JSON lines, or with `pretty` readable lines (LOG_FORMAT; by default
 * when stdout is a terminal). JSON lines are written asynchronously (pino flushes them on exit).
 * `log` (startup, draining, errors) is written at once. `accessLog`, a line per request, is written
 * 4 KiB at a time and at least once a second: a write per line cost more CPU than the rest of a
 * small request's logging and metrics together (measured: ~85 µs a request, mostly on libuv's threads).
 * Both go through one stream, so lines never interleave.
 */
export function createLogs(level: string, format: 'json' | 'pretty' = 'json'): { log: Logger; accessLog: Logger } {
  if (format === 'pretty') {
    // For a person at a terminal: one readable line each, written as they come (pino-pretty on this thread).
    const pretty = pinoPretty({ colorize: process.stdout.isTTY === true, translateTime: 'HH:MM:ss.l', ignore: 'hostname', singleLine: true });
    return { log: pino({ level }, pretty), accessLog: pino({ level }, pretty) };
  }
  const stdout = pino.destination({ sync: false, minLength: ACCESS_LINES_BYTES, periodicFlush: ACCESS_LINES_WAIT_MS });
  // flush() does nothing while a write is under way; once it ends, what is left goes out (one listener at a
  // time: a burst of lines must not pile up listeners, which Node warns about past ten).
  let flushOnDrain = false;
  const promptly = {
    write(line: string) {
      stdout.write(line);
      stdout.flush();
      if (flushOnDrain) return;
      flushOnDrain = true;
      stdout.once('drain', () => {
        flushOnDrain = false;
        stdout.flush();
      });
    },
  };
  return { log: pino({ level }, promptly), accessLog: pino({ level }, stdout) };
}
