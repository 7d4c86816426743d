import { downloadFile, HubApiError, listFiles } from '@huggingface/hub';
import { join } from 'node:path';
import type { DownloadConfig } from '../config.ts';
import type { ModelSpec } from '../models-file.ts';
import { describeModel } from '../inference/model-files.ts';
import { externalDataFilesOf } from '../inference/onnx-external-data.ts';
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

/** fetch that gives up when the server has not started answering within `timeoutMs` (the body may take longer). */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return async (input, init) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    init?.signal?.addEventListener('abort', () => controller.abort(init.signal!.reason));
    try {
      return await fetch(input, { ...init, signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  };
}

function explain(error: unknown, spec: ModelSpec, config: DownloadConfig, file?: string): DownloadError {
  const where = `${spec.repo}${spec.revision ? `@${spec.revision}` : ''}${file ? `, file ${file}` : ''} (${spec.source})`;
  if (error instanceof DownloadError) return error;
  if (error instanceof MissingOnnxError) return new DownloadError(`${where}: the repo ${error.message}`);
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
  if (error instanceof TypeError || (error as Error).name === 'AbortError' || /no answer within/.test(reason)) {
    return new DownloadError(
      `${where}: cannot reach ${config.endpoint} (${reason}). Check the network, or set HF_ENDPOINT to a reachable mirror; ` +
        'on an air-gapped machine, copy a downloaded artifacts/ directory instead (see README).',
    );
  }
  return new DownloadError(`${where}: ${(error as Error).message}`);
}

/** Where and as whom a model's files are fetched. */
interface HubAccess {
  repo: { type: 'model'; name: string };
  revision: string | undefined;
  hubUrl: string;
  accessToken: string | undefined;
  fetch: typeof fetch;
}

async function downloadModel(spec: ModelSpec, config: DownloadConfig, progress: Progress, summary: DownloadSummary) {
  const hub: HubAccess = {
    repo: { type: 'model' as const, name: spec.repo },
    revision: spec.revision,
    hubUrl: config.endpoint,
    accessToken: config.token,
    fetch: fetchWithTimeout(config.timeoutMs),
  };
  const listing: RepoFile[] = [];
  let plan;
  try {
    for await (const entry of listFiles({ ...hub, recursive: true })) listing.push(entry);
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
      const blob = await downloadFile({ ...hub, path: planned.path });
      if (!blob) throw new DownloadError(`${spec.repo}: the listing has ${planned.path} but the Hub does not serve it`);
      await writeVerified(target, planned, blob.stream(), {
        idleTimeoutMs: config.timeoutMs,
        onBytes: (bytes) => {
          summary.bytes += bytes;
          bar.advance(bytes);
        },
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
