import { writeFloatText } from '../../src/inference/output/float-text.ts';

const floats = new Float32Array(1);
const bits = new Uint32Array(floats.buffer);
const out = new Uint8Array(64);

/** What writeFloatText and JSON.stringify write for the float32 with these bits, when they differ; undefined when they agree. */
export function floatTextMismatch(pattern: number): string | undefined {
  bits[0] = pattern;
  const end = writeFloatText(floats[0]!, out, 0);
  const expected = JSON.stringify(floats[0]);
  let same = end === expected.length;
  for (let index = 0; same && index < end; index++) same = out[index] === expected.charCodeAt(index);
  return same ? undefined : `${pattern.toString(16)}: ${Buffer.from(out.subarray(0, end)).toString('latin1')} (JSON.stringify: ${expected})`;
}
