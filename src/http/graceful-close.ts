import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Lets a server close without cutting a response or waiting on idle sockets. Node's own
 * `closeIdleConnections` (which `server.close()` calls) destroys a socket whose response has
 * ended but not yet been flushed, truncating large answers to slow readers; here a socket counts
 * as busy until its response is flushed ('close' after 'finish'). Once draining, every response
 * says `Connection: close` and its socket is ended after the flush; sockets with no request in
 * progress, including ones that never sent any, are closed at once.
 */
export function trackConnections(server: Server): { drain(): void } {
  /** Per socket, the response in progress (undefined while idle). */
  const sockets = new Map<Socket, ServerResponse | undefined>();
  let draining = false;
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (request, response: ServerResponse) => {
    const { socket } = request;
    sockets.set(socket, response);
    if (draining) response.shouldKeepAlive = false;
    response.once('close', () => {
      if (sockets.get(socket) !== response) return;
      sockets.set(socket, undefined);
      if (draining) socket.end();
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
