/**
 * A local HTTP server that answers like the Hugging Face Hub's API and resolve
 * endpoints, for the parts @huggingface/hub uses: the tree listing and file
 * downloads (with the Range probe), gated and missing repos.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepo {
  files: Record<string, Uint8Array | string>;
  /** Paths served as LFS files (listing carries lfs.oid = sha256). */
  lfs?: string[];
  /** Requires `Authorization: Bearer <token>`. */
  token?: string;
}

export interface HubStandIn {
  url: string;
  /** Full-content GETs per `repo/path` (not the 1-byte Range probes). */
  downloads: Map<string, number>;
  /** Every request path, in order. */
  requests: string[];
  close(): Promise<void>;
}

const gitBlobSha1 = (content: Buffer) => createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');

export async function startHubStandIn(repos: Record<string, HubRepo>): Promise<HubStandIn> {
  const downloads = new Map<string, number>();
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url!, 'http://hub');
    requests.push(url.pathname);
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
    const content = (path: string) => Buffer.from(repo.files[path]!);
    if (tree) {
      const directories = new Set(Object.keys(repo.files).flatMap((path) => path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
      return json(200, [
        ...[...directories].map((path) => ({ type: 'directory', path, size: 0, oid: 'd'.repeat(40) })),
        ...Object.keys(repo.files).map((path) => {
          const data = content(path);
          return repo.lfs?.includes(path)
            ? { type: 'file', path, size: 134, oid: 'f'.repeat(40), lfs: { oid: createHash('sha256').update(data).digest('hex'), size: data.length, pointerSize: 134 } }
            : { type: 'file', path, size: data.length, oid: gitBlobSha1(data) };
        }),
      ]);
    }
    if (resolve) {
      const path = decodeURIComponent(resolve[3]!);
      if (!(path in repo.files)) return json(404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
      const data = content(path);
      const range = request.headers.range?.match(/^bytes=(\d+)-(\d+)$/);
      const headers = { etag: `"${gitBlobSha1(data)}"`, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
      if (range) {
        const [start, end] = [Number(range[1]), Math.min(Number(range[2]), data.length - 1)];
        response.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${data.length}` });
        return response.end(data.subarray(start, end + 1));
      }
      downloads.set(`${repoId}/${path}`, (downloads.get(`${repoId}/${path}`) ?? 0) + 1);
      response.writeHead(200, { ...headers, 'content-length': String(data.length) });
      return response.end(data);
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    downloads,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
