import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errors, type ApiError } from '../errors.ts';

/** What Node's HTTP parser refuses before any route runs, as the catalogue's errors. */
function fromParserError(code: string | undefined): ApiError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return errors.clientError(408, 'The request was not received in time.', 'request_timeout');
  if (code === 'HPE_HEADER_OVERFLOW') return errors.clientError(431, 'The request line or headers are larger than the server accepts.', 'headers_too_large');
  return errors.clientError(400, 'The request is not valid HTTP/1.1.', 'invalid_http_request');
}

/**
 * Fastify's clientErrorHandler: answers what the parser refuses (a too-large URL or headers,
 * Content-Length with Transfer-Encoding, a request not received within the timeout) in
 * OpenAI's error shape instead of Fastify's, then closes the socket.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError = fromParserError(error.code);
  const body = JSON.stringify(apiError.toBody());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
