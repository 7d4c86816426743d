import { posix } from 'node:path';

/** A file in a Hub repo listing (the fields of @huggingface/hub's ListFileEntry this code uses). */
export interface RepoFile {
  type: string;
  path: string;
  size: number;
  /** Git blob sha1 of the file as stored in git (for LFS files: of the pointer). */
  oid?: string;
  lfs?: { oid: string; size: number };
}

/** What must be on disk and how to check it. */
export interface PlannedFile {
  path: string;
  size: number;
  check: { algorithm: 'sha256'; digest: string } | { algorithm: 'git-blob-sha1'; digest: string } | undefined;
}

export class MissingOnnxError extends Error {
  override name = 'MissingOnnxError';
}

export class InvalidNameError extends Error {
  override name = 'InvalidNameError';
}

/** Why `path` is not a plain relative path that stays in the model's folder on every OS, or undefined when it is. */
function unsafePathReason(path: string): string | undefined {
  if (path.includes('\\')) return 'it has a backslash';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) return 'it has a control character';
  if (/^[A-Za-z]:/.test(path)) return 'it names a drive';
  if (path.startsWith('/')) return 'it is absolute';
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) return 'it has an empty, "." or ".." part';
  return undefined;
}

/** Refuses a name that could write outside the model's folder (on Windows too) or garble a terminal; `namedBy` says who gave it. */
export function checkRepoPath(path: string, namedBy = 'the Hub lists a file named'): void {
  const reason = unsafePathReason(path);
  if (reason) throw new InvalidNameError(`${namedBy} ${JSON.stringify(path)}, which is not a plain relative path (${reason}); refusing to write it`);
}

/**
 * Root configs and tokenizer files, module configs such as 1_Pooling/config.json, and a Router's modules' configs and
 * tokenizer files (query_0_SparseStaticEmbedding/…, document_0_MLMTransformer/…: a sparse model's sides).
 */
const CONFIG_FILE = /^(?:[^/]+\.(?:json|txt)|\d+_[^/]+\/config\.json|[a-z]+_\d+_[^/]+\/[^/]+\.(?:json|txt))$/;
/**
 * A module's own weights: sentence-transformers' Dense layers (2_Dense/model.safetensors) run after the graph; a
 * sparse Router's static side (query_0_SparseStaticEmbedding/model.safetensors, query_0_IDF/…) is a weight per token.
 */
const MODULE_WEIGHTS = /^(?:\d+_[^/]+|[a-z]+_\d+_[^/]*(?:Static|IDF)[^/]*)\/model\.safetensors$/;

const planned = (file: RepoFile): PlannedFile => ({
  path: file.path,
  size: file.lfs?.size ?? file.size,
  check: file.lfs ? { algorithm: 'sha256' as const, digest: file.lfs.oid } : file.oid ? { algorithm: 'git-blob-sha1' as const, digest: file.oid } : undefined,
});

/**
 * Picks what serving needs from a repo listing: the configs, tokenizer files, module weights
 * (safetensors), and the chosen ONNX graph, and nothing else (no PyTorch, TensorFlow, OpenVINO or
 * Rust weights, no other ONNX variants). The graph's external-data files are known only from the
 * graph itself: see `planExternalData`.
 */
export function planDownload(files: RepoFile[], onnxPath: string): PlannedFile[] {
  const regular = files.filter((file) => file.type === 'file');
  if (!regular.some((file) => file.path === onnxPath)) {
    const onnxFiles = regular.filter((file) => file.path.endsWith('.onnx')).map((file) => file.path);
    throw new MissingOnnxError(
      `has no ${onnxPath}` +
        (onnxFiles.length > 0 ? `; its ONNX files are: ${onnxFiles.join(', ')} (pick one with onnx=… in models.txt)` : '; it has no ONNX export at all'),
    );
  }
  const chosen = regular.filter((file) => file.path === onnxPath || CONFIG_FILE.test(file.path) || MODULE_WEIGHTS.test(file.path));
  for (const file of chosen) checkRepoPath(file.path);
  return chosen.map(planned);
}

/** The listing's entries for the external-data files the graph names (relative to its folder); one the repo lacks is an error. */
export function planExternalData(files: RepoFile[], onnxPath: string, names: string[]): PlannedFile[] {
  const folder = posix.dirname(onnxPath);
  return names.map((name) => {
    const relative = posix.normalize(name);
    checkRepoPath(relative, `${onnxPath} keeps its weights in a file named`);
    const path = folder === '.' ? relative : `${folder}/${relative}`;
    const file = files.find((entry) => entry.type === 'file' && entry.path === path);
    if (!file) throw new MissingOnnxError(`has no ${path}, which ${onnxPath} keeps its weights in`);
    return planned(file);
  });
}
