import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Every setting the server reads, from environment variables, validated once.
 * The README's configuration table documents the same names and defaults.
 * A variable that is set must hold a valid value: an empty one is refused rather than read as 0 or
 * as unset (`PORT=''` would otherwise listen on a random port).
 */

/** The longest delay Node's timers take; a larger one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A whole number from `min` to `max`, written in decimal digits. */
const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*\d+\s*$/, { error: `expected a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(z.number().min(min, { error: `expected a whole number from ${min} to ${max}` }).max(max, { error: `expected a whole number from ${min} to ${max}` }));

const count = (fallback: number) => integer(1, Number.MAX_SAFE_INTEGER).default(fallback);
const optionalCount = integer(1, Number.MAX_SAFE_INTEGER).optional();
/** Milliseconds for a timer: at most what Node's timers can wait. */
const milliseconds = (fallback: number) => integer(1, MAX_TIMER_MS).default(fallback);
const port = integer(0, 65535);

/** A host name or IP address to listen on: a port belongs in PORT, not here. */
const host = z
  .string()
  .min(1, { error: 'expected a host name or IP address' })
  .refine((value) => isIP(value) !== 0 || /^[A-Za-z0-9.-]+$/.test(value), {
    error: 'expected a host name or IP address (0.0.0.0 for every IPv4 address, :: for every address), without a port or scheme: the port goes in PORT',
  });

/** A multi-vector answer's values at most: 16 MiB of float32 (e.g. 109 documents of 300 tokens × 128). */
export const DEFAULT_MAX_MULTI_VECTOR_VALUES = 4 * 1024 * 1024;

export const serverEnvSchema = z.object({
  PORT: port.default(8000),
  HOST: host.default('127.0.0.1'),
  MODELS_FILE: z.string().min(1).default('./models.txt'),
  ARTIFACTS_DIR: z.string().min(1).default('./artifacts'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  BODY_LIMIT: count(20 * 1024 * 1024),
  // Unset: planned from the CPUs and memory the process may use (see capacity.ts).
  INFERENCE_WORKERS: optionalCount,
  INTRA_OP_THREADS: optionalCount,
  HTTP_PROCESSES: optionalCount,
  METRICS_PORT: port.optional(),
  MAX_BATCH_TOKENS: count(2048),
  MAX_BATCH_SIZE: count(32),
  MAX_QUEUED_INPUTS: count(8192),
  MAX_REQUEST_TOKENS: count(300_000),
  MAX_RERANK_DOCUMENTS: count(1000),
  MAX_MULTI_VECTOR_VALUES: count(DEFAULT_MAX_MULTI_VECTOR_VALUES),
  TRUNCATE: z.enum(['true', 'false']).default('true'),
  TOKEN_IDS: z.enum(['openai', 'model']).default('openai'),
  API_KEYS: z.string().optional(),
  API_KEYS_FILE: z.string().min(1, { error: 'expected the path of a file of keys' }).optional(),
  CORS_ORIGINS: z.string().optional(),
  REQUEST_TIMEOUT_MS: milliseconds(60_000),
  HEADERS_TIMEOUT_MS: milliseconds(10_000),
  BODY_TIMEOUT_MS: milliseconds(30_000),
  MAX_CONNECTIONS: count(4096),
  DRAIN_TIMEOUT_MS: milliseconds(30_000),
});

export type ServerEnv = z.infer<typeof serverEnvSchema>;
export type TokenIdMeaning = ServerEnv['TOKEN_IDS'];

export interface ServerConfig {
  port: number;
  host: string;
  modelsFile: string;
  artifactsDir: string;
  logLevel: ServerEnv['LOG_LEVEL'];
  /** JSON lines, or readable lines for a terminal (the default when stdout is one). */
  logFormat: 'json' | 'pretty';
  bodyLimit: number;
  /** Explicit settings; what is unset is planned at start (capacity.ts). */
  serving: { httpProcesses?: number; workersPerModel?: number; intraOpThreads?: number };
  /** Where Prometheus metrics of all HTTP processes are served, open; none when undefined. */
  metricsPort: number | undefined;
  batching: { maxBatchTokens: number; maxBatchSize: number; maxQueued: number };
  limits: { truncate: boolean; maxRequestTokens: number; requestTimeoutMs: number; maxRerankDocuments: number; maxMultiVectorValues: number };
  /** What token-id input means unless models.txt says otherwise: OpenAI's cl100k_base ids, or the model's own. */
  tokenIds: TokenIdMeaning;
  connections: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number };
  /** Accepted API keys; empty means no key is needed. Never log this. */
  apiKeys: string[];
  /** Origins allowed by CORS; empty means CORS is off. */
  corsOrigins: string[];
  drainTimeoutMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Settings whose values must never be printed. */
const SECRETS = new Set(['API_KEYS', 'HF_TOKEN']);

function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '');
      const given = env[name];
      const shown = given === undefined || SECRETS.has(name) ? name : `${name}=${JSON.stringify(given)}`;
      return `${shown}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

const list = (text: string | undefined, separator: RegExp) =>
  (text ?? '')
    .split(separator)
    .map((item) => item.trim())
    .filter((item) => item !== '');

/**
 * API_KEYS (comma-separated, every item a key) and API_KEYS_FILE (a key a line; `#` starts a
 * comment line there only). A setting that is present but yields no key stops the start: an
 * operator who set one meant the API to be closed, and an empty or mistyped value must not open it.
 */
function readApiKeys(inline: string | undefined, file: string | undefined): string[] {
  const keys = list(inline, /,/);
  if (inline !== undefined && keys.length === 0) throw new ConfigError('invalid configuration: API_KEYS is set but holds no key');
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`invalid configuration: API_KEYS_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
    }
    const fromFile = list(text, /\r?\n/).filter((line) => !line.startsWith('#'));
    if (fromFile.length === 0) throw new ConfigError(`invalid configuration: API_KEYS_FILE ${file} holds no key`);
    keys.push(...fromFile);
  }
  return keys;
}

export function loadServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const e = parseEnv(serverEnvSchema, env);
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    modelsFile: e.MODELS_FILE,
    artifactsDir: e.ARTIFACTS_DIR,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    bodyLimit: e.BODY_LIMIT,
    serving: { httpProcesses: e.HTTP_PROCESSES, workersPerModel: e.INFERENCE_WORKERS, intraOpThreads: e.INTRA_OP_THREADS },
    metricsPort: e.METRICS_PORT,
    batching: { maxBatchTokens: e.MAX_BATCH_TOKENS, maxBatchSize: e.MAX_BATCH_SIZE, maxQueued: e.MAX_QUEUED_INPUTS },
    limits: { truncate: e.TRUNCATE === 'true', maxRequestTokens: e.MAX_REQUEST_TOKENS, requestTimeoutMs: e.REQUEST_TIMEOUT_MS, maxRerankDocuments: e.MAX_RERANK_DOCUMENTS, maxMultiVectorValues: e.MAX_MULTI_VECTOR_VALUES },
    tokenIds: e.TOKEN_IDS,
    connections: { headersTimeoutMs: e.HEADERS_TIMEOUT_MS, requestTimeoutMs: e.BODY_TIMEOUT_MS, maxConnections: e.MAX_CONNECTIONS },
    apiKeys: readApiKeys(e.API_KEYS, e.API_KEYS_FILE),
    corsOrigins: list(e.CORS_ORIGINS, /,/),
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
  });
}

export const downloadEnvSchema = z.object({
  MODELS_FILE: serverEnvSchema.shape.MODELS_FILE,
  ARTIFACTS_DIR: serverEnvSchema.shape.ARTIFACTS_DIR,
  HF_ENDPOINT: z.url().default('https://huggingface.co').transform((url) => url.replace(/\/+$/, '')),
  HF_TOKEN: z.string().min(1).optional(),
  HF_HUB_OFFLINE: z.string().optional(),
  DOWNLOAD_TIMEOUT_MS: milliseconds(10000),
  DOWNLOAD_TOTAL_TIMEOUT_MS: milliseconds(2 * 60 * 60 * 1000),
});

export interface DownloadConfig {
  modelsFile: string;
  artifactsDir: string;
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  /** How long a request may wait for the server to start answering, and the longest stretch in which a body may bring under 64 KiB. */
  timeoutMs: number;
  /** The longest one request (a listing page, a file) may take, body included. */
  totalTimeoutMs: number;
}

export function loadDownloadConfig(env: NodeJS.ProcessEnv = process.env): DownloadConfig {
  const e = parseEnv(downloadEnvSchema, env);
  return Object.freeze({
    modelsFile: e.MODELS_FILE,
    artifactsDir: e.ARTIFACTS_DIR,
    endpoint: e.HF_ENDPOINT,
    token: e.HF_TOKEN,
    offline: ['1', 'true', 'yes', 'on'].includes((e.HF_HUB_OFFLINE ?? '').toLowerCase()),
    timeoutMs: e.DOWNLOAD_TIMEOUT_MS,
    totalTimeoutMs: e.DOWNLOAD_TOTAL_TIMEOUT_MS,
  });
}
