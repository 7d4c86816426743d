import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { errors } from '../errors.ts';
import { trackConnections } from '../http/connections.ts';
import { explainListenError } from '../listen-errors.ts';
import { httpUrl } from './http-url.ts';
import type { MetricsSnapshot } from './messages.ts';

/**
 * A scraper needs one connection; these bound what clients that hold many, or send nothing, can
 * take: the primary's descriptors are also the public port's (the round robin accepts there) and
 * the ones it forks HTTP processes with.
 */
const MAX_CONNECTIONS = 64;
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5000;
const TIMEOUT_CHECK_MS = 1000;

/** Gathers the current metrics of every HTTP process that answers in time (a restarting one is left out). */
export type MetricsGatherer = () => Promise<MetricsSnapshot[]>;

/**
 * The primary's metrics listener: `GET /metrics` answers the metrics of every HTTP process,
 * aggregated, with no key, on a port of its own that the public port does not serve, so a scraper
 * needs no API key and clients see no metrics. Anything else is told where the API is (`apiUrl()`: with PORT=0, known once an HTTP process listens).
 */
export async function listenForMetrics(port: number, host: string, apiUrl: () => string, gather: MetricsGatherer): Promise<{ server: Server; url: string }> {
  const server = createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    (request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        const error = errors.notOnMetricsPort(request.method ?? 'GET', request.url ?? '', apiUrl());
        response.writeHead(error.status, { 'content-type': 'application/json' }).end(JSON.stringify(error.toBody()));
        return;
      }
      gather()
        .then((snapshots) => client.AggregatorRegistry.aggregate(snapshots))
        .then((registry) => Promise.all([registry.metrics(), registry.contentType]))
        .then(
          ([text, contentType]) => response.writeHead(200, { 'content-type': contentType }).end(text),
          (error: Error) => response.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${error.message}\n`),
        );
    },
  );
  // Past the cap a new connection evicts the one idle longest (one still sending its headers counts as idle): a scraper gets in.
  trackConnections(server, MAX_CONNECTIONS);
  await new Promise<void>((resolve, reject) =>
    server.once('error', (error) => reject(explainListenError(error, 'METRICS_PORT', host, port))).listen(port, host, resolve),
  );
  const { port: bound } = server.address() as AddressInfo;
  return { server, url: httpUrl(host, bound) };
}
