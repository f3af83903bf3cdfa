/**
 * IEEE 754 half precision (binary16) encoding of float32 values, for the
 * full vectors a PCA index keeps for exact reranking. Node 20 has no
 * Float16Array, so values are stored as Uint16 bit patterns: encoding rounds
 * to nearest, ties to even; decoding goes through a 65,536-entry table.
 */

const kScratch = new Float32Array(1);
const kScratchBits = new Uint32Array(kScratch.buffer);

/** The largest finite half-precision value. */
export const kMaxFloat16 = 65504;

/**
 * Encodes one number as a half-precision bit pattern: rounded to nearest,
 * ties to even; values beyond ±65504 become ±Infinity, values below the
 * smallest subnormal (2⁻²⁴ ≈ 6e-8) become ±0, NaN stays NaN.
 * @param value - the number.
 * @returns the 16-bit pattern.
 */
export function toFloat16Bits(value: number): number {
  kScratch[0] = value;
  const bits = kScratchBits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half: the value is m · 2⁻²⁴, so the float's 24-bit significand shifts right by 14 − e.
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

function decodeBits(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Every half-precision bit pattern's value, as float32: decoding is one lookup. */
export const kFloat16Table: Float32Array = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = decodeBits(h);
  return table;
})();

/**
 * Encodes float32 values as half-precision bit patterns.
 * @param source - the values.
 * @param target - receives `source.length` patterns from `offset`.
 * @param offset - where to start writing in `target`.
 * @param scale - every value is multiplied by it first. @default 1
 */
export function encodeFloat16(source: Float32Array, target: Uint16Array, offset = 0, scale = 1): void {
  for (let i = 0; i < source.length; i++) target[offset + i] = toFloat16Bits(source[i]! * scale);
}

/**
 * Decodes half-precision bit patterns to float32.
 * @param source - the patterns.
 * @param target - receives `source.length` values from `offset`.
 * @param offset - where to start writing in `target`.
 * @param scale - every value is multiplied by it. @default 1
 */
export function decodeFloat16(source: Uint16Array, target: Float32Array, offset = 0, scale = 1): void {
  for (let i = 0; i < source.length; i++) target[offset + i] = kFloat16Table[source[i]!]! * scale;
}
