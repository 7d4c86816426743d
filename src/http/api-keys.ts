import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.ts';

/**
 * Routes anyone may call: liveness and readiness probes (Docker HEALTHCHECK, Kubernetes) carry no
 * key; `/` and the API docs hold no data (the docs list the routes, fields and the served models'
 * ids), and a browser cannot send a key to open them.
 */
const OPEN_ROUTES = new Set(['/', '/health', '/v1/health', '/ready', '/v1/ready']);
const OPEN_PREFIX = '/docs';

/** Whether a path is answered without a key. */
export const isOpenPath = (path: string) => OPEN_ROUTES.has(path) || path === OPEN_PREFIX || path.startsWith(`${OPEN_PREFIX}/`);

const digest = (key: string) => createHash('sha256').update(key).digest();

/**
 * When keys are configured, every route but the probes needs `Authorization: Bearer <key>`.
 * Keys are compared as SHA-256 digests with timingSafeEqual (constant time,
 * equal lengths), and never logged or echoed.
 */
export function requireApiKeys(app: FastifyInstance, keys: readonly string[]) {
  if (keys.length === 0) return;
  const digests = keys.map(digest);
  app.addHook('onRequest', async (request) => {
    if (isOpenPath(request.url.split('?')[0]!)) return;
    const presented = request.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
    const candidate = presented ? digest(presented) : undefined;
    // Compare against every key so the time taken does not reveal which one matched.
    let valid = false;
    for (const known of digests) valid = (candidate !== undefined && timingSafeEqual(candidate, known)) || valid;
    if (!valid) throw errors.invalidApiKey(presented !== undefined);
  });
}
