/**
 * The seeded pseudo-random generators of vecforge, in one place at the
 * bottom of the import graph: xoshiro128** ({@link createRng}) for the PCA
 * layer (reservoir sampling, the fit's random start, a refit's sample), and
 * mulberry32 for the GloVe model's common-component estimate and test and
 * benchmark data. Both must be reproducible from a seed, which
 * `Math.random` is not; each keeps its own algorithm because the numbers
 * they produce are part of saved models and published figures.
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

/** The largest seed: seeds are unsigned 32-bit integers. */
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
 * mulberry32, a small, fast 32-bit PRNG (Tommy Ettinger, public domain).
 * @param seed - a 32-bit seed.
 * @returns a function returning floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
