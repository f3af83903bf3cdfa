/**
 * Vectors whose length float32 arithmetic cannot hold. The native cores
 * normalise cosine vectors in float32 (hnswlib's way): a finite vector with
 * components near 1e38 has a squared norm of Infinity there and became a
 * zero vector, one with components below about 1e-23 a squared norm of 0
 * and a vector far from unit length; every search then scored it wrongly.
 * Here norms are computed in float64, where the squares of float32 values
 * (at most about 1.2e77 each, 65,536 of them) neither overflow nor
 * underflow, so no scaling by the largest component is needed first.
 */
import type { HnswSpace } from './hnsw/core.js';

/** float32's largest finite value. */
const kFloat32Max = 3.4028234663852886e38;
/**
 * Squared norms the native float32 normalisation handles: within this
 * range it neither overflows nor loses the length to underflow.
 */
const kMinSafeSquaredNorm = 1e-30;
const kMaxSafeSquaredNorm = 1e30;
/**
 * The largest squared norm an `l2` or `ip` vector may have: distances
 * between two such vectors (|a - b|² ≤ 4·max, |a·b| ≤ max) stay finite in float32.
 */
const kMaxDistanceSquaredNorm = kFloat32Max / 4;

/**
 * The squared L2 norm, in float64.
 * @param v - a vector.
 * @returns the sum of its squares.
 */
export function squaredNorm(v: Float32Array): number {
  let sum = 0;
  for (let d = 0; d < v.length; d++) sum += v[d]! * v[d]!;
  return sum;
}

/**
 * A vector the core can take for `space`: for `cosine`, the vector itself
 * when float32 normalises it correctly, else a unit-length copy computed in
 * float64 (cosine ignores length, so this changes no score).
 * @param v - a finite vector (not modified).
 * @param space - the index's space.
 * @returns `v` or its unit copy.
 */
export function coreReady(v: Float32Array, space: HnswSpace): Float32Array {
  if (space !== 'cosine') return v;
  const sum = squaredNorm(v);
  if (sum === 0 || (sum >= kMinSafeSquaredNorm && sum <= kMaxSafeSquaredNorm)) return v;
  const out = new Float32Array(v.length);
  const scale = 1 / Math.sqrt(sum);
  for (let d = 0; d < v.length; d++) out[d] = v[d]! * scale;
  return out;
}

/**
 * Why a finite vector cannot be scored in `space`: in `l2` and `ip` a
 * vector whose squared norm is over a quarter of float32's range gives
 * infinite distances (cosine vectors are scaled instead, see {@link coreReady}).
 * @param v - a finite vector.
 * @param space - the index's space.
 * @returns the reason, or null.
 */
export function normProblem(v: Float32Array, space: HnswSpace): string | null {
  if (space === 'cosine') return null;
  const sum = squaredNorm(v);
  if (sum <= kMaxDistanceSquaredNorm) return null;
  return `vector's squared norm ${sum.toExponential(2)} is over ${kMaxDistanceSquaredNorm.toExponential(2)}: its ${space} distances overflow float32; scale the vectors down (or use the cosine space)`;
}
