import type { Json } from './config-json.ts';

/** How a classifier's logits become its scores: transformers' text-classification pipeline's `function_to_apply`. */
export type LabelActivation = 'softmax' | 'sigmoid' | 'none';

/** What config.json says about a `…ForSequenceClassification` model's outputs. */
export interface SequenceClassifier {
  /** id2label's names, in the logits' order. */
  labels: string[];
  /** What the pipeline applies by default (see labelActivation). */
  activation: LabelActivation;
}

export function isSequenceClassifier(config: Json): boolean {
  const architectures = Array.isArray(config.architectures) ? (config.architectures as unknown[]) : [];
  return architectures.some((name) => typeof name === 'string' && name.endsWith('ForSequenceClassification'));
}

/**
 * id2label's names in index order, as transformers reads them (id2label wins over num_labels); without
 * either, one label (a cross-encoder's). Its keys must be 0…n-1: a gap would leave a logit unnamed.
 */
function labelNames(config: Json): string[] {
  const id2label = config.id2label;
  if (id2label === undefined || id2label === null) {
    const count = typeof config.num_labels === 'number' && Number.isInteger(config.num_labels) && config.num_labels > 0 ? config.num_labels : 1;
    return Array.from({ length: count }, (_, index) => `LABEL_${index}`);
  }
  if (typeof id2label !== 'object' || Array.isArray(id2label)) throw new Error('config.json\'s id2label is not an object of index → label');
  const entries = Object.entries(id2label as Record<string, unknown>);
  const names: string[] = [];
  for (const [key, name] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || String(index) !== key) {
      throw new Error(`config.json's id2label has the key "${key}"; its keys must be 0…${entries.length - 1}`);
    }
    names[index] = typeof name === 'string' ? name : String(name);
  }
  if (names.length === 0) throw new Error("config.json's id2label is empty");
  return names;
}

/**
 * The pipeline's default `function_to_apply`: none for regression; sigmoid for multi-label
 * classification or one label; softmax otherwise. (TEI applies softmax to every model with more than
 * one label, multi-label ones included; the pipeline's choice is the one models' authors meant.)
 */
export function labelActivation(problemType: unknown, labels: number): LabelActivation {
  if (problemType === 'regression') return 'none';
  if (problemType === 'multi_label_classification' || labels === 1) return 'sigmoid';
  return 'softmax';
}

/** A sequence classifier's labels and default activation, from config.json. */
export function readSequenceClassifier(config: Json): SequenceClassifier {
  const labels = labelNames(config);
  return { labels, activation: labelActivation(config.problem_type, labels.length) };
}
