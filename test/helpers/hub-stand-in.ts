/**
 * A local HTTP server that answers like the Hugging Face Hub's API and resolve
 * endpoints, for the parts @huggingface/hub uses: the tree listing and file
 * downloads (with the Range probe), gated and missing repos; and, on request,
 * like a hostile Hub (see `HubHostility`).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Ways a Hub can misbehave; `''` stands for the listing (the first page), any other path for that file's full GET. */
export interface HubHostility {
  /** Full GETs of these files never end: the real content, then zeros, forever (the listing keeps the real size). */
  endless?: string[];
  /** These bodies send their headers, then nothing. */
  stall?: string[];
  /** These bodies arrive `bytes` at a time, one piece every `everyMs`. */
  drip?: { paths: string[]; bytes: number; everyMs: number };
  /** Full GETs of these files answer this status (the Range probe still succeeds). */
  failGet?: Record<string, number>;
  /** Every page of the listing carries `Link: <next>; rel="next"` (its own URL: a loop; another origin: a leak test). */
  nextLink?: string;
  /** The listing carries `count` more entries after the real ones (paths of about `pathBytes`), streamed. */
  extraEntries?: { count: number; pathBytes: number };
  /** Probes that accept xet file info get it, with xet links to this origin. */
  xetOrigin?: string;
  /** Full GETs of files answer 302 to the same path at this origin (as the Hub sends downloads to its storage). */
  redirectFilesTo?: string;
}

export interface HubRepo {
  files: Record<string, Uint8Array | string>;
  /** Paths served as LFS files (listing carries lfs.oid = sha256). */
  lfs?: string[];
  /** Requires `Authorization: Bearer <token>`. */
  token?: string;
  hostile?: HubHostility;
}

export interface HubStandIn {
  url: string;
  /** Full-content GETs per `repo/path` (not the 1-byte Range probes). */
  downloads: Map<string, number>;
  /** Every request path, in order. */
  requests: string[];
  /** The paths of the requests that carried an Authorization header, in order. */
  authorized: string[];
  close(): Promise<void>;
}

const gitBlobSha1 = (content: Buffer) => createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');

/** Sends `data` a piece at a time; stops when the client goes away. */
function drip(response: ServerResponse, data: Buffer, bytes: number, everyMs: number) {
  let sent = 0;
  const timer = setInterval(() => {
    if (response.destroyed) return clearInterval(timer);
    response.write(data.subarray(sent, sent + bytes));
    sent += bytes;
    if (sent >= data.length) {
      clearInterval(timer);
      response.end();
    }
  }, everyMs);
  response.on('close', () => clearInterval(timer));
}

/** Writes `content`, then zeros until the client goes away. */
function endless(response: ServerResponse, content: Buffer) {
  const zeros = Buffer.alloc(64 * 1024);
  response.write(content);
  const more = () => {
    while (!response.destroyed && response.write(zeros));
  };
  response.on('drain', more);
  more();
}

/** Sends a body as the hostility for `path` says (all of it at once when it says nothing). */
function send(response: ServerResponse, hostile: HubHostility, path: string, status: number, headers: Record<string, string>, body: Buffer) {
  if (hostile.stall?.includes(path)) {
    response.writeHead(status, headers);
    return response.flushHeaders();
  }
  if (hostile.drip?.paths.includes(path)) {
    response.writeHead(status, headers);
    return drip(response, body, hostile.drip.bytes, hostile.drip.everyMs);
  }
  response.writeHead(status, { ...headers, 'content-length': String(body.length) });
  response.end(body);
}

