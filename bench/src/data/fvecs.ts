/**
 * Readers and writers for the Texmex vector formats used by ANN benchmarks
 * (http://corpus-texmex.irisa.fr/): `.fvecs` holds float32 rows, `.ivecs`
 * int32 rows. Each row is stored as a little-endian int32 `dims` followed by
 * `dims` little-endian 4-byte values; every row of a file has the same `dims`.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { VecforgeError } from 'vecforge';
import { writeFileAtomicSync } from '../internals.js';

/** A matrix read from a Texmex file: `rows` × `dims` values, row-major. */
export interface VecsMatrix<T extends Float32Array | Int32Array> {
  /** The values, row-major, `rows * dims` long. */
  readonly data: T;
  /** The number of rows. */
  readonly rows: number;
  /** The number of values in each row (0 for an empty file). */
  readonly dims: number;
}

const kRowHeaderBytes = 4;
const kValueBytes = 4;
const kLittleEndianHost = endianness() === 'LE';

/**
 * Reads an `.fvecs` file.
 * @param path - the file.
 * @returns its rows as one flat Float32Array.
 * @throws {VecforgeError} ERR_IO when the file cannot be read; ERR_INVALID_INPUT when it is not well-formed.
 */
export function readFvecs(path: string): VecsMatrix<Float32Array> {
  const { bytes, rows, dims } = readVecs(path);
  const data = new Float32Array(rows * dims);
  copyRows(bytes, rows, dims, data, (view, at) => view.getFloat32(at, true));
  return { data, rows, dims };
}

/**
 * Reads an `.ivecs` file.
 * @param path - the file.
 * @returns its rows as one flat Int32Array.
 * @throws {VecforgeError} ERR_IO when the file cannot be read; ERR_INVALID_INPUT when it is not well-formed.
 */
export function readIvecs(path: string): VecsMatrix<Int32Array> {
  const { bytes, rows, dims } = readVecs(path);
  const data = new Int32Array(rows * dims);
  copyRows(bytes, rows, dims, data, (view, at) => view.getInt32(at, true));
  return { data, rows, dims };
}

/**
 * Writes an `.fvecs` file atomically (temporary name, fsync, rename).
 * @param path - the file.
 * @param data - `rows * dims` values, row-major.
 * @param dims - values per row, an integer ≥ 1.
 * @throws {RangeError} when `dims` is not a positive integer or does not divide `data.length`.
 * @throws {VecforgeError} ERR_IO when the write fails.
 */
export function writeFvecs(path: string, data: Float32Array, dims: number): void {
  writeFileAtomicSync(path, encodeVecs(data, dims, (view, at, value) => view.setFloat32(at, value, true)));
}

/**
 * Writes an `.ivecs` file atomically (temporary name, fsync, rename).
 * @param path - the file.
 * @param data - `rows * dims` values, row-major.
 * @param dims - values per row, an integer ≥ 1.
 * @throws {RangeError} when `dims` is not a positive integer or does not divide `data.length`.
 * @throws {VecforgeError} ERR_IO when the write fails.
 */
export function writeIvecs(path: string, data: Int32Array, dims: number): void {
  writeFileAtomicSync(path, encodeVecs(data, dims, (view, at, value) => view.setInt32(at, value, true)));
}

/**
 * The size in bytes of a Texmex file holding `rows` × `dims` values.
 * @param rows - the number of rows.
 * @param dims - values per row.
 * @returns the file size.
 */
export function vecsFileBytes(rows: number, dims: number): number {
  return rows * (kRowHeaderBytes + dims * kValueBytes);
}

function readVecs(path: string): { bytes: Uint8Array; rows: number; dims: number } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read ${path}`, { cause: error });
  }
  if (bytes.byteLength === 0) return { bytes, rows: 0, dims: 0 };
  if (bytes.byteLength < kRowHeaderBytes) {
    throw new VecforgeError('ERR_INVALID_INPUT', `${path} is not a vecs file: ${bytes.byteLength} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = view.getInt32(0, true);
  const rowBytes = kRowHeaderBytes + dims * kValueBytes;
  if (dims < 1 || bytes.byteLength % rowBytes !== 0) {
    throw new VecforgeError(
      'ERR_INVALID_INPUT',
      `${path} is not a vecs file: first row has dims ${dims}, which does not divide its ${bytes.byteLength} bytes`,
    );
  }
  const rows = bytes.byteLength / rowBytes;
  for (let row = 1; row < rows; row++) {
    const rowDims = view.getInt32(row * rowBytes, true);
    if (rowDims !== dims) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path}: row ${row} has dims ${rowDims}, row 0 has ${dims}`);
    }
  }
  return { bytes, rows, dims };
}

function copyRows<T extends Float32Array | Int32Array>(
  bytes: Uint8Array,
  rows: number,
  dims: number,
  out: T,
  get: (view: DataView, at: number) => number,
): void {
  const rowBytes = kRowHeaderBytes + dims * kValueBytes;
  if (kLittleEndianHost) {
    // The file's bytes are the array's bytes: copy each row whole.
    const target = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    for (let row = 0; row < rows; row++) {
      const from = row * rowBytes + kRowHeaderBytes;
      target.set(bytes.subarray(from, from + dims * kValueBytes), row * dims * kValueBytes);
    }
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let row = 0; row < rows; row++) {
    for (let d = 0; d < dims; d++) out[row * dims + d] = get(view, row * rowBytes + kRowHeaderBytes + d * kValueBytes);
  }
}

function encodeVecs<T extends Float32Array | Int32Array>(
  data: T,
  dims: number,
  set: (view: DataView, at: number, value: number) => void,
): Uint8Array {
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`dims must be an integer ≥ 1, got ${dims}`);
  if (data.length % dims !== 0) {
    throw new RangeError(`data.length must be a multiple of dims (${dims}), got ${data.length}`);
  }
  const rows = data.length / dims;
  const rowBytes = kRowHeaderBytes + dims * kValueBytes;
  const bytes = new Uint8Array(rows * rowBytes);
  const view = new DataView(bytes.buffer);
  const source = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let row = 0; row < rows; row++) {
    view.setInt32(row * rowBytes, dims, true);
    if (kLittleEndianHost) {
      bytes.set(source.subarray(row * dims * kValueBytes, (row + 1) * dims * kValueBytes), row * rowBytes + kRowHeaderBytes);
    } else {
      for (let d = 0; d < dims; d++) set(view, row * rowBytes + kRowHeaderBytes + d * kValueBytes, data[row * dims + d] as number);
    }
  }
  return bytes;
}
