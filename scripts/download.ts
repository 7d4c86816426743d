/**
 * `npm run download`: fetches every model in MODELS_FILE from the Hugging Face
 * Hub (or HF_ENDPOINT) into ARTIFACTS_DIR. Safe to re-run: complete files are kept.
 */
import { applyFlags, FlagError } from '../src/cli-flags.ts';
import { loadDownloadConfig } from '../src/config.ts';
import { downloadModels } from '../src/download/download-models.ts';
import { describeModel } from '../src/inference/files/model-files.ts';
import { plainProgress, terminalProgress } from '../src/download/progress.ts';
import { loadModelsFile } from '../src/models-file.ts';

const USAGE = `usage: npm run download
Fetches every model of MODELS_FILE (default ./models.txt) from the Hugging Face Hub into ARTIFACTS_DIR
(default ./artifacts): configs, tokenizer, module weights, the chosen ONNX file and the external-data files
it names; verified; complete files are kept, so it is safe to re-run. Settings (environment variables):
  MODELS_FILE, ARTIFACTS_DIR, HF_ENDPOINT (a mirror), HF_TOKEN (gated or private repos),
  HF_HUB_OFFLINE=1 (fetch nothing, only check the files are there), DOWNLOAD_TIMEOUT_MS, DOWNLOAD_TOTAL_TIMEOUT_MS.
  --models FILE stands for MODELS_FILE.
See README.md, "Model files, downloads and air-gapped use".`;

async function main(): Promise<number> {
  if (applyFlags(process.argv.slice(2), { '--models': 'MODELS_FILE' }, 'npm run download').help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadDownloadConfig();
  const specs = await loadModelsFile(config.modelsFile);
  if (config.offline) {
    // No network allowed: only confirm that what the server needs is already on disk.
    for (const spec of specs) await describeModel(spec, config.artifactsDir);
    console.error(`HF_HUB_OFFLINE is set: nothing fetched; the files of ${specs.length} model(s) are present in ${config.artifactsDir}.`);
    return 0;
  }
  const progress = process.stderr.isTTY ? terminalProgress() : plainProgress();
  try {
    const summary = await downloadModels(specs, config, progress);
    progress.stop();
    console.error(
      `${specs.length} model(s) ready in ${config.artifactsDir}: ${summary.fetched} file(s) fetched ` +
        `(${(summary.bytes / 1e6).toFixed(1)} MB), ${summary.upToDate} already complete.`,
    );
    return 0;
  } finally {
    progress.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error instanceof FlagError ? `error: ${error.message}` : `download failed: ${error.message}`);
    process.exit(1);
  },
);
