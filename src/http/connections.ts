import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The HTTP process's connections: a cap that evicts idle ones first, and a drain that never cuts
 * a response.
 *
 * The cap: past `maxConnections`, a new connection closes the idle one least recently used (keep-alive
 * between requests, or never sent one) rather than being refused, so clients that open connections
 * and leave them idle cannot lock everyone out, probes included; only when every connection has a
 * request in progress is the new one closed. (Node's own `maxConnections` refuses the new one.)
 *
 * Half-close: a client that ends its side right behind its request (`nc -N`, some proxies) still
 * gets its answer; one that ends it later has left, and its request is aborted.
 *
 * The drain: Node's `closeIdleConnections` (which `server.close()` calls) destroys a socket whose
 * response has ended but not yet been flushed, truncating large answers to slow readers; here a
 * socket counts as busy until its response is flushed (`closed`, after 'finish'). Once draining,
 * every response says `Connection: close` and its socket is ended after the flush; sockets with no
 * request in progress, including ones that never sent any, are closed at once.
 *
 * Per request this only writes two fields of the connection's record: no listener, no Map entry
 * moved. (Re-inserting a Map entry per request made V8 promote ~2.5 KB a request to the old
 * generation: scavenges took twice as long and a mark-compact followed every few seconds.)
 */
/** How soon after its request arrived a client's end of the stream counts as a half-close rather than as leaving … */
const HALF_CLOSE_WINDOW_MS = 10;
/** … plus the time to receive its body at this rate (bytes per ms). */
const HALF_CLOSE_BODY_BYTES_PER_MS = 100_000;

interface Connection {
  /** The request in progress, or the last one (done once its response is `closed`). */
  response: ServerResponse | undefined;
  /** When its last request arrived, or it opened. */
  lastActive: number;
}

const isIdle = ({ response }: Connection) => !response || response.closed;

export function trackConnections(server: Server, maxConnections = Infinity): { drain(): void } {
  const connections = new Map<Socket, Connection>();
  let draining = false;
  const evictIdlest = (): boolean => {
    let idlest: [Socket, Connection] | undefined;
    for (const entry of connections) if (isIdle(entry[1]) && (!idlest || entry[1].lastActive < idlest[1].lastActive)) idlest = entry;
    if (!idlest) return false;
    connections.delete(idlest[0]);
    idlest[0].destroy();
    return true;
  };
  // The server allows half-open sockets (see app.ts). The client's end of the stream right behind its request is a
  // half-close: answered. Later, or before its request is whole, it is a client that gave up (an SDK's timeout,
  // Ctrl-C): its request is aborted, and its queued work dropped, as Node would do. One listener per connection:
  // listeners per request cost ~5% of a small request's HTTP-thread time.
  const clientEnded = (socket: Socket) => {
    const connection = connections.get(socket);
    if (!connection || isIdle(connection)) return;
    const { req: request } = connection.response!;
    const allowance = HALF_CLOSE_WINDOW_MS + (Number(request.headers['content-length']) || 0) / HALF_CLOSE_BODY_BYTES_PER_MS;
    if (!request.complete || performance.now() - connection.lastActive > allowance) socket.destroy();
  };
  server.on('connection', (socket: Socket) => {
    if (connections.size >= maxConnections && !evictIdlest()) return void socket.destroy();
    connections.set(socket, { response: undefined, lastActive: performance.now() });
    socket.on('end', () => clientEnded(socket));
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (request, response: ServerResponse) => {
    const connection = connections.get(request.socket);
    if (!connection) return; // evicted meanwhile
    connection.response = response;
    connection.lastActive = performance.now();
    // Node ends the socket once this response is flushed.
    if (draining) response.shouldKeepAlive = false;
  });
  server.closeIdleConnections = () => {
    for (const [socket, connection] of connections) if (isIdle(connection)) socket.destroy();
  };
  return {
    drain() {
      draining = true;
      for (const [socket, connection] of connections) {
        const { response } = connection;
        if (!response || isIdle(connection)) continue;
        if (!response.headersSent) response.shouldKeepAlive = false;
        else response.once('close', () => socket.end());
      }
      server.closeIdleConnections();
    },
  };
}
