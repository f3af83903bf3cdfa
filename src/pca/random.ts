/**
 * A small seeded pseudo-random generator for the PCA layer: reservoir
 * sampling and the random start of subspace iteration must be reproducible
 * from a seed, which `Math.random` is not.
 */

/** A seeded stream of pseudo-random numbers. */
export interface Rng {
  /** @returns a uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** @returns a uniform float in the open interval (0, 1), never 0 or 1. */
  nextFloat(): number;
  /** @returns a standard normal deviate (mean 0, variance 1). */
  nextGaussian(): number;
}

/** The largest seed the PCA layer accepts: seeds are unsigned 32-bit integers. */
export const kMaxSeed = 0xffff_ffff;

/**
 * Creates a xoshiro128** generator whose 128-bit state is expanded from a
 * 32-bit seed with splitmix32, so nearby seeds give unrelated streams.
 * @param seed - an integer in [0, 2^32 - 1]; the caller validates it.
 * @returns the generator.
 */
export function createRng(seed: number): Rng {
  let sm = seed >>> 0;
  const splitmix32 = (): number => {
    sm = (sm + 0x9e3779b9) >>> 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix32();
  let s1 = splitmix32();
  let s2 = splitmix32();
  let s3 = splitmix32();
  // xoshiro's all-zero state is a fixed point; splitmix32 cannot produce four zeros in a row, but stay safe.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  let spare: number | undefined;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const nextFloat = (): number => (nextUint32() + 0.5) / 4_294_967_296;
  const nextGaussian = (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    // Box–Muller; nextFloat never returns 0, so the logarithm stays finite.
    const radius = Math.sqrt(-2 * Math.log(nextFloat()));
    const angle = 2 * Math.PI * nextFloat();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { nextUint32, nextFloat, nextGaussian };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * `count` orthonormal rows of length `dims` (count ≤ dims), Gram–Schmidt of Gaussian draws.
 * @param count - rows wanted.
 * @param dims - row length.
 * @param gaussian - a standard normal source.
 * @returns `count × dims` row-major float64 values.
 */
export function randomOrthonormalRows(count: number, dims: number, gaussian: () => number): Float64Array {
  const basis = new Float64Array(count * dims);
  for (let i = 0; i < count; i++) {
    const v = basis.subarray(i * dims, (i + 1) * dims);
    for (let j = 0; j < dims; j++) v[j] = gaussian();
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < i; p++) {
        const u = basis.subarray(p * dims, (p + 1) * dims);
        let dot = 0;
        for (let j = 0; j < dims; j++) dot += v[j]! * u[j]!;
        for (let j = 0; j < dims; j++) v[j]! -= dot * u[j]!;
      }
    }
    let norm = 0;
    for (let j = 0; j < dims; j++) norm += v[j]! * v[j]!;
    norm = Math.sqrt(norm);
    for (let j = 0; j < dims; j++) v[j]! /= norm;
  }
  return basis;
}
