import type { LabelActivation } from '../files/sequence-classifier.ts';

/** A classifier's scores from one row of logits, as transformers' text-classification pipeline computes them. */
export function labelScores(logits: ArrayLike<number>, activation: LabelActivation): number[] {
  const values = Array.from(logits);
  if (activation === 'sigmoid') return values.map((logit) => 1 / (1 + Math.exp(-logit)));
  if (activation === 'none') return values;
  const largest = Math.max(...values);
  const exps = values.map((logit) => Math.exp(logit - largest));
  const total = exps.reduce((sum, value) => sum + value, 0);
  return exps.map((value) => value / total);
}

/** Labels with their scores, highest first; equal scores keep the labels' order (as the pipeline's stable sort). */
export function rankedLabels(scores: number[], labels: string[]): { label: string; score: number }[] {
  return scores.map((score, index) => ({ index, label: labels[index]!, score })).sort((a, b) => b.score - a.score || a.index - b.index).map(({ label, score }) => ({ label, score }));
}
