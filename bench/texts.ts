/** Benchmark inputs: texts whose token counts fall in a given range for the model's own tokenizer. */
import type { TextTokenizer } from '../src/inference/tokenizing/tokenizer.ts';

const WORDS = [
  'the', 'quick', 'brown', 'fox', 'jump', 'over', 'lazy', 'dog', 'hello', 'world', 'embed', 'model', 'token', 'text',
  'cat', 'sat', 'on', 'mat', 'server', 'vector', 'search', 'query', 'document', 'a', 'an', 'is', 'of', 'to', 'and',
];

function seeded(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

export interface BenchText {
  text: string;
  tokens: number;
}

/** `count` texts with token counts (special tokens included) spread uniformly over [min, max]. */
export async function makeTexts(tokenizer: TextTokenizer, count: number, min: number, max: number, seed: number): Promise<BenchText[]> {
  const random = seeded(seed);
  const tokens = async (text: string) => (await tokenizer.encode([text]))[0]!.ids.length;
  const texts: BenchText[] = [];
  for (let i = 0; i < count; i++) {
    const target = min + Math.floor(random() * (max - min + 1));
    const words = Array.from({ length: max * 2 }, () => WORDS[Math.floor(random() * WORDS.length)]!);
    // Fewest words reaching the target, by bisection on the real tokenizer.
    let low = 1;
    let high = words.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((await tokens(words.slice(0, middle).join(' '))) >= target) high = middle;
      else low = middle + 1;
    }
    const text = words.slice(0, low).join(' ');
    texts.push({ text, tokens: await tokens(text) });
  }
  return texts;
}
