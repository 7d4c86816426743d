import type { IncomingMessage } from 'node:http';

/** After refusing a body it has not read, the server goes on reading and discarding it for at most this long … */
export const LINGER_MS = 10_000;
/** … and at most this many bytes more, then closes the connection. */
export const LINGER_BYTES = 256 * 1024 * 1024;

/**
 * Lingering close (as nginx does) for a request answered before its body was read, e.g. a 413:
 * its answer says `Connection: close`, and Node then closes the socket as soon as the answer is
 * written. A client still sending its body gets a reset instead of the answer (Node's fetch: EPIPE;
 * the openai SDK: "Connection error.", and it sent the body again, twice). Here the socket's write
 * side is ended after the answer, and its body read and discarded until it ends, or LINGER_MS or
 * LINGER_BYTES run out; only then is the socket closed.
 */
export function lingerBeforeClosing(request: IncomingMessage) {
  const { socket } = request;
  let discarded = 0;
  let lingering = false;
  let timer: NodeJS.Timeout | undefined;
  const close = () => socket.destroy();
  socket.once('close', () => clearTimeout(timer));
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (lingering && discarded > LINGER_BYTES) close();
  });
  request.resume();
  // What Node calls once a `Connection: close` answer is written.
  socket.destroySoon = () => {
    socket.end();
    if (request.complete) return close();
    lingering = true;
    discarded = 0;
    timer = setTimeout(close, LINGER_MS);
    request.once('end', close);
  };
}
