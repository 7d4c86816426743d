import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The HTTP process's connections: a cap that evicts idle ones first, and a drain that never cuts
 * a response.
 *
 * The cap: past `maxConnections`, a new connection closes the one idle longest (keep-alive between
 * requests, or never sent one) rather than being refused, so clients that open connections and
 * leave them idle cannot lock everyone out, probes included; only when every connection has a
 * request in progress is the new one closed. (Node's own `maxConnections` refuses the new one.)
 *
 * Half-close: a client that ends its side right behind its request (`nc -N`, some proxies) still
 * gets its answer; one that ends it later has left, and its request is aborted.
 *
 * The drain: Node's `closeIdleConnections` (which `server.close()` calls) destroys a socket whose
 * response has ended but not yet been flushed, truncating large answers to slow readers; here a
 * socket counts as busy until its response is flushed ('close' after 'finish'). Once draining,
 * every response says `Connection: close` and its socket is ended after the flush; sockets with no
 * request in progress, including ones that never sent any, are closed at once.
 */
/** How soon after its request arrived a client's end of the stream counts as a half-close rather than as leaving … */
const HALF_CLOSE_WINDOW_MS = 10;
/** … plus the time to receive its body at this rate (bytes per ms). */
const HALF_CLOSE_BODY_BYTES_PER_MS = 100_000;

export function trackConnections(server: Server, maxConnections = Infinity): { drain(): void } {
  /** Per socket, the response in progress (undefined while idle); idle ones in the order they became idle. */
  const sockets = new Map<Socket, ServerResponse | undefined>();
  let draining = false;
  const evictIdlest = (): boolean => {
    for (const [socket, response] of sockets) {
      if (response) continue;
      sockets.delete(socket);
      socket.destroy();
      return true;
    }
    return false;
  };
  /** When each socket's request in progress arrived. */
  const arrived = new Map<Socket, number>();
  // The server allows half-open sockets (see app.ts). The client's end of the stream right behind its request is a
  // half-close: answered. Later, or before its request is whole, it is a client that gave up (an SDK's timeout,
  // Ctrl-C): its request is aborted, and its queued work dropped, as Node would do. One listener per connection:
  // listeners per request cost ~5% of a small request's HTTP-thread time.
  const clientEnded = (socket: Socket) => {
    const response = sockets.get(socket);
    if (!response) return;
    const { req: request } = response;
    const allowance = HALF_CLOSE_WINDOW_MS + (Number(request.headers['content-length']) || 0) / HALF_CLOSE_BODY_BYTES_PER_MS;
    if (!request.complete || performance.now() - arrived.get(socket)! > allowance) socket.destroy();
  };
  server.on('connection', (socket: Socket) => {
    if (sockets.size >= maxConnections && !evictIdlest()) return void socket.destroy();
    sockets.set(socket, undefined);
    socket.on('end', () => clientEnded(socket));
    socket.once('close', () => {
      sockets.delete(socket);
      arrived.delete(socket);
    });
  });
  server.on('request', (request, response: ServerResponse) => {
    const { socket } = request;
    if (!sockets.has(socket)) return; // evicted meanwhile
    sockets.set(socket, response);
    arrived.set(socket, performance.now());
    if (draining) response.shouldKeepAlive = false;
    response.once('close', () => {
      if (sockets.get(socket) !== response) return;
      // Idle again: to the back of the line.
      sockets.delete(socket);
      if (draining || socket.destroyed) return void socket.end();
      sockets.set(socket, undefined);
    });
  });
  server.closeIdleConnections = () => {
    for (const [socket, response] of sockets) if (!response) socket.destroy();
  };
  return {
    drain() {
      draining = true;
      for (const response of sockets.values()) if (response && !response.headersSent) response.shouldKeepAlive = false;
      server.closeIdleConnections();
    },
  };
}
