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

/** Root configs and tokenizer files, plus module configs such as 1_Pooling/config.json. */
const CONFIG_FILE = /^(?:[^/]+\.(?:json|txt)|\d+_[^/]+\/config\.json)$/;

/**
 * Picks what serving needs from a repo listing: the configs, tokenizer files,
 * the chosen ONNX graph and its external-data file, and nothing else (no
 * PyTorch, TensorFlow, OpenVINO or Rust weights, no other ONNX variants).
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
  const externalData = new Set([`${onnxPath}_data`, `${onnxPath}.data`, `${posix.dirname(onnxPath)}/${posix.basename(onnxPath, '.onnx')}.onnx_data`]);
  return regular
    .filter((file) => file.path === onnxPath || externalData.has(file.path) || CONFIG_FILE.test(file.path))
    .map((file) => ({
      path: file.path,
      size: file.lfs?.size ?? file.size,
      check: file.lfs
        ? { algorithm: 'sha256' as const, digest: file.lfs.oid }
        : file.oid
          ? { algorithm: 'git-blob-sha1' as const, digest: file.oid }
          : undefined,
    }));
}
