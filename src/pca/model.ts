/**
 * The fitted PCA model, and its checksummed binary file format.
 *
 * File layout (version 1, all numbers little-endian):
 *
 * | offset    | bytes | field                                              |
 * |----------:|------:|----------------------------------------------------|
 * |         0 |     4 | magic `VFPC` (0x56 0x46 0x50 0x43)                 |
 * |         4 |     2 | u16 format version (1)                             |
 * |         6 |     2 | u16 header size in bytes (32)                      |
 * |         8 |     4 | u32 inputDims (i)                                  |
 * |        12 |     4 | u32 outputDims (o)                                 |
 * |        16 |     8 | f64 fittedOn                                       |
 * |        24 |     8 | f64 explainedVarianceRatio                         |
 * |        32 |   4·i | f32 mean[i]                                        |
 * |   32 + 4i | 4·o·i | f32 components[o × i], row-major                   |
 * | 32+4i+4oi |   4·o | f32 explainedVariance[o]                           |
 * |    end-32 |    32 | SHA-256 of every byte before it                    |
 *
 * The checksum covers the header too, so any flipped byte is refused; it
 * is verified before any field after the version is read.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VecforgeError, errorMessage } from '../errors.js';
import { checkInteger, describe, kMaxRowDims } from './validate.js';

/**
 * A fitted PCA projection from `inputDims` to `outputDims` dimensions:
 * `y = (x - mean) · componentsᵀ`.
 */
export interface PcaModel {
  /** Dimensions of the vectors the model projects. */
  readonly inputDims: number;
  /** Dimensions of the projected vectors: the number of components. */
  readonly outputDims: number;
  /** The sample mean, `inputDims` values. */
  readonly mean: Float32Array;
  /**
   * The principal axes, `outputDims × inputDims` row-major: row i is the
   * unit-length axis of the i-th largest variance. Rows are orthonormal.
   */
  readonly components: Float32Array;
  /**
   * The sample variance along each component (the covariance eigenvalue,
   * normalised by n - 1), `outputDims` values in decreasing order. A
   * component that completes the basis of degenerate data has variance 0.
   */
  readonly explainedVariance: Float32Array;
  /** The share of the total sample variance the components keep, in [0, 1]; 0 when the total is 0. */
  readonly explainedVarianceRatio: number;
  /** The number of sample rows the model was fitted on. */
  readonly fittedOn: number;
}

/** The dimensions a caller expects a loaded model to have. */
export interface PcaModelExpectation {
  /** The input dims the model must have, if given. */
  readonly inputDims?: number;
  /** The output dims the model must have, if given. */
  readonly outputDims?: number;
}

/** The four bytes every PCA model file starts with: `VFPC`. */
export const kPcaModelMagic = Object.freeze([0x56, 0x46, 0x50, 0x43] as const);

/** The file format version this build writes and reads. */
export const kPcaModelFormatVersion = 1;

const kHeaderBytes = 32;
const kChecksumBytes = 32;

/**
 * Checks that a value is a well-formed {@link PcaModel}: dims in range,
 * arrays of the right type and length, finite values.
 * @param model - the value to check.
 * @param name - how error messages name it.
 * @default name `model`
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a field is out of range or a length disagrees with the dims.
 */
export function validatePcaModel(model: PcaModel, name = 'model'): void {
  if (typeof model !== 'object' || model === null) {
    throw new TypeError(`${name} must be a PcaModel object, got ${describe(model)}`);
  }
  const inputDims = checkInteger(`${name}.inputDims`, model.inputDims, 2, kMaxRowDims);
  const outputDims = checkInteger(`${name}.outputDims`, model.outputDims, 1, inputDims - 1);
  checkFloat32(`${name}.mean`, model.mean, inputDims);
  checkFloat32(`${name}.components`, model.components, outputDims * inputDims);
  checkFloat32(`${name}.explainedVariance`, model.explainedVariance, outputDims);
  for (const value of model.explainedVariance) {
    if (value < 0) throw new RangeError(`${name}.explainedVariance must hold values >= 0, got ${value}`);
  }
  const ratio: unknown = model.explainedVarianceRatio;
  if (typeof ratio !== 'number') {
    throw new TypeError(`${name}.explainedVarianceRatio must be a number in [0, 1], got ${describe(ratio)}`);
  }
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new RangeError(`${name}.explainedVarianceRatio must be a number in [0, 1], got ${ratio}`);
  }
  checkInteger(`${name}.fittedOn`, model.fittedOn, 0, Number.MAX_SAFE_INTEGER);
}

