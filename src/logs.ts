import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

/** Bytes of request lines gathered before they are written, and the longest they wait. */
const ACCESS_LINES_BYTES = 4096;
const ACCESS_LINES_WAIT_MS = 1000;

/**
 * The process's logs on stdout: JSON lines, or with `pretty` readable lines (LOG_FORMAT; by default
 * when stdout is a terminal). JSON lines are written asynchronously. `log` (startup, draining,
 * errors) is written at once. `accessLog`, a line per request, is written 4 KiB at a time and at
 * least once a second: a write per line cost more CPU than the rest of a small request's logging
 * and metrics together (measured: ~85 µs a request, mostly on libuv's threads). Its lines are
 * gathered here and handed to the stream joined: appended one by one, the stream re-measured its
 * growing buffer on every line (Buffer.byteLength flattens it), copying ~3 KB a request. A `log`
 * line first hands over the access lines before it, so lines keep their order; what is gathered
 * is written on exit.
 */
export function createLogs(level: string, format: 'json' | 'pretty' = 'json'): { log: Logger; accessLog: Logger } {
  if (format === 'pretty') {
    // For a person at a terminal: one readable line each, written as they come (pino-pretty on this thread).
    const pretty = pinoPretty({ colorize: process.stdout.isTTY === true, translateTime: 'HH:MM:ss.l', ignore: 'hostname', singleLine: true });
    return { log: pino({ level }, pretty), accessLog: pino({ level }, pretty) };
  }
  const stdout = pino.destination({ sync: false, minLength: 0 });
  let gathered: string[] = [];
  let gatheredBytes = 0;
  const handOver = () => {
    if (gathered.length === 0) return;
    stdout.write(gathered.join(''));
    gathered = [];
    gatheredBytes = 0;
  };
  setInterval(handOver, ACCESS_LINES_WAIT_MS).unref();
  process.once('exit', () => {
    handOver();
    stdout.flushSync();
  });
  const accessLines = {
    write(line: string) {
      gathered.push(line);
      gatheredBytes += line.length;
      if (gatheredBytes >= ACCESS_LINES_BYTES) handOver();
    },
  };
  const promptly = {
    write(line: string) {
      handOver();
      stdout.write(line);
    },
  };
  return { log: pino({ level }, promptly), accessLog: pino({ level }, accessLines) };
}
