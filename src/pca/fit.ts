/**
 * Fits a PCA model on a sample of vectors.
 *
 * Method: the mean and the total variance are computed in float64; the
 * covariance C = Xcᵀ·Xc / (n - 1) is accumulated with TF.js matmuls over row
 * chunks of the centred sample (bounded memory), scaled by its largest
 * magnitude so float32 neither overflows nor underflows; the top components come
 * from randomized subspace iteration on C (block power iteration from a
 * seeded Gaussian start, re-orthonormalised every step by Cholesky-QR,
 * twice on the last step, falling back to block Gram–Schmidt when the
 * block is too ill-conditioned for that, as the first step from a random
 * start usually is),
 * then one Rayleigh–Ritz step: the (k+p)² matrix QᵀCQ is diagonalised by
 * Jacobi rotations in float64, which yields accurate components and
 * eigenvalues.
 *
 * Degenerate data (constant data, or rank below `components`): the fit
 * never fails and never returns NaN. A component whose variance is at most
 * 1e-6 of the total variance (below what float32 data resolves), or every
 * component when the total variance is 0, is replaced by a deterministic
 * unit vector: the next standard basis vector e₀, e₁, … Gram–Schmidt
 * orthonormalised against the components before it. Its explained variance
 * is reported as exactly 0. Components stay orthonormal either way.
 *
 * Sign convention: each component is flipped so that its entry of largest
 * magnitude is positive, so fits are comparable across runs and methods.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { AbortError, throwIfAborted } from '../errors.js';
import type { Tf } from '../tensor/backend.js';
import { choleskyQrInverseFactor, jacobiEigen, orthonormalizeColumns } from './linalg.js';
import type { PcaModel } from './model.js';
import { createRng, kMaxSeed } from './random.js';
import { checkInteger, checkSignal, describe } from './validate.js';

type Tensor2D = ReturnType<Tf['tensor2d']>;

/** Options of {@link fitPca}. */
export interface FitPcaOptions {
  /** Output dims: the number of principal components to keep; an integer in [1, dims - 1]. Required. */
  readonly components: number;
  /**
   * Power iterations of the subspace iteration; an integer in [1, 1000].
   * More iterations sharpen the trailing components.
   * @default 16
   */
  readonly iterations?: number;
  /**
   * Extra basis vectors carried beside the `components` wanted (the block
   * has min(components + oversample, dims) columns); an integer in
   * [0, 10000]. Convergence of component i goes as
   * (λ_{components+oversample+1} / λ_i)^iterations, so a wider block
   * converges faster; the default keeps that rate about the same for any
   * number of components on spectra that decay like a power law.
   * @default max(16, ⌈components / 4⌉), see {@link defaultOversample}
   */
  readonly oversample?: number;
  /**
   * Seed of the random start block; an integer in [0, 4294967295].
   * @default 0x5eed (fits are reproducible unless a seed is chosen)
   */
  readonly seed?: number;
  /** Cancels the fit; checked first and between steps. */
  readonly signal?: AbortSignal;
}

/** The defaults of the optional {@link FitPcaOptions}. */
export const kDefaultFitPcaOptions = Object.freeze({
  iterations: 16,
  seed: 0x5eed,
});

/**
 * The default {@link FitPcaOptions.oversample} for a number of components.
 * @param components - the number of components wanted.
 * @returns max(16, ⌈components / 4⌉).
 */
export function defaultOversample(components: number): number {
  return Math.max(16, Math.ceil(components / 4));
}

/** {@link FitPcaOptions} with every default applied and checked. */
export interface ResolvedFitPcaOptions {
  readonly components: number;
  readonly iterations: number;
  readonly oversample: number;
  readonly seed: number;
  readonly signal: AbortSignal | undefined;
}

/** The widest input {@link fitPca} accepts: the d × d covariance must fit in memory. */
export const kMaxPcaFitDims = 8192;

/** Largest number of sample values one covariance chunk uploads to TF.js (16 MiB of float32). */
const kChunkValues = 1 << 22;
/**
 * The covariance is computed in column blocks of about this width, upper
 * triangle only (C is symmetric): b(b+1)/2 of b² block products, which
 * saves a third of the flops at 1536 dims and tends to half for wider ones.
 */