function checkFloat32(name: string, value: unknown, length: number): void {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${name} must be a Float32Array, got ${describe(value)}`);
  }
  if (value.length !== length) {
    throw new RangeError(`${name} must hold ${length} values, got ${value.length}`);
  }
  for (let i = 0; i < value.length; i++) {
    if (!Number.isFinite(value[i])) throw new RangeError(`${name} must hold finite values, got ${value[i]} at ${i}`);
  }
}

/**
 * Encodes a model in the checksummed binary format described at the top of
 * this file.
 * @param model - the model.
 * @returns the encoded bytes.
 * @throws {TypeError} when the model is malformed (see {@link validatePcaModel}).
 * @throws {RangeError} when the model is malformed.
 */
export function serializePcaModel(model: PcaModel): Uint8Array {
  validatePcaModel(model);
  const { inputDims, outputDims } = model;
  const dataValues = inputDims + outputDims * inputDims + outputDims;
  const bytes = new Uint8Array(kHeaderBytes + 4 * dataValues + kChecksumBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(kPcaModelMagic, 0);
  view.setUint16(4, kPcaModelFormatVersion, true);
  view.setUint16(6, kHeaderBytes, true);
  view.setUint32(8, inputDims, true);
  view.setUint32(12, outputDims, true);
  view.setFloat64(16, model.fittedOn, true);
  view.setFloat64(24, model.explainedVarianceRatio, true);
  let offset = kHeaderBytes;
  for (const array of [model.mean, model.components, model.explainedVariance]) {
    for (let i = 0; i < array.length; i++, offset += 4) view.setFloat32(offset, array[i] ?? 0, true);
  }
  bytes.set(sha256(bytes.subarray(0, offset)), offset);
  return bytes;
}

/**
 * Decodes a model written by {@link serializePcaModel}, checking the magic
 * number, the format version, the checksum, the lengths and, when given,
 * the dims the caller expects.
 * @param bytes - the encoded model.
 * @param expected - dims the model must have.
 * @returns the model; its arrays are fresh copies.
 * @throws {TypeError} when `bytes` is not a Uint8Array or `expected` holds a non-number.
 * @throws {RangeError} when an `expected` dim is not an integer in [1, 100000].
 * @throws {VecforgeError} ERR_PCA when the bytes are not a PCA model, come
 *   from an unsupported version, fail the checksum, are truncated or
 *   malformed, or have dims other than `expected`.
 */
export function deserializePcaModel(bytes: Uint8Array, expected?: PcaModelExpectation): PcaModel {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`bytes must be a Uint8Array, got ${describe(bytes)}`);
  }
  const expectedInput = expected?.inputDims === undefined ? undefined : checkInteger('expected.inputDims', expected.inputDims, 1, kMaxRowDims);
  const expectedOutput = expected?.outputDims === undefined ? undefined : checkInteger('expected.outputDims', expected.outputDims, 1, kMaxRowDims);
  if (kPcaModelMagic.some((byte, i) => bytes[i] !== byte)) {
    throw pcaError('not a vecforge PCA model: bad magic number (expected "VFPC")');
  }
  if (bytes.length < kHeaderBytes + kChecksumBytes) {
    throw pcaError(`not a vecforge PCA model: ${bytes.length} bytes is shorter than the ${kHeaderBytes + kChecksumBytes}-byte minimum`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== kPcaModelFormatVersion) {
    throw pcaError(`unsupported PCA model format version ${version} (this build reads version ${kPcaModelFormatVersion})`);
  }
  const bodyEnd = bytes.length - kChecksumBytes;
  const stored = bytes.subarray(bodyEnd);
  const actual = sha256(bytes.subarray(0, bodyEnd));
  if (!actual.every((byte, i) => stored[i] === byte)) {
    throw pcaError('PCA model checksum mismatch: the data is corrupt');
  }
  const headerBytes = view.getUint16(6, true);
  const inputDims = view.getUint32(8, true);
  const outputDims = view.getUint32(12, true);
  if (headerBytes !== kHeaderBytes) throw pcaError(`malformed PCA model: header size ${headerBytes}, expected ${kHeaderBytes}`);
  if (inputDims < 2 || inputDims > kMaxRowDims || outputDims < 1 || outputDims >= inputDims) {
    throw pcaError(`malformed PCA model: ${inputDims} → ${outputDims} dims is out of range`);
  }
  const dataValues = inputDims + outputDims * inputDims + outputDims;
  if (bodyEnd !== kHeaderBytes + 4 * dataValues) {
    throw pcaError(`malformed PCA model: ${bytes.length} bytes do not match ${inputDims} → ${outputDims} dims`);
  }
  if (expectedInput !== undefined && inputDims !== expectedInput) {
    throw pcaError(`PCA model input dims mismatch: the model maps ${inputDims} → ${outputDims} dims, expected input dims ${expectedInput}`);
  }
  if (expectedOutput !== undefined && outputDims !== expectedOutput) {
    throw pcaError(`PCA model output dims mismatch: the model maps ${inputDims} → ${outputDims} dims, expected output dims ${expectedOutput}`);
  }
  let offset = kHeaderBytes;
  const readArray = (length: number): Float32Array => {
    const array = new Float32Array(length);
    for (let i = 0; i < length; i++, offset += 4) array[i] = view.getFloat32(offset, true);
    return array;
  };
  const model: PcaModel = {
    inputDims,
    outputDims,
    fittedOn: view.getFloat64(16, true),
    explainedVarianceRatio: view.getFloat64(24, true),
    mean: readArray(inputDims),
    components: readArray(outputDims * inputDims),
    explainedVariance: readArray(outputDims),
  };
  try {
    validatePcaModel(model);
  } catch (error) {
    throw pcaError(`malformed PCA model: ${errorMessage(error)}`, error);
  }
  return model;
}

/**
 * Writes a model file atomically: to a temporary file in the same
 * directory, fsynced, then renamed over `path`, then the directory fsynced.
 * A crash leaves either the old file or the new one, never a torn one.
 * @param path - the destination file.
 * @param model - the model.
 * @returns when the file is durable.
 * @throws {TypeError} when the model is malformed.
 * @throws {RangeError} when the model is malformed.
 * @throws {VecforgeError} ERR_IO when the file cannot be written.
 */
export async function savePcaModel(path: string, model: PcaModel): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`path must be a non-empty string, got ${describe(path)}`);
  }
  const bytes = serializePcaModel(model);
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new VecforgeError('ERR_IO', `cannot write the PCA model to ${path}: ${errorMessage(error)}`, { cause: error });
  }
  await syncDirectory(dirname(path));
}

/**
 * Reads and checks a model file written by {@link savePcaModel}.
 * @param path - the file.
 * @param expected - dims the model must have.
 * @returns the model.
 * @throws {TypeError} when `path` is not a string.
 * @throws {VecforgeError} ERR_IO when the file cannot be read; ERR_PCA when
 *   it is not a valid model or its dims differ from `expected` (see
 *   {@link deserializePcaModel}).
 */
export async function loadPcaModel(path: string, expected?: PcaModelExpectation): Promise<PcaModel> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`path must be a non-empty string, got ${describe(path)}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read the PCA model ${path}: ${errorMessage(error)}`, { cause: error });
  }
  try {
    return deserializePcaModel(bytes, expected);
  } catch (error) {
    if (error instanceof VecforgeError) throw new VecforgeError(error.code, `${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

function pcaError(message: string, cause?: unknown): VecforgeError {
  return new VecforgeError('ERR_PCA', message, cause === undefined ? undefined : { cause });
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

async function syncDirectory(directory: string): Promise<void> {
  // Makes the rename durable; some platforms and file systems refuse to fsync a directory, which is harmless.
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort, see above
  }
}