export async function startHubStandIn(repos: Record<string, HubRepo>): Promise<HubStandIn> {
  const downloads = new Map<string, number>();
  const requests: string[] = [];
  const authorized: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url!, 'http://hub');
    requests.push(url.pathname);
    if (request.headers.authorization !== undefined) authorized.push(url.pathname);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    const tree = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/);
    const resolve = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    const repoId = decodeURIComponent((tree ?? resolve)?.[1] ?? '');
    const repo = repos[repoId];
    if (!repo) return json(401, { error: 'Repository Not Found' }, { 'x-error-code': 'RepoNotFound' });
    if (repo.token && request.headers.authorization !== `Bearer ${repo.token}`) {
      return json(401, { error: 'Access to this repo is restricted.' }, { 'x-error-code': 'GatedRepo' });
    }
    const hostile = repo.hostile ?? {};
    const content = (path: string) => Buffer.from(repo.files[path]!);
    if (tree) {
      const directories = new Set(Object.keys(repo.files).flatMap((path) => path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
      const entries = [
        ...[...directories].map((path) => ({ type: 'directory', path, size: 0, oid: 'd'.repeat(40) })),
        ...Object.keys(repo.files).map((path) => {
          const data = content(path);
          return repo.lfs?.includes(path)
            ? { type: 'file', path, size: 134, oid: 'f'.repeat(40), lfs: { oid: createHash('sha256').update(data).digest('hex'), size: data.length, pointerSize: 134 } }
            : { type: 'file', path, size: data.length, oid: gitBlobSha1(data) };
        }),
      ];
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(hostile.nextLink && { link: `<${hostile.nextLink}>; rel="next"` }) };
      if (hostile.extraEntries) return streamListing(response, headers, entries, hostile.extraEntries);
      return send(response, hostile, '', 200, headers, Buffer.from(JSON.stringify(entries)));
    }
    if (resolve) {
      const path = decodeURIComponent(resolve[3]!);
      if (!(path in repo.files)) return json(404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
      const data = content(path);
      const range = request.headers.range?.match(/^bytes=(\d+)-(\d+)$/);
      const headers: Record<string, string> = { etag: `"${gitBlobSha1(data)}"`, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
      if (hostile.xetOrigin && request.headers.accept?.includes('application/vnd.xet-fileinfo+json')) {
        const links = `<${hostile.xetOrigin}/reconstruction/${path}>; rel="xet-reconstruction-info", <${hostile.xetOrigin}/xet-auth>; rel="xet-auth"`;
        response.writeHead(200, { ...headers, 'content-type': 'application/vnd.xet-fileinfo+json', 'x-linked-size': String(data.length), 'x-xet-hash': 'a'.repeat(64), link: links });
        return response.end('{}');
      }
      if (range) {
        const [start, end] = [Number(range[1]), Math.min(Number(range[2]), data.length - 1)];
        response.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${data.length}` });
        return response.end(data.subarray(start, end + 1));
      }
      if (hostile.redirectFilesTo) {
        response.writeHead(302, { location: `${hostile.redirectFilesTo}${url.pathname}` });
        return response.end();
      }
      downloads.set(`${repoId}/${path}`, (downloads.get(`${repoId}/${path}`) ?? 0) + 1);
      const failure = hostile.failGet?.[path];
      if (failure) return json(failure, { error: 'Internal Error' });
      if (hostile.endless?.includes(path)) {
        response.writeHead(200, headers);
        return endless(response, data);
      }
      return send(response, hostile, path, 200, headers, data);
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    downloads,
    requests,
    authorized,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The listing's entries, then `extra.count` more, written as the client reads them. */
function streamListing(response: ServerResponse, headers: Record<string, string>, entries: object[], extra: { count: number; pathBytes: number }) {
  response.writeHead(200, headers);
  response.write(`[${entries.map((entry) => JSON.stringify(entry)).join(',')}`);
  const padding = 'x'.repeat(extra.pathBytes);
  let written = 0;
  const more = () => {
    while (!response.destroyed && written < extra.count) {
      const count = Math.min(1000, extra.count - written);
      const chunk = Array.from({ length: count }, (_, i) => `,{"type":"file","path":"extra/${padding}${written + i}.bin","size":1}`).join('');
      written += count;
      if (!response.write(chunk)) return;
    }
    response.off('drain', more);
    if (!response.destroyed) response.end(']');
  };
  response.on('drain', more);
  more();
}