const kCovarianceBlockDims = 512;
/** Columns per panel of the block Gram–Schmidt fallback: projections run as TF.js matmuls a panel at a time. */
const kPanelWidth = 32;
/** Scaled Cholesky pivots below this mean Cholesky-QR cannot trust a float32 Gram matrix. */
const kCholeskyPivotTolerance = 1e-5;
/** A Gram–Schmidt residual below this fraction counts as linear dependence in float32 data. */
const kDependenceTolerance = 1e-5;
/** Variances at most this fraction of the total are below float32 resolution and count as 0. */
const kNegligibleVarianceRatio = 1e-6;
/** The largest finite float32. */
const kMaxFloat32 = 3.4028234663852886e38;

/**
 * Resolves {@link FitPcaOptions} against the input dims.
 * @param options - the caller's options.
 * @param dims - the input dims, already checked.
 * @returns the resolved options.
 * @throws {TypeError} when an option has the wrong type.
 * @throws {RangeError} when an option is out of range, or `components` is not smaller than `dims`.
 */
export function resolveFitPcaOptions(options: FitPcaOptions, dims: number): ResolvedFitPcaOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object with options.components, got ${describe(options)}`);
  }
  const components = checkInteger('options.components', options.components, 1, kMaxPcaFitDims);
  if (components >= dims) {
    throw new RangeError(`PCA target dims must be smaller than the input dims: options.components is ${components}, the input has ${dims} dims`);
  }
  return Object.freeze({
    components,
    iterations: checkInteger('options.iterations', options.iterations ?? kDefaultFitPcaOptions.iterations, 1, 1000),
    oversample: checkInteger('options.oversample', options.oversample ?? defaultOversample(components), 0, 10_000),
    seed: checkInteger('options.seed', options.seed ?? kDefaultFitPcaOptions.seed, 0, kMaxSeed),
    signal: checkSignal('options.signal', options.signal),
  });
}

/**
 * Fits a PCA model: the mean and the top `options.components` principal
 * axes of a sample, with their variances. See the top of this file for the
 * method, the degenerate-data policy and the sign convention.
 * @param sample - row-major sample rows, `n × dims` finite values, n ≥ max(2, components).
 * @param dims - values per row; an integer in [2, 8192].
 * @param options - the number of components and the iteration settings.
 * @param tf - TF.js, from `loadTf`.
 * @returns the model; `fittedOn` is n.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {RangeError} when `dims` or an option is out of range, when
 *   `options.components` is not smaller than `dims` ("PCA target dims must
 *   be smaller than the input dims"), when the sample has fewer rows than
 *   `options.components` or fewer than 2, or holds a non-finite value, or
 *   its variance exceeds the float32 range (values beyond about ±1e19).
 * @throws {AbortError} when `options.signal` aborts.
 */
export async function fitPca(sample: Float32Array, dims: number, options: FitPcaOptions, tf: Tf): Promise<PcaModel> {
  checkInteger('dims', dims, 2, kMaxPcaFitDims);
  const resolved = resolveFitPcaOptions(options, dims);
  if (!(sample instanceof Float32Array)) {
    throw new TypeError(`sample must be a Float32Array of row-major rows, got ${describe(sample)}`);
  }
  if (sample.length % dims !== 0) {
    throw new RangeError(`sample.length must be a multiple of dims (${dims}), got ${sample.length}`);
  }
  if (typeof tf !== 'object' || tf === null || typeof tf.matMul !== 'function') {
    throw new TypeError(`tf must be the TF.js module returned by loadTf, got ${describe(tf)}`);
  }
  const { components } = resolved;
  const rows = sample.length / dims;
  if (rows < components) {
    throw new RangeError(`the PCA sample has ${rows} rows, fewer than options.components (${components})`);
  }
  if (rows < 2) throw new RangeError(`the PCA sample needs at least 2 rows, got ${rows}`);
  throwIfAborted(resolved.signal);

  const mean = sampleMean(sample, rows, dims);
  const scale = centredMagnitude(sample, rows, dims, mean);
  const covariance = await covarianceMatrix(tf, sample, rows, dims, mean, scale, resolved.signal);
  try {
    const totalVariance = trace(covariance.diagonal);
    const { vectors, values } = await topEigenpairs(tf, covariance.matrix, dims, resolved);
    // The matrix held C / scale²; the float64 diagonal was not scaled.
    for (let i = 0; i < values.length; i++) values[i]! *= scale * scale;
    if (values[0]! > kMaxFloat32) {
      throw new RangeError(`the PCA sample's variance ${values[0]} exceeds the float32 range of a model`);
    }
    return finishModel(vectors, values, totalVariance, mean, rows, dims, components);
  } finally {
    covariance.matrix.dispose();
  }
}

