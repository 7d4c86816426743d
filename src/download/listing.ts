import { listFiles } from '@huggingface/hub';
import { z } from 'zod';
import { observeBody, TransferError } from './hub-fetch.ts';
import type { RepoFile } from './plan.ts';

/** Bounds on a repo's file listing: far above any model repo (a few hundred entries, well under 1 MB), far below what exhausts memory. */
export const MAX_LISTING_ENTRIES = 100_000;
export const MAX_LISTING_BYTES = 32 * 1024 * 1024;
export const MAX_LISTING_PAGES = 1000;

const byteCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** What this code relies on in an entry: a size it can hold a body to, names and hashes as strings. */
const entrySchema = z.object({
  type: z.string(),
  path: z.string(),
  size: byteCount,
  oid: z.string().optional(),
  lfs: z.object({ oid: z.string(), size: byteCount }).optional(),
});

/** Where and as whom a model's files are listed and fetched. */
export interface HubAccess {
  repo: { type: 'model'; name: string };
  revision: string | undefined;
  hubUrl: string;
  accessToken: string | undefined;
  fetch: typeof fetch;
}

/** Every file and folder of the repo, following the listing's pages; a listing that loops or exceeds the bounds is a TransferError. */
export async function listRepoFiles(hub: HubAccess): Promise<RepoFile[]> {
  const pagesRead = new Set<string>();
  let bytes = 0;
  const fetchPage: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (pagesRead.has(url)) throw new TransferError(`its Link: next leads back to a page already read (${url})`);
    if (pagesRead.size === MAX_LISTING_PAGES) throw new TransferError(`more than ${MAX_LISTING_PAGES} pages`);
    pagesRead.add(url);
    return observeBody(await hub.fetch(input, init), (chunk) => {
      bytes += chunk;
      if (bytes > MAX_LISTING_BYTES) throw new TransferError(`larger than ${MAX_LISTING_BYTES / 1024 / 1024} MiB`);
    });
  };
  const files: RepoFile[] = [];
  try {
    for await (const entry of listFiles({ ...hub, fetch: fetchPage, recursive: true })) {
      if (files.length === MAX_LISTING_ENTRIES) throw new TransferError(`more than ${MAX_LISTING_ENTRIES} entries`);
      const checked = entrySchema.safeParse(entry);
      if (!checked.success) {
        const [issue] = checked.error.issues;
        throw new TransferError(`entry ${files.length + 1} is not a file or folder entry (${issue!.path.join('.') || 'the entry'}: ${issue!.message})`);
      }
      files.push(checked.data);
    }
  } catch (error) {
    if (error instanceof TransferError) throw new TransferError(`the file listing: ${error.message}`);
    // A body that is not JSON, or JSON that is not a list (fetch's own TypeErrors, the network's, carry a cause).
    if (error instanceof SyntaxError || (error instanceof TypeError && error.cause === undefined)) {
      throw new TransferError(`the file listing: not a JSON list of entries (${error.message})`);
    }
    throw error;
  }
  return files;
}
