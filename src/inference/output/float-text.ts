/**
 * A float32 value as JSON number text, written as ASCII bytes: exactly what `JSON.stringify` writes
 * for it (the shortest decimal that reads back as the same double, the closest such when there are
 * several, ties to even). V8's own printing was ~40% of an inference worker's time on cheap models;
 * this does the common case (2^-19 ≤ |x| < 2^20) with exact integer arithmetic on doubles in about
 * a third of the time (a 384-float vector: 14 µs against 46), and hands everything else to
 * `JSON.stringify`. Checked against it on all 2^32 float32 bit patterns (bench/float-text-check.ts;
 * the tests check two million).
 */

/** The most bytes one value takes: "-0.000001" and 17 digits, or V8's exponent forms. */
export const MAX_FLOAT_TEXT_BYTES = 26;

const floatView = new Float32Array(1);
const bitsView = new Uint32Array(floatView.buffer);

/** 10^j split into its top 29 significant bits and the rest: a float32 (24 bits) times either is exact. */
const TENS_HIGH = new Float64Array(23);
const TENS_LOW = new Float64Array(23);
for (let j = 0; j <= 22; j++) {
  const ten = 10 ** j; // exact up to 10^22
  const unit = 2 ** (Math.floor(Math.log2(ten)) - 28);
  TENS_HIGH[j] = Math.floor(ten / unit) * unit;
  TENS_LOW[j] = ten - TENS_HIGH[j]!;
}
const TENS = Float64Array.from({ length: 23 }, (_, j) => 10 ** j);
const TENTHS = Float64Array.from({ length: 9 }, (_, t) => 10 ** -t);
const TWOS = Float64Array.from({ length: 128 }, (_, index) => 2 ** (index - 127));

/** Per float32 exponent field: the decimal exponent where its binade starts, and where the next decade starts inside it (else Infinity). */
const DECADE = new Int32Array(256);
const NEXT_DECADE = new Float64Array(256);
for (let field = 1; field < 255; field++) {
  const low = 2 ** (field - 127);
  let exponent = Math.floor(Math.log10(low));
  if (10 ** exponent > low) exponent -= 1;
  if (10 ** (exponent + 1) <= low) exponent += 1;
  DECADE[field] = exponent;
  NEXT_DECADE[field] = 10 ** (exponent + 1) < low * 2 ? 10 ** (exponent + 1) : Infinity;
}

/** The four ASCII digits of 0000–9999 as one little-endian word: digits go out four bytes a store (a fifth faster than pairs). */
const DIGIT_QUADS = new Uint32Array(10000);
for (let quad = 0; quad < 10000; quad++) {
  const digits = String(quad).padStart(4, '0');
  DIGIT_QUADS[quad] = digits.charCodeAt(0) | (digits.charCodeAt(1) << 8) | (digits.charCodeAt(2) << 16) | (digits.charCodeAt(3) << 24);
}
/** A view of the last output buffer, for the four-byte stores. */
let viewed: Uint8Array | undefined;
let view: DataView = new DataView(new ArrayBuffer(0));

const ZERO = 48;
const POINT = 46;
const MINUS = 45;