/** The column means in float64, checking every value is finite. */
function sampleMean(sample: Float32Array, rows: number, dims: number): Float64Array {
  const sum = new Float64Array(dims);
  for (let r = 0; r < rows; r++) {
    const base = r * dims;
    for (let c = 0; c < dims; c++) sum[c]! += sample[base + c]!;
  }
  for (let c = 0; c < dims; c++) {
    if (!Number.isFinite(sum[c])) {
      for (let r = 0; r < rows; r++) {
        const value = sample[r * dims + c]!;
        if (!Number.isFinite(value)) {
          throw new RangeError(`the PCA sample must hold finite values, got ${value} at row ${r}, column ${c}`);
        }
      }
    }
    sum[c]! /= rows;
  }
  return sum;
}

/** max |x - mean| over the sample, or 1 when the sample is constant: the covariance scale. */
function centredMagnitude(sample: Float32Array, rows: number, dims: number, mean: Float64Array): number {
  let largest = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * dims;
    for (let c = 0; c < dims; c++) largest = Math.max(largest, Math.abs(sample[base + c]! - mean[c]!));
  }
  return largest > 0 ? largest : 1;
}

function trace(diagonal: Float64Array): number {
  let sum = 0;
  for (const value of diagonal) sum += value;
  return sum;
}

/**
 * C / scale² = (Xc / scale)ᵀ·(Xc / scale) / (n - 1), summed over row chunks
 * on TF.js, upper block triangle only, then mirrored and symmetrised.
 * Centred values divided by their largest magnitude lie in [-1, 1], so the
 * float32 products cannot overflow, nor underflow for tiny data. The
 * diagonal of C itself (the per-dim variances) is summed in float64 on the
 * side, exact enough to judge which eigenvalues are negligible.
 */
async function covarianceMatrix(
  tf: Tf,
  sample: Float32Array,
  rows: number,
  dims: number,
  mean: Float64Array,
  scale: number,
  signal: AbortSignal | undefined,
): Promise<{ matrix: Tensor2D; diagonal: Float64Array }> {
  const inverseScale = 1 / scale;
  const chunkRows = Math.max(1, Math.floor(kChunkValues / dims));
  const centred = new Float32Array(Math.min(rows, chunkRows) * dims);
  const diagonal = new Float64Array(dims);
  const blockCount = Math.ceil(dims / kCovarianceBlockDims);
  const blockDims = Math.ceil(dims / blockCount);
  const blocks = Array.from({ length: blockCount }, (_, b) => ({ start: b * blockDims, size: Math.min(blockDims, dims - b * blockDims) }));
  // sums[i * blockCount + j], j >= i: Σ over chunks of Xc[:, block i]ᵀ · Xc[:, block j].
  const sums: (Tensor2D | undefined)[] = new Array<Tensor2D | undefined>(blockCount * blockCount).fill(undefined);
  try {
    for (let start = 0; start < rows; start += chunkRows) {
      await checkpoint(signal);
      const count = Math.min(chunkRows, rows - start);
      for (let r = 0; r < count; r++) {
        const from = (start + r) * dims;
        const to = r * dims;
        for (let c = 0; c < dims; c++) {
          const value = sample[from + c]! - mean[c]!;
          centred[to + c] = value * inverseScale;
          diagonal[c]! += value * value;
        }
      }
      tf.tidy(() => {
        const x = tf.tensor2d(centred.subarray(0, count * dims), [count, dims]);
        // Materialised transposes: matMul's transposeA flag is ~20x slower on the wasm backend.
        const xt = tf.transpose(x);
        const left = blocks.map((b) => (blockCount === 1 ? xt : tf.slice(xt, [b.start, 0], [b.size, count])));
        const right = blocks.map((b) => (blockCount === 1 ? x : tf.slice(x, [0, b.start], [count, b.size])));
        for (let i = 0; i < blockCount; i++) {
          for (let j = i; j < blockCount; j++) {
            const product = tf.matMul<Tensor2D>(left[i]!, right[j]!);
            const previous = sums[i * blockCount + j];
            sums[i * blockCount + j] = tf.keep(previous === undefined ? product : tf.add<Tensor2D>(previous, product));
            previous?.dispose();
          }
        }
      });
    }
    for (let c = 0; c < dims; c++) diagonal[c]! /= rows - 1;
    const matrix = tf.tidy((): Tensor2D => {
      const block = (i: number, j: number): Tensor2D => (j >= i ? sums[i * blockCount + j]! : tf.transpose(sums[j * blockCount + i]!));
      const full =
        blockCount === 1
          ? block(0, 0)
          : tf.concat(blocks.map((_, i) => tf.concat(blocks.map((__, j) => block(i, j)), 1)), 0);
      return tf.mul(tf.add(full, tf.transpose(full)), 0.5 / (rows - 1));
    });
    return { matrix, diagonal };
  } finally {
    for (const sum of sums) sum?.dispose();
  }
}

