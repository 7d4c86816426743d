import { HubApiError } from '@huggingface/hub';
import { join } from 'node:path';
import type { DownloadConfig } from '../config.ts';
import type { ModelSpec } from '../models-file.ts';
import { describeModel } from '../inference/files/model-files.ts';
import { externalDataFilesOf } from '../inference/files/onnx-external-data.ts';
import { hubFetch, TransferError } from './hub-fetch.ts';
import { listRepoFiles, type HubAccess } from './listing.ts';
import { MissingOnnxError, planDownload, planExternalData, type PlannedFile, type RepoFile } from './plan.ts';
import type { Progress } from './progress.ts';
import { isComplete, writeVerified } from './verified-file.ts';

/** A download failure with one message that says which repo, which file, and what to do. */
export class DownloadError extends Error {
  override name = 'DownloadError';
}

export interface DownloadSummary {
  fetched: number;
  upToDate: number;
  bytes: number;
}

function explain(error: unknown, spec: ModelSpec, config: DownloadConfig, file?: string): DownloadError {
  const where = `${spec.repo}${spec.revision ? `@${spec.revision}` : ''}${file ? `, file ${file}` : ''} (${spec.source})`;
  if (error instanceof DownloadError) return error;
  if (error instanceof MissingOnnxError) return new DownloadError(`${where}: the repo ${error.message}`);
  if (error instanceof TransferError) return new DownloadError(`${where}: ${error.message}`);
  if (error instanceof HubApiError) {
    if (error.statusCode === 401 || error.statusCode === 403) {
      return new DownloadError(
        `${where}: ${config.endpoint} answered ${error.statusCode}: the repo is gated, private or does not exist. ` +
          (config.token ? 'Check that HF_TOKEN has access to it, and the repo name.' : 'If it exists, set HF_TOKEN to a token with access; otherwise fix the name in models.txt.'),
      );
    }
    if (error.statusCode === 404) {
      return new DownloadError(`${where}: not found on ${config.endpoint}. Check the repo id${spec.revision ? ' and revision' : ''} in models.txt.`);
    }
    return new DownloadError(`${where}: ${config.endpoint} answered ${error.statusCode}: ${error.message}`);
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  // fetch's network failures are TypeErrors with the cause; other TypeErrors (an odd answer) are not the network.
  if ((error instanceof TypeError && cause) || (error as Error).name === 'AbortError' || /no answer within/.test(reason)) {
    return new DownloadError(
      `${where}: cannot reach ${config.endpoint} (${reason}). Check the network, or set HF_ENDPOINT to a reachable mirror; ` +
        'on an air-gapped machine, copy a downloaded artifacts/ directory instead (see README).',
    );
  }
  return new DownloadError(`${where}: ${(error as Error).message}`);
}

async function downloadModel(spec: ModelSpec, config: DownloadConfig, progress: Progress, summary: DownloadSummary) {
  const hub: HubAccess = {
    repo: { type: 'model' as const, name: spec.repo },
    revision: spec.revision,
    hubUrl: config.endpoint,
    accessToken: config.token,
    fetch: hubFetch(config.endpoint, config),
  };
  let listing: RepoFile[];
  let plan;
  try {
    listing = await listRepoFiles(hub);
    plan = planDownload(listing, spec.onnxPath);
  } catch (error) {
    throw explain(error, spec, config);
  }
  const dir = join(config.artifactsDir, spec.repo);
  await fetchPlanned(plan, dir, spec, config, hub, progress, summary);
  // The graph, now on disk, names the files it keeps its weights in.
  let external;
  try {
    external = planExternalData(listing, spec.onnxPath, await externalDataFilesOf(join(dir, spec.onnxPath)));
  } catch (error) {
    throw explain(error, spec, config, spec.onnxPath);
  }
  await fetchPlanned(external, dir, spec, config, hub, progress, summary);
  // What the start would refuse (a prompt= the model lacks, a module it cannot run), said now rather than at the start.
  await describeModel(spec, config.artifactsDir).catch((error: Error) => {
    throw new DownloadError(`${error.message}. The files are downloaded; fix ${spec.source} or choose another model.`);
  });
}

/** The body of one file of the repo (fetch follows the Hub's redirect to its storage, without the token when that is elsewhere). */
async function fileBody(hub: HubAccess, path: string): Promise<ReadableStream<Uint8Array>> {
  const url = `${hub.hubUrl}/${hub.repo.name}/resolve/${encodeURIComponent(hub.revision ?? 'main')}/${path.split('/').map(encodeURIComponent).join('/')}`;
  const response = await hub.fetch(url, { headers: hub.accessToken ? { authorization: `Bearer ${hub.accessToken}` } : {} });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    if (response.status === 404) throw new DownloadError(`${hub.repo.name}: the listing has ${path} but the Hub does not serve it (404)`);
    throw new HubApiError(url, response.status, response.headers.get('x-request-id') ?? undefined, response.statusText || 'no reason given');
  }
  return response.body;
}

async function fetchPlanned(
  plan: PlannedFile[],
  dir: string,
  spec: ModelSpec,
  config: DownloadConfig,
  hub: HubAccess,
  progress: Progress,
  summary: DownloadSummary,
) {
  for (const planned of plan) {
    const target = join(dir, planned.path);
    const label = `${spec.repo}/${planned.path}`;
    if (await isComplete(target, planned)) {
      summary.upToDate++;
      continue;
    }
    const bar = progress.start(label, planned.size);
    try {
      await writeVerified(target, planned, await fileBody(hub, planned.path), (bytes) => {
        summary.bytes += bytes;
        bar.advance(bytes);
      });
      summary.fetched++;
      bar.finish('done');
    } catch (error) {
      bar.finish('failed');
      throw explain(error, spec, config, planned.path);
    }
  }
}

/** Brings every model's serving files into ARTIFACTS_DIR/<org>/<name>/; what is already complete is left alone. */
export async function downloadModels(specs: ModelSpec[], config: DownloadConfig, progress: Progress): Promise<DownloadSummary> {
  const summary: DownloadSummary = { fetched: 0, upToDate: 0, bytes: 0 };
  for (const spec of specs) await downloadModel(spec, config, progress, summary);
  return summary;
}
