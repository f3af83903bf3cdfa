/**
 * NumPy .npy files of float32 matrices: a streaming writer (the row count is
 * patched into the header at the end) and a reader.
 */
import { closeSync, fsyncSync, openSync, readSync, fstatSync, renameSync, writeSync, rmSync } from 'node:fs';
import { VecforgeError } from '../errors.js';

const kMagic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]);
/** Header size: fixed, so the final row count can be written in place. */
const kHeaderBytes = 128;

function header(rows: number, dims: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dims}), }`;
  const body = dict.padEnd(kHeaderBytes - kMagic.length - 2 - 1, ' ') + '\n';
  const len = Buffer.alloc(2);
  len.writeUInt16LE(body.length);
  return Buffer.concat([kMagic, len, Buffer.from(body, 'latin1')]);
}

/** Writes a float32 matrix row by row to a temporary file, renamed on close. */
export class NpyWriter {
  readonly #path: string;
  readonly #tmp: string;
  readonly #dims: number;
  #fd: number;
  #rows = 0;

  /**
   * @param path - the final .npy path.
   * @param dims - columns.
   */
  constructor(path: string, dims: number) {
    this.#path = path;
    this.#tmp = `${path}.tmp-${process.pid}`;
    this.#dims = dims;
    this.#fd = openSync(this.#tmp, 'w');
    writeSync(this.#fd, header(0, dims));
  }

  /** Rows written so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Appends rows.
   * @param data - whole rows, row-major.
   */
  write(data: Float32Array): void {
    if (data.length % this.#dims !== 0) throw new RangeError(`data length ${data.length} is not a multiple of dims ${this.#dims}`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(this.#fd, bytes, off, bytes.byteLength - off);
    this.#rows += data.length / this.#dims;
  }

  /** Writes the final header, fsyncs and renames into place. */
  close(): void {
    writeSync(this.#fd, header(this.#rows, this.#dims), 0, kHeaderBytes, 0);
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    renameSync(this.#tmp, this.#path);
  }

  /** Drops the temporary file. */
  abort(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    rmSync(this.#tmp, { force: true });
  }
}

/**
 * Reads a float32 (little-endian, C order) .npy matrix.
 * @param path - the file.
 * @returns the data, rows and dims.
 * @throws {VecforgeError} ERR_INVALID_INPUT naming what is wrong with the file.
 */
export function readNpy(path: string): { data: Float32Array; rows: number; dims: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot open ${path}`, { cause: error });
  }
  try {
    const size = fstatSync(fd).size;
    const pre = Buffer.alloc(10);
    if (readSync(fd, pre, 0, 10, 0) < 10 || !pre.subarray(0, 6).equals(kMagic.subarray(0, 6))) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path} is not a .npy file`);
    }
    const major = pre[6] ?? 0;
    const headerLenBytes = major === 1 ? 2 : 4;
    const lenBuf = Buffer.alloc(headerLenBytes);
    readSync(fd, lenBuf, 0, headerLenBytes, 8);
    const headerLen = major === 1 ? lenBuf.readUInt16LE(0) : lenBuf.readUInt32LE(0);
    const start = 8 + headerLenBytes + headerLen;
    const dictBuf = Buffer.alloc(headerLen);
    readSync(fd, dictBuf, 0, headerLen, 8 + headerLenBytes);
    const dict = dictBuf.toString('latin1');
    if (!/'descr':\s*'<f4'/.test(dict)) throw new VecforgeError('ERR_INVALID_INPUT', `${path} must hold little-endian float32 ('<f4'), header is ${dict.trim()}`);
    if (/'fortran_order':\s*True/.test(dict)) throw new VecforgeError('ERR_INVALID_INPUT', `${path} is in Fortran order; save it in C order`);
    const shape = /'shape':\s*\((\d+),\s*(\d+)\s*,?\)/.exec(dict);
    if (shape === null) throw new VecforgeError('ERR_INVALID_INPUT', `${path} must hold a 2-d matrix, header is ${dict.trim()}`);
    const rows = Number(shape[1]);
    const dims = Number(shape[2]);
    if (size - start !== rows * dims * 4) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path} holds ${size - start} data bytes, expected ${rows * dims * 4} for shape (${rows}, ${dims})`);
    }
    const data = new Float32Array(rows * dims);
    const bytes = new Uint8Array(data.buffer);
    let off = 0;
    while (off < bytes.byteLength) {
      const n = readSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 24), start + off);
      if (n === 0) break;
      off += n;
    }
    return { data, rows, dims };
  } finally {
    closeSync(fd);
  }
}
