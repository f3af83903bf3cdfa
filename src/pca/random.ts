/**
 * Random helpers of the PCA layer, over the seeded generators of
 * src/random.ts.
 */
export { createRng, kMaxSeed, type Rng } from '../random.js';

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
