/**
 * Applies a fitted PCA model: y = (x - mean) · componentsᵀ, then (by
 * default) L2 re-normalisation, because centring breaks inner-product
 * search on vectors that were unit-length before.
 */
import { VecforgeError } from '../errors.js';
import type { Tf } from '../tensor/backend.js';
import { validatePcaModel, type PcaModel } from './model.js';
import { checkRows, describe } from './validate.js';

type Tensor1D = ReturnType<Tf['tensor1d']>;
type Tensor2D = ReturnType<Tf['tensor2d']>;

/** Options of {@link PcaProjector.project}. */
export interface ProjectOptions {
  /**
   * Scale each projected row to unit L2 norm. A row whose projection is all
   * zero (e.g. the mean itself) stays zero.
   * @default true
   */
  readonly normalize?: boolean;
}

/** The defaults of {@link ProjectOptions}. */
export const kDefaultProjectOptions = Object.freeze({ normalize: true });

/** Most input values one TF.js matmul takes; larger inputs go in row batches (32 MiB of float32). */
const kBatchValues = 1 << 23;

/**
 * Projects row-major vectors with a PCA model on TF.js. The mean and the
 * transposed components stay resident as tensors from construction to
 * {@link PcaProjector.dispose}; every call frees its own tensors.
 */
export class PcaProjector {
  /** Values per input row. */
  readonly inputDims: number;
  /** Values per output row. */
  readonly outputDims: number;
  readonly #tf: Tf;
  #mean: Tensor1D | undefined;
  /** componentsᵀ, inputDims × outputDims: a plain matmul, since wasm's transposeB path is slow. */
  #weights: Tensor2D | undefined;

  /**
   * @param model - the fitted model; it is checked, and copied to TF.js.
   * @param tf - TF.js, from `loadTf`.
   * @throws {TypeError} when the model is malformed or `tf` is not TF.js.
   * @throws {RangeError} when the model is malformed (see `validatePcaModel`).
   */
  constructor(model: PcaModel, tf: Tf) {
    validatePcaModel(model);
    if (typeof tf !== 'object' || tf === null || typeof tf.matMul !== 'function') {
      throw new TypeError(`tf must be the TF.js module returned by loadTf, got ${describe(tf)}`);
    }
    this.inputDims = model.inputDims;
    this.outputDims = model.outputDims;
    this.#tf = tf;
    this.#mean = tf.tensor1d(model.mean);
    this.#weights = tf.tidy(() => tf.transpose(tf.tensor2d(model.components, [model.outputDims, model.inputDims])));
  }

  /**
   * Projects rows: `(rows - mean) · componentsᵀ`, one TF.js matmul per batch
   * of rows, then, unless `options.normalize` is false, scales every output
   * row to unit length (all-zero rows stay zero, never NaN).
   * @param rows - `n × inputDims` values, row-major.
   * @param out - where to write the `n × outputDims` result; a new array when omitted.
   * @param options - see {@link ProjectOptions}.
   * @returns `out`, or the new array.
   * @throws {TypeError} when `rows` or `out` is not a Float32Array, or `options.normalize` is not a boolean.
   * @throws {RangeError} when `rows.length` is not a multiple of `inputDims`,
   *   or `out.length` is not `n × outputDims`.
   * @throws {VecforgeError} ERR_CLOSED after {@link PcaProjector.dispose}.
   */
  project(rows: Float32Array, out?: Float32Array, options?: ProjectOptions): Float32Array {
    const mean = this.#mean;
    const weights = this.#weights;
    if (mean === undefined || weights === undefined) {
      throw new VecforgeError('ERR_CLOSED', 'this PcaProjector was disposed');
    }
    checkRows('rows', rows, this.inputDims);
    const count = rows.length / this.inputDims;
    const outLength = count * this.outputDims;
    if (out !== undefined) {
      if (!(out instanceof Float32Array)) throw new TypeError(`out must be a Float32Array, got ${describe(out)}`);
      if (out.length !== outLength) {
        throw new RangeError(`out must hold ${count} rows × ${this.outputDims} dims = ${outLength} values, got ${out.length}`);
      }
    }
    const normalize = options?.normalize ?? kDefaultProjectOptions.normalize;
    if (typeof normalize !== 'boolean') {
      throw new TypeError(`options.normalize must be a boolean, got ${describe(normalize)}`);
    }
    const result = out ?? new Float32Array(outLength);
    const tf = this.#tf;
    const batchRows = Math.max(1, Math.floor(kBatchValues / this.inputDims));
    for (let start = 0; start < count; start += batchRows) {
      const batch = Math.min(batchRows, count - start);
      const projected = tf.tidy(() => {
        const x = tf.tensor2d(rows.subarray(start * this.inputDims, (start + batch) * this.inputDims), [batch, this.inputDims]);
        return tf.matMul(tf.sub(x, mean), weights);
      });
      try {
        result.set(projected.dataSync() as Float32Array, start * this.outputDims);
      } finally {
        projected.dispose();
      }
    }
    if (normalize) normalizeRows(result, this.outputDims);
    return result;
  }

  /** Frees the resident tensors. Later calls to `project` throw; calling `dispose` again does nothing. */
  dispose(): void {
    this.#mean?.dispose();
    this.#weights?.dispose();
    this.#mean = undefined;
    this.#weights = undefined;
  }
}

/** Scales each row to unit L2 norm, summing in float64; zero rows stay zero. */
function normalizeRows(values: Float32Array, dims: number): void {
  for (let start = 0; start < values.length; start += dims) {
    let sum = 0;
    for (let i = start; i < start + dims; i++) sum += values[i]! * values[i]!;
    if (sum === 0) continue;
    const scale = 1 / Math.sqrt(sum);
    for (let i = start; i < start + dims; i++) values[i]! *= scale;
  }
}