/**
 * Randomized subspace iteration on the covariance, then Rayleigh–Ritz.
 * @returns the block's Ritz vectors (dims × l, row-major) and Ritz values, best first.
 */
async function topEigenpairs(
  tf: Tf,
  covariance: Tensor2D,
  dims: number,
  options: ResolvedFitPcaOptions,
): Promise<{ vectors: Float32Array; values: Float64Array }> {
  const width = Math.min(options.components + options.oversample, dims);
  const rng = createRng(options.seed);
  const start = new Float32Array(dims * width);
  for (let i = 0; i < start.length; i++) start[i] = rng.nextGaussian();
  let basis = orthonormalize(tf, tf.tensor2d(start, [dims, width]), dims, width, 1);
  try {
    for (let iteration = 0; iteration < options.iterations; iteration++) {
      await checkpoint(options.signal);
      const previous = basis;
      // Power steps only need a well-conditioned basis: one Cholesky-QR pass; the last step feeds Rayleigh–Ritz and gets two.
      const passes = iteration === options.iterations - 1 ? 2 : 1;
      basis = orthonormalize(tf, tf.matMul(covariance, previous), dims, width, passes);
      previous.dispose();
    }
    await checkpoint(options.signal);
    const projected = tf.tidy(() => tf.matMul(tf.transpose(basis), tf.matMul(covariance, basis)));
    const small = toFloat64(projected.dataSync());
    projected.dispose();
    symmetrize(small, width);
    const eigen = jacobiEigen(small, width);
    const rotation = tf.tensor2d(Float32Array.from(eigen.vectors), [width, width]);
    const ritz = tf.matMul(basis, rotation);
    rotation.dispose();
    const vectors = ritz.dataSync() as Float32Array;
    ritz.dispose();
    return { vectors, values: eigen.values };
  } finally {
    basis.dispose();
  }
}

/**
 * Orthonormal basis of the columns of `block` (dims × width), taking
 * ownership of `block`: Cholesky-QR, `passes` times (two small matmuls
 * each, on TF.js; the second pass brings orthogonality to working
 * precision), or block Gram–Schmidt when the float32 Gram matrix is too
 * ill-conditioned for Cholesky.
 */
function orthonormalize(tf: Tf, block: Tensor2D, dims: number, width: number, passes: number): Tensor2D {
  let current = block;
  for (let pass = 0; pass < passes; pass++) {
    let next: Tensor2D;
    try {
      const gramTensor = tf.tidy(() => tf.matMul(tf.transpose(current), current));
      const gram = toFloat64(gramTensor.dataSync());
      gramTensor.dispose();
      symmetrize(gram, width);
      const inverse = choleskyQrInverseFactor(gram, width, kCholeskyPivotTolerance);
      if (inverse === undefined) return blockGramSchmidt(tf, current, dims, width);
      next = tf.tidy(() => tf.matMul(current, tf.tensor2d(Float32Array.from(inverse), [width, width])));
    } finally {
      current.dispose();
    }
    current = next;
  }
  return current;
}

/**
 * Block classical Gram–Schmidt, twice per panel (BCGS2), for blocks too
 * ill-conditioned for Cholesky-QR: each panel of columns is projected off
 * the basis so far by TF.js matmuls (twice, which restores orthogonality
 * to working precision), then orthonormalised within itself in float64;
 * dependent columns are replaced by deterministic completion vectors (see
 * `orthonormalizeColumns`). Does not take ownership of `block`.
 */
