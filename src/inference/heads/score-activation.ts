import type { ScoreActivation } from './head-spec.ts';

/** A cross-encoder's logit as its CrossEncoder.predict returns it for one label. */
export function activate(logit: number, activation: ScoreActivation): number {
  if (activation === 'sigmoid') return 1 / (1 + Math.exp(-logit));
  if (activation === 'tanh') return Math.tanh(logit);
  return logit;
}
