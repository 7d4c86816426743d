import type { CancelSignal } from '../cancellation.ts';
import type { EncodedPair } from '../inference/tokenizing/tokenizer.ts';
import { decodeLogits } from './head-output.ts';
import type { ModelRuntime } from './model-runtime.ts';

/** One text, or a text and its pair (NLI: premise and hypothesis), classified together. */
export type ClassifierItem = [text: string] | [text: string, pair: string];

/** A sequence classifier: a model's logits head, a logit per label, for texts and text pairs. */
export class Classifier {
  constructor(
    private readonly runtime: ModelRuntime,
    /** The logits head's index among the model's heads. */
    private readonly head: number,
  ) {}

  /**
   * Each item's logits (in config.json's label order) and tokens, in the items' order. Texts are tokenised as
   * given (not stripped), pairs by the tokenizer's pair template; items over the model's limit are cut (pairs
   * longest first, `direction` choosing the end; single texts at their end) or with `truncate: false` refused
   * (InputTooLongError). They share the model's queue and workers with every other request.
   */
  async classify(items: ClassifierItem[], options: { truncate: boolean; direction?: 'right' | 'left'; signal?: CancelSignal }): Promise<{ logits: Float32Array[]; tokenCounts: number[] }> {
    const { truncate, signal } = options;
    const release = this.runtime.admit(items.length);
    const encoded: EncodedPair[] = new Array(items.length);
    let scored: Promise<Uint8Array[]>;
    try {
      const singles = items.flatMap((item, index) => (item.length === 1 ? [index] : []));
      const texts = await this.runtime.encode({ texts: singles.map((index) => items[index]![0]) }, { signal }, { tokenIds: 'model', promptName: undefined });
      singles.forEach((index, k) => {
        const text = texts.encoded[k]!;
        encoded[index] = { ...text, typeIds: new Int32Array(text.ids.length) };
      });
      // Pairs asked for together reach the tokenizer in one turn (it joins them into one call).
      await Promise.all(
        items.map(async (item, index) => {
          if (item.length === 2) [encoded[index]] = await this.runtime.encodePairs(item[0], [item[1]], options);
        }),
      );
      scored = this.runtime.submitPairs(encoded, this.head, { truncate, signal });
    } finally {
      release();
    }
    return { logits: (await scored).map(decodeLogits), tokenCounts: encoded.map(({ ids }) => ids.length) };
  }
}
