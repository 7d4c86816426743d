import { readFile } from 'node:fs/promises';

/** One line of models.txt: a Hugging Face repo to serve, and how. */
export interface ModelSpec {
  /** What clients send as `model` and what GET /models lists: the alias, else the repo as written. */
  id: string;
  /** Full repo id, `org/name`. */
  repo: string;
  /** Branch, tag or commit; undefined means the Hub's default (main). */
  revision: string | undefined;
  /** Path of the ONNX graph inside the repo. */
  onnxPath: string;
  /** Where the line is, for messages: `models.txt:3`. */
  source: string;
  /** token_ids=: what token-id input means for this model; undefined means the server's TOKEN_IDS. */
  tokenIds: 'openai' | 'model' | undefined;
  /** prompt=: the model's prompt this id applies when a request names none (one side of a retrieval model). */
  promptName: string | undefined;
  /** kind=classifier: a one-label sequence classifier served as a classifier, not as a reranker (its default). */
  kind?: 'classifier';
}

export const DEFAULT_ORG = 'sentence-transformers';
export const DEFAULT_ONNX_PATH = 'onnx/model.onnx';

export class ModelsFileError extends Error {
  override name = 'ModelsFileError';
}

const NAME_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const OPTION_KEYS = ['alias', 'onnx', 'token_ids', 'prompt', 'kind'] as const;
const TOKEN_ID_MEANINGS = ['openai', 'model'] as const;
type OptionKey = (typeof OPTION_KEYS)[number];

function parseRepo(written: string, fail: (what: string) => never): { repo: string; revision: string | undefined } {
  const [name, revision, ...rest] = written.split('@');
  if (rest.length > 0) fail(`"${written}" has more than one "@"`);
  if (revision !== undefined && !REVISION.test(revision)) fail(`"${revision}" is not a valid revision`);
  const parts = name!.split('/');
  if (parts.length > 2 || !parts.every((part) => NAME_PART.test(part) && !part.includes('..'))) {
    fail(`"${name}" is not a Hugging Face repo id (expected "org/name" or "name")`);
  }
  return { repo: parts.length === 2 ? name! : `${DEFAULT_ORG}/${name}`, revision };
}

function parseOptions(words: string[], fail: (what: string) => never): Partial<Record<OptionKey, string>> {
  const options: Partial<Record<OptionKey, string>> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    const key = word.slice(0, eq) as OptionKey;
    const value = word.slice(eq + 1);
    if (eq < 1 || !OPTION_KEYS.includes(key)) {
      fail(`unknown option "${word}" (options are ${OPTION_KEYS.map((k) => `${k}=…`).join(', ')})`);
    }
    if (options[key] !== undefined) fail(`option "${key}" given twice`);
    if (value === '') fail(`option "${key}" has no value`);
    options[key] = value;
  }
  if (options.alias !== undefined && !ALIAS.test(options.alias)) fail(`alias "${options.alias}" has characters not allowed in a model id`);
  const onnx = options.onnx;
  if (onnx !== undefined && (!onnx.endsWith('.onnx') || onnx.startsWith('/') || onnx.split('/').includes('..'))) {
    fail(`onnx "${onnx}" must be a relative path inside the repo ending in .onnx`);
  }
  if (options.token_ids !== undefined && !(TOKEN_ID_MEANINGS as readonly string[]).includes(options.token_ids)) {
    fail(`token_ids "${options.token_ids}" must be one of ${TOKEN_ID_MEANINGS.join(', ')}`);
  }
  if (options.kind !== undefined && options.kind !== 'classifier') fail(`kind "${options.kind}" must be classifier (a one-label sequence classifier is otherwise a reranker)`);
  return options;
}

/** Parses models.txt text; `fileName` only labels error messages. */
export function parseModelsFile(text: string, fileName: string): ModelSpec[] {
  const specs: ModelSpec[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const source = `${fileName}:${index + 1}`;
    const fail = (what: string): never => {
      throw new ModelsFileError(`${source}: ${what}`);
    };
    const words = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return;
    const [written, ...optionWords] = words as [string, ...string[]];
    const { repo, revision } = parseRepo(written, fail);
    const options = parseOptions(optionWords, fail);
    const id = options.alias ?? written.split('@')[0]!;
    const clash = specs.find((spec) => spec.id === id);
    if (clash) fail(`model id "${id}" is already used at ${clash.source}`);
    specs.push({ id, repo, revision, onnxPath: options.onnx ?? DEFAULT_ONNX_PATH, source, tokenIds: options.token_ids as ModelSpec['tokenIds'], promptName: options.prompt, ...(options.kind ? { kind: 'classifier' as const } : {}) });
  });
  if (specs.length === 0) throw new ModelsFileError(`${fileName}: lists no model`);
  refuseTakeovers(specs);
  return specs;
}

/**
 * Clients may name a model by its full repo id or its bare repo name, and an id wins over those
 * names: an alias equal to another repo's name would silently answer that repo's requests with
 * this one's vectors.
 */
function refuseTakeovers(specs: ModelSpec[]) {
  for (const spec of specs) {
    const other = specs.find((candidate) => candidate.repo !== spec.repo && [candidate.repo, candidate.repo.split('/')[1]].includes(spec.id));
    if (other) {
      throw new ModelsFileError(`${spec.source}: model id "${spec.id}" is a name of ${other.repo} (${other.source}), so requests for that repo would get ${spec.repo}'s vectors; choose another alias`);
    }
  }
}

/**
 * The specs grouped by the files they load (a repo's directory and ONNX file): ids of one group
 * (aliases for prompts or token-id meanings) share one loaded model.
 */
export function weightSets(specs: ModelSpec[]): ModelSpec[][] {
  const groups = new Map<string, ModelSpec[]>();
  for (const spec of specs) {
    const key = JSON.stringify([spec.repo, spec.onnxPath]);
    groups.set(key, [...(groups.get(key) ?? []), spec]);
  }
  return [...groups.values()];
}

export async function loadModelsFile(path: string): Promise<ModelSpec[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelsFileError(`cannot read models file ${path}: ${(error as Error).message}`);
  }
  return parseModelsFile(text, path);
}
