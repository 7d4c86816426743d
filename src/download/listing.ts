import { listFiles } from '@huggingface/hub';
import { observeBody, TransferError } from './hub-fetch.ts';
import type { RepoFile } from './plan.ts';

/** Bounds on a repo's file listing: far above any model repo (a few hundred entries, well under 1 MB), far below what exhausts memory. */
export const MAX_LISTING_ENTRIES = 100_000;
export const MAX_LISTING_BYTES = 32 * 1024 * 1024;
export const MAX_LISTING_PAGES = 1000;

export interface ListingAccess {
  repo: { type: 'model'; name: string };
  revision: string | undefined;
  hubUrl: string;
  accessToken: string | undefined;
  fetch: typeof fetch;
}

/** Every file and folder of the repo, following the listing's pages; a listing that loops or exceeds the bounds is a TransferError. */
export async function listRepoFiles(hub: ListingAccess): Promise<RepoFile[]> {
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
      files.push(entry);
    }
  } catch (error) {
    if (error instanceof TransferError) throw new TransferError(`the file listing: ${error.message}`);
    throw error;
  }
  return files;
}
