import { UnknownPromptError } from './embedding-errors.ts';
import type { ModelDescription } from './inference/files/model-files.ts';

/** What a request may say about prompts (all optional; OpenAI's clients send none). */
export interface PromptChoice {
  /** A literal prefix, as SentenceTransformer.encode(prompt=…). */
  prompt?: string;
  /** One of the model's prompt names, as encode(prompt_name=…). */
  promptName?: string;
  /** Voyage/Cohere/NVIDIA-style: mapped to the model's prompt for that side. */
  inputType?: InputType;
}

export type InputType = 'query' | 'document';

/** The prompt names each input type maps to, first present wins (e5, bge, gte, nomic, mxbai, arctic… use these). */
export const INPUT_TYPE_PROMPT_NAMES: Record<InputType, string[]> = {
  query: ['query', 'search_query', 'queries', 'q'],
  document: ['document', 'passage', 'search_document', 'corpus', 'documents', 'passages', 'doc'],
};

/** The first of `names` the model has a prompt named, if any. */
export const firstPromptName = (description: ModelDescription, names: readonly string[]): string | undefined =>
  names.find((name) => Object.hasOwn(description.prompts, name));

/**
 * Jina's `task` values and the prompt names that serve each, first present wins: jina-embeddings-v3 names its prompts
 * after the tasks (its LoRA adapters are not run here: only the prompts apply).
 */
export const TASK_PROMPT_NAMES = {
  'retrieval.query': ['retrieval.query', ...INPUT_TYPE_PROMPT_NAMES.query],
  'retrieval.passage': ['retrieval.passage', ...INPUT_TYPE_PROMPT_NAMES.document],
  'text-matching': ['text-matching', 'sts'],
  classification: ['classification'],
  separation: ['separation', 'clustering'],
} as const satisfies Record<string, readonly string[]>;
export type Task = keyof typeof TASK_PROMPT_NAMES;

/** Cohere's `input_type` values and the prompt names that serve each (none present: no prompt, as Cohere requires the field). */
export const COHERE_INPUT_TYPE_PROMPT_NAMES = {
  search_query: INPUT_TYPE_PROMPT_NAMES.query,
  search_document: INPUT_TYPE_PROMPT_NAMES.document,
  classification: ['classification'],
  clustering: ['clustering'],
} as const satisfies Record<string, readonly string[]>;

/**
 * The prompt to prepend, as SentenceTransformer.encode picks it: a literal `prompt`, else the named
 * one (unknown → UnknownPromptError), else the input type's (none matching: as if not given), else
 * the models.txt alias's `prompt=`, else the model's default_prompt_name, else none.
 */
export function choosePrompt(description: ModelDescription, choice: PromptChoice, aliasPromptName?: string): string | undefined {
  const { prompts } = description;
  if (choice.prompt !== undefined) return choice.prompt;
  if (choice.promptName !== undefined) {
    if (!Object.hasOwn(prompts, choice.promptName)) throw new UnknownPromptError(choice.promptName, Object.keys(prompts));
    return prompts[choice.promptName];
  }
  const byType = choice.inputType && INPUT_TYPE_PROMPT_NAMES[choice.inputType].find((name) => Object.hasOwn(prompts, name));
  if (byType) return prompts[byType];
  const name = aliasPromptName ?? description.defaultPromptName;
  return name === undefined ? undefined : prompts[name];
}