/** Writes `value`'s JSON text at `at` (room for MAX_FLOAT_TEXT_BYTES needed) and returns where it ends. */
export function writeFloatText(value: number, out: Uint8Array, at: number): number {
  if (out !== viewed) {
    viewed = out;
    view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  }
  floatView[0] = value;
  const bits = bitsView[0]!;
  const field = (bits >>> 23) & 0xff;
  // Outside the range, or a power of two (its lower neighbour is nearer than its upper one): V8 prints it.
  if (field < 127 - 19 || field >= 127 + 20 || (bits & 0x7fffff) === 0) return writeAscii(JSON.stringify(floatView[0]), out, at);
  const magnitude = Math.abs(floatView[0]!);
  const binaryExponent = field - 150; // magnitude = 24-bit integer × 2^binaryExponent

  // scaled = magnitude × 10^(16 - decimal), in [1e16, 1e17): high × 1e8 + low exactly, with low < 1e8 and its fraction.
  let decimal = magnitude >= NEXT_DECADE[field]! ? DECADE[field]! + 1 : DECADE[field]!;
  let high = 0;
  let low = 0;
  for (;;) {
    const scale = 16 - decimal;
    const major = magnitude * TENS_HIGH[scale]!;
    const minor = magnitude * TENS_LOW[scale]!;
    high = Math.floor((major + minor) / 1e8);
    // major - high × 1e8 is exact (the two are within a factor of 2), and the sum fits in 53 bits: it has at most 20 fraction bits here.
    low = major - high * 1e8 + minor;
    if (low < 0) {
      high -= 1;
      low += 1e8;
    } else if (low >= 1e8) {
      high += 1;
      low -= 1e8;
    }
    if (high < 1e8) decimal -= 1;
    else if (high >= 1e9) decimal += 1;
    else break;
  }
  const lowDigits = Math.floor(low);
  const fraction = low - lowDigits;
  // Half the gap to the neighbouring doubles, in the same units: any decimal that close reads back as this value.
  const halfGap = TWOS[binaryExponent - 30 + 127]! * TENS[16 - decimal]!;

  // Drop trailing digits while the nearest shorter decimal still reads back as this value.
  let dropped = 0;
  while (dropped < 8) {
    const unit = TENS[dropped + 1]!;
    const below = lowDigits - Math.floor((lowDigits + 0.5) * TENTHS[dropped + 1]!) * unit + fraction;
    if (Math.min(below, unit - below) > halfGap) break;
    dropped++;
  }
  if (dropped === 8) return writeAscii(JSON.stringify(floatView[0]), out, at); // 9 digits or fewer: rare, V8's
  const unit = TENS[dropped]!;
  let kept = Math.floor((lowDigits + 0.5) * TENTHS[dropped]!);
  const below = lowDigits - kept * unit + fraction;
  if (unit - below < below || (unit - below === below && (kept & 1) === 1)) kept += 1;
  // Rounding up to 10^(8 - dropped) would end in zeros, so one more digit would have dropped: it never gets here.

  if (bits >>> 31 === 1) out[at++] = MINUS;
  if (decimal < 0) {
    out[at++] = ZERO;
    out[at++] = POINT;
    for (let zeros = -decimal - 1; zeros > 0; zeros--) out[at++] = ZERO;
    writeNineDigits(high, out, at);
    at += 9;
  } else {
    // The point goes after the first decimal + 1 digits.
    writeNineDigits(high, out, at + 1);
    for (let digit = 0; digit <= decimal; digit++) out[at + digit] = out[at + digit + 1]!;
    out[at + decimal + 1] = POINT;
    at += 10;
  }
  writeEightDigits(kept * unit, at); // the kept digits, then ones past the end that the next value overwrites
  return at + 8 - dropped;
}

function writeAscii(text: string, out: Uint8Array, at: number): number {
  for (let index = 0; index < text.length; index++) out[at + index] = text.charCodeAt(index);
  return at + text.length;
}

// Each quad from the number itself, not a chain of divisions: for n < 2^31, (n + 0.5) × 10^-k floors exactly.
function writeNineDigits(value: number, out: Uint8Array, at: number) {
  const half = value + 0.5;
  const top = (half * 1e-8) | 0;
  const upTo5 = (half * 1e-4) | 0;
  out[at] = ZERO + top;
  view.setUint32(at + 1, DIGIT_QUADS[upTo5 - top * 10000]!, true);
  view.setUint32(at + 5, DIGIT_QUADS[value - upTo5 * 10000]!, true);
}

function writeEightDigits(value: number, at: number) {
  const upTo4 = ((value + 0.5) * 1e-4) | 0;
  view.setUint32(at, DIGIT_QUADS[upTo4]!, true);
  view.setUint32(at + 4, DIGIT_QUADS[value - upTo4 * 10000]!, true);
}
