import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { errors } from '../errors.ts';

/**
 * The primary's metrics listener: `GET /metrics` answers the metrics of every HTTP process,
 * aggregated (prom-client's cluster protocol), with no key, on a port of its own that the
 * public port does not serve, so a scraper needs no API key and clients see no metrics.
 */
export async function listenForMetrics(port: number, host: string): Promise<{ server: Server; url: string }> {
  const aggregator = new client.AggregatorRegistry();
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      const error = errors.routeNotFound(request.method ?? 'GET', request.url ?? '');
      response.writeHead(error.status, { 'content-type': 'application/json' }).end(JSON.stringify(error.toBody()));
      return;
    }
    aggregator.clusterMetrics().then(
      (text) => response.writeHead(200, { 'content-type': aggregator.contentType }).end(text),
      (error: Error) => response.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${error.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}` };
}
