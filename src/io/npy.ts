/**
 * NumPy .npy files of float32 matrices: a streaming writer (the row count is
 * patched into the header at the end) and a reader.
 */
import { closeSync, fsyncSync, openSync, readSync, fstatSync, renameSync, writeSync, rmSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { VecforgeError } from '../errors.js';

const kMagic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]);
/** Header size: fixed, so the final row count can be written in place. */
const kHeaderBytes = 128;
/** Magic, version and the longest header-length field (versions 2 and 3). */
const kPreambleBytes = 12;
/** The largest header read: NumPy writes a few hundred bytes; a real header is never near this. */
const kMaxHeaderBytes = 1 << 20;

function header(rows: number, dims: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dims}), }`;
  const body = `${dict.padEnd(kHeaderBytes - kMagic.length - 2 - 1, ' ')}\n`;
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
 * Writes a float32 matrix to a temporary file with asynchronous writes, in
 * the order they are given, renamed into place on close; the caller's
 * thread only queues them. A written array must not change until its write
 * has settled ({@link NpyStreamWriter.drain}).
 */
export class NpyStreamWriter {
  readonly #path: string;
  readonly #tmp: string;
  readonly #dims: number;
  readonly #handle: FileHandle;
  /** The file offset of the next write. */
  #position = kHeaderBytes;
  #rows = 0;
  #pending: Array<Promise<void>> = [];
  #failure: unknown;

  private constructor(path: string, tmp: string, dims: number, handle: FileHandle) {
    this.#path = path;
    this.#tmp = tmp;
    this.#dims = dims;
    this.#handle = handle;
  }

  /**
   * Opens the temporary file and writes a provisional header.
   * @param path - the final .npy path.
   * @param dims - columns.
   * @returns the writer.
   */
  static async open(path: string, dims: number): Promise<NpyStreamWriter> {
    const tmp = `${path}.tmp-${process.pid}`;
    const handle = await open(tmp, 'w');
    await handle.write(header(0, dims), 0, kHeaderBytes, 0);
    return new NpyStreamWriter(path, tmp, dims, handle);
  }

  /** Rows queued so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Writes queued and not yet settled. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Queues whole rows, row-major, after those queued before.
   * @param data - the rows; must stay unchanged until the write settles.
   * @throws {RangeError} when data is not whole rows.
   */
  write(data: Float32Array): void {
    if (data.length % this.#dims !== 0) throw new RangeError(`data length ${data.length} is not a multiple of dims ${this.#dims}`);
    if (data.length === 0) return;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const at = this.#position;
    this.#position += bytes.byteLength;
    this.#rows += data.length / this.#dims;
    const p = writeAll(this.#handle, bytes, at).catch((error: unknown) => {
      this.#failure ??= error;
    });
    this.#pending.push(p);
    void p.then(() => {
      const i = this.#pending.indexOf(p);
      if (i >= 0) this.#pending.splice(i, 1);
    });
  }

  /**
   * Waits until at most `limit` writes are pending.
   * @param limit - writes allowed to stay in flight. @default 0
   * @throws the first write error.
   */
  async drain(limit = 0): Promise<void> {
    while (this.#pending.length > limit) await this.#pending[0];
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Waits for every write, writes the final header, fsyncs and renames into place. */
  async close(): Promise<void> {
    await this.drain();
    await this.#handle.write(header(this.#rows, this.#dims), 0, kHeaderBytes, 0);
    await this.#handle.sync();
    await this.#handle.close();
    await rename(this.#tmp, this.#path);
  }

  /** Waits for the writes in flight and drops the temporary file. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#pending);
    await this.#handle.close().catch(() => {});
    await rm(this.#tmp, { force: true });
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, off, bytes.byteLength - off, position + off);
    off += bytesWritten;
  }
}

function readExactly(fd: number, buf: Buffer, position: number, path: string): void {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) throw new VecforgeError('ERR_INVALID_INPUT', `${path} ended inside its .npy header`);
    off += n;
  }
}

/**
 * Reads a float32 (little-endian, C order) .npy matrix. Every size in the
 * header is checked against the file's size before anything is allocated.
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
    const pre = Buffer.alloc(kPreambleBytes);
    if (size < kPreambleBytes || readSync(fd, pre, 0, kPreambleBytes, 0) < kPreambleBytes || !pre.subarray(0, 6).equals(kMagic.subarray(0, 6))) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path} is not a .npy file`);
    }
    const major = pre[6] ?? 0;
    if (major < 1 || major > 3) throw new VecforgeError('ERR_INVALID_INPUT', `${path}: .npy format version ${major} is not supported (1, 2 or 3)`);
    // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
    const headerLenBytes = major === 1 ? 2 : 4;
    const headerLen = major === 1 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
    const start = 8 + headerLenBytes + headerLen;
    // Checked before anything is allocated: a bogus length must not cost memory.
    if (start > size) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path}: the .npy header says it is ${headerLen} bytes long, past the end of the file (${size} bytes)`);
    }
    if (headerLen > kMaxHeaderBytes) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path}: the .npy header says it is ${headerLen} bytes long, over the limit of ${kMaxHeaderBytes}`);
    }
    const dictBuf = Buffer.alloc(headerLen);
    readExactly(fd, dictBuf, 8 + headerLenBytes, path);
    const dict = dictBuf.toString('latin1');
    const shown = dict.trim().slice(0, 200);
    if (!/'descr':\s*'<f4'/.test(dict)) throw new VecforgeError('ERR_INVALID_INPUT', `${path} must hold little-endian float32 ('<f4'), header is ${shown}`);
    if (/'fortran_order':\s*True/.test(dict)) throw new VecforgeError('ERR_INVALID_INPUT', `${path} is in Fortran order; save it in C order`);
    const shape = /'shape':\s*\((\d+),\s*(\d+)\s*,?\)/.exec(dict);
    if (shape === null) throw new VecforgeError('ERR_INVALID_INPUT', `${path} must hold a 2-d matrix, header is ${shown}`);
    const rows = Number(shape[1]);
    const dims = Number(shape[2]);
    const dataBytes = rows * dims * 4;
    if (!Number.isSafeInteger(dataBytes) || size - start !== dataBytes) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path} holds ${size - start} data bytes, expected ${Number.isSafeInteger(dataBytes) ? dataBytes : `${shape[1]} × ${shape[2]} × 4`} for shape (${shape[1]}, ${shape[2]})`);
    }
    const data = new Float32Array(rows * dims);
    const bytes = new Uint8Array(data.buffer);
    let off = 0;
    while (off < bytes.byteLength) {
      const n = readSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 24), start + off);
      if (n === 0) throw new VecforgeError('ERR_INVALID_INPUT', `${path} ended after ${start + off} bytes while ${size} were expected (changed while read?)`);
      off += n;
    }
    return { data, rows, dims };
  } finally {
    closeSync(fd);
  }
}
