/**
 * Applies a fitted PCA model: y = (x - mean) · componentsᵀ, then (by
 * default) L2 re-normalisation, because centring breaks inner-product
 * search on vectors that were unit-length before.
 */
import { VecforgeError } from '../errors.js';
import { loadNativeProjectRows, type NativeProjectRows } from '../native/kernels.js';
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

/**
 * Which matmul projects: `native`, the addon's blocked kernel (native/sgemm.h,
 * built with the CPU's vector extensions), in the calling thread; `tfjs`, a
 * TF.js matmul on the active backend; `auto`, native when the addon loads
 * and TF.js is not on tfjs-node (whose own BLAS or GPU matmul is used there).
 */
export type ProjectKernel = 'auto' | 'native' | 'tfjs';

/** Most input values one TF.js matmul takes; larger inputs go in row batches (32 MiB of float32). */
const kBatchValues = 1 << 23;

/**
 * Projects row-major vectors with a PCA model: on the addon's native kernel
 * (the mean and componentsᵀ kept as Float32Arrays), or on TF.js
 * (the mean and componentsᵀ resident as tensors from construction to
 * {@link PcaProjector.dispose}; every call frees its own tensors). See
 * {@link ProjectKernel}.
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
  /** The native kernel and its operands, when it projects. */
  #native: { readonly project: NativeProjectRows; readonly mean: Float32Array; readonly weights: Float32Array } | undefined;
  #disposed = false;
  /** The matmul in use: the addon's native kernel or TF.js. */
  readonly kernel: 'native' | 'tfjs';

  /**
   * @param model - the fitted model; it is checked, and copied (to TF.js or to the native operands).
   * @param tf - TF.js, from `loadTf`.
   * @param kernel - which matmul projects, see {@link ProjectKernel}.
   * @throws {TypeError} when the model is malformed or `tf` is not TF.js.
   * @throws {RangeError} when the model is malformed (see `validatePcaModel`), or `kernel` is unknown.
   * @throws {VecforgeError} ERR_NATIVE when `kernel` is 'native' and the addon is not available.
   */
  constructor(model: PcaModel, tf: Tf, kernel: ProjectKernel = 'auto') {
    validatePcaModel(model);
    if (typeof tf !== 'object' || tf === null || typeof tf.matMul !== 'function') {
      throw new TypeError(`tf must be the TF.js module returned by loadTf, got ${describe(tf)}`);
    }
    if (kernel !== 'auto' && kernel !== 'native' && kernel !== 'tfjs') {
      throw new RangeError(`kernel must be 'auto', 'native' or 'tfjs', got ${describe(kernel)}`);
    }
    this.inputDims = model.inputDims;
    this.outputDims = model.outputDims;
    this.#tf = tf;
    const native = kernel === 'tfjs' || (kernel === 'auto' && tf.getBackend() === 'tensorflow') ? undefined : loadNativeProjectRows();
    if (kernel === 'native' && native === undefined) {
      throw new VecforgeError('ERR_NATIVE', 'the native projection kernel is not available (the vecforge_hnsw addon is not built, or VECFORGE_NATIVE=0)');
    }
    this.kernel = native === undefined ? 'tfjs' : 'native';
    if (native !== undefined) {
      // weights = componentsᵀ (inputDims × outputDims): a plain row-major B for the kernel.
      const { inputDims, outputDims, components } = model;
      const weights = new Float32Array(inputDims * outputDims);
      for (let j = 0; j < outputDims; j++) {
        for (let d = 0; d < inputDims; d++) weights[d * outputDims + j] = components[j * inputDims + d]!;
      }
      this.#native = { project: native, mean: Float32Array.from(model.mean), weights };
      return;
    }
    this.#mean = tf.tensor1d(model.mean);
    this.#weights = tf.tidy(() => tf.transpose(tf.tensor2d(model.components, [model.outputDims, model.inputDims])));
  }

  /**
   * Projects rows: `(rows - mean) · componentsᵀ` (native: one call, centred a
   * block at a time; TF.js: one matmul per batch of rows), then, unless `options.normalize` is false, scales every output
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
    if (this.#disposed) throw new VecforgeError('ERR_CLOSED', 'this PcaProjector was disposed');
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
    const native = this.#native;
    if (native !== undefined) {
      // The kernel writes in place, so `out` must not share memory with `rows`.
      const target = out !== undefined && overlaps(out, rows) ? new Float32Array(outLength) : result;
      native.project(rows, native.mean, native.weights, target, normalize);
      if (target !== result) result.set(target);
      return result;
    }
    const mean = this.#mean!;
    const weights = this.#weights!;
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
    this.#disposed = true;
    this.#native = undefined;
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

/** Whether two arrays share any bytes of the same buffer. */
function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}