function blockGramSchmidt(tf: Tf, block: Tensor2D, dims: number, width: number): Tensor2D {
  const values = block.dataSync() as Float32Array;
  // Column j of the block at j·dims: the layout orthonormalizeColumns works on.
  const basis = new Float64Array(width * dims);
  for (let r = 0; r < dims; r++) for (let c = 0; c < width; c++) basis[c * dims + r] = values[r * width + c]!;
  const basis32 = new Float32Array(width * dims);
  const referenceNorms = new Float64Array(width);
  for (let c = 0; c < width; c++) {
    let sum = 0;
    for (let r = c * dims; r < (c + 1) * dims; r++) sum += basis[r]! * basis[r]!;
    referenceNorms[c] = Math.sqrt(sum);
  }
  for (let first = 0; first < width; first += kPanelWidth) {
    const end = Math.min(width, first + kPanelWidth);
    if (first > 0) {
      const projected = tf.tidy(() => {
        const previous = tf.tensor2d(basis32.subarray(0, first * dims), [first, dims]);
        const previousT = tf.transpose(previous);
        let panel = tf.tensor2d(Float32Array.from(basis.subarray(first * dims, end * dims)), [end - first, dims]);
        for (let pass = 0; pass < 2; pass++) panel = tf.sub(panel, tf.matMul(tf.matMul(panel, previousT), previous));
        return panel;
      });
      const panelValues = projected.dataSync();
      projected.dispose();
      for (let i = 0; i < panelValues.length; i++) basis[first * dims + i] = panelValues[i]!;
    }
    orthonormalizeColumns(basis, dims, end, kDependenceTolerance, first, referenceNorms);
    for (let i = first * dims; i < end * dims; i++) basis32[i] = basis[i]!;
  }
  return tf.tidy(() => tf.transpose(tf.tensor2d(basis32, [width, dims])));
}

/** Keeps the top `components` Ritz pairs, completes degenerate ones, fixes signs. */
function finishModel(
  ritzVectors: Float32Array,
  ritzValues: Float64Array,
  totalVariance: number,
  mean: Float64Array,
  rows: number,
  dims: number,
  components: number,
): PcaModel {
  const width = ritzValues.length;
  const negligible = totalVariance * kNegligibleVarianceRatio;
  let kept = 0;
  while (kept < components && ritzValues[kept]! > negligible && totalVariance > 0) kept++;
  // Column-major float64 copy of the kept axes, then completion vectors for the rest.
  const columns = new Float64Array(components * dims);
  for (let c = 0; c < kept; c++) for (let r = 0; r < dims; r++) columns[c * dims + r] = ritzVectors[r * width + c]!;
  // The kept axes are orthonormal already; the zero columns after them all become completion vectors.
  if (kept < components) orthonormalizeColumns(columns, dims, components, kDependenceTolerance, kept);
  const componentRows = new Float32Array(components * dims);
  const explainedVariance = new Float32Array(components);
  let keptVariance = 0;
  for (let c = 0; c < components; c++) {
    const base = c * dims;
    let largest = 0;
    for (let r = 0; r < dims; r++) if (Math.abs(columns[base + r]!) > Math.abs(columns[base + largest]!)) largest = r;
    const sign = columns[base + largest]! < 0 ? -1 : 1;
    for (let r = 0; r < dims; r++) componentRows[base + r] = sign * columns[base + r]!;
    const variance = c < kept ? ritzValues[c]! : 0;
    explainedVariance[c] = variance;
    keptVariance += variance;
  }
  const ratio = totalVariance > 0 ? Math.min(1, Math.max(0, keptVariance / totalVariance)) : 0;
  return {
    inputDims: dims,
    outputDims: components,
    mean: Float32Array.from(mean),
    components: componentRows,
    explainedVariance,
    explainedVarianceRatio: ratio,
    fittedOn: rows,
  };
}

function toFloat64(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>);
}

function symmetrize(matrix: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const value = 0.5 * (matrix[i * n + j]! + matrix[j * n + i]!);
      matrix[i * n + j] = value;
      matrix[j * n + i] = value;
    }
  }
}

/** Lets timers and abort events run between synchronous TF.js steps, then honours the signal. */
async function checkpoint(signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  if (signal === undefined) return;
  await nextMacrotask();
  if (signal.aborted) throw new AbortError(signal.reason);
}
