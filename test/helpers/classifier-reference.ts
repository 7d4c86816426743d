/**
 * What transformers' text-classification pipeline gives for a generated classifier, computed
 * independently of the server: ids from another build of the Rust tokenizers library (texts as
 * given, pairs cut longest-first), the float64 forward pass, the head on the first token, and the
 * pipeline's default activation in float64.
 */
import rustTokenizers from '@anush008/tokenizers';
import { join } from 'node:path';
import { referenceForward } from './bert-reference.ts';
import type { FixtureModel } from './fixture-model.ts';

export type ReferenceActivation = 'softmax' | 'sigmoid' | 'none';

/** A text's or a pair's ids and token types, cut to `limit` (pairs longest first). */
export async function referenceIds(dir: string, limit: number, text: string, pair?: string): Promise<{ ids: number[]; typeIds: number[] }> {
  const tokenizer = rustTokenizers.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
  tokenizer.disablePadding();
  tokenizer.setTruncation(limit, { strategy: rustTokenizers.TruncationStrategy.LongestFirst });
  const encoding = pair === undefined ? await tokenizer.encode(text) : await tokenizer.encode(text, pair);
  return { ids: encoding.getIds(), typeIds: encoding.getTypeIds() };
}

/** The classifier's logits in float64: tanh(first token · dense + bias) · out + outBias. */
export function referenceLogits(fixture: FixtureModel, ids: number[], typeIds: number[]): number[] {
  const tokens = referenceForward(fixture.weights, ids, false, typeIds);
  const { dense, denseBias, out, outBias } = fixture.classifier!;
  const hidden = Array.from({ length: dense.cols }, (_, o) => {
    let sum = denseBias[o]!;
    for (let i = 0; i < dense.rows; i++) sum += tokens[0]![i]! * dense.data[i * dense.cols + o]!;
    return Math.tanh(sum);
  });
  return Array.from({ length: out.cols }, (_, label) => hidden.reduce((sum, value, i) => sum + value * out.data[i * out.cols + label]!, outBias[label]!));
}

export function referenceActivation(logits: number[], activation: ReferenceActivation): number[] {
  if (activation === 'none') return logits;
  if (activation === 'sigmoid') return logits.map((x) => 1 / (1 + Math.exp(-x)));
  const exps = logits.map((x) => Math.exp(x));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((x) => x / total);
}

/** Scores per label for a text or pair, as the pipeline computes them. */
export async function referenceClassify(fixture: FixtureModel, limit: number, activation: ReferenceActivation, text: string, pair?: string) {
  const { ids, typeIds } = await referenceIds(fixture.dir, limit, text, pair);
  const logits = referenceLogits(fixture, ids, typeIds);
  return { logits, scores: referenceActivation(logits, activation), tokens: ids.length };
}
