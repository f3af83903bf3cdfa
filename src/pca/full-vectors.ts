/**
 * The full (pre-PCA) vectors a PCA index keeps for exact reranking, one
 * half-precision row per label.
 *
 * Row layout (the same in memory, in the working file and in the saved
 * `full-vectors.f16` file; little-endian hosts):
 *
 * | offset | bytes    | field                                              |
 * |-------:|---------:|----------------------------------------------------|
 * |      0 |        4 | f32 scale: the row's largest magnitude (0 for a zero row) |
 * |      4 |   2·dims | f16 values / scale, so every value lies in [-1, 1] |
 * |        | 0 or 2   | padding to a multiple of 4 bytes                   |
 *
 * Row `label` starts at byte `label × rowBytes`. A row never written (a
 * deleted or failed label) reads as zeros. Scaling by the row's largest
 * magnitude keeps any finite vector inside half precision's range; the
 * stored values keep 11 significant bits (relative error ≤ 2⁻¹¹ of the
 * row's largest value), enough to order rerank candidates.
 *
 * Two storages, chosen by the index option `pca.rerankStorage`:
 * - `disk` (default): rows live in a working file in `DIR/.scratch/`,
 *   written and read by every pool worker through one file descriptor;
 *   the process holds none of them (the OS page cache does, and gives the
 *   memory back under pressure). A rerank reads k × rerankFactor rows.
 * - `memory`: rows live in a SharedArrayBuffer every worker reads in place.
 *
 * The main-thread side is {@link FullVectorStore}; workers call
 * {@link writeFullRows} and {@link fullRowScorer} on a {@link FullVectorsRef}.
 */
import { closeSync, constants, copyFileSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { VecforgeError, errorMessage } from '../errors.js';
import type { FullVectorsRef } from '../scheduler/protocol.js';
import { kFloat16Table, toFloat16Bits } from './float16.js';

/** Where full vectors live between saves. */
export type FullVectorStorage = 'disk' | 'memory';

/** The valid {@link FullVectorStorage} names. */
export const kFullVectorStorages: readonly FullVectorStorage[] = Object.freeze(['disk', 'memory'] as const);

/** The encoding name recorded in the manifest. */
export const kFullVectorEncoding = 'float16-rowscaled';

/** Byte offset of the f32 scale in a row. */
const kScaleOffset = 0;
/** Byte offset of the first f16 value in a row. */
const kValuesOffset = 4;

/**
 * Bytes of one stored row.
 * @param dims - values per row.
 * @returns 4 + 2·dims, rounded up to a multiple of 4.
 */
export function fullRowBytes(dims: number): number {
  return kValuesOffset + 4 * Math.ceil(dims / 2);
}

interface RowViews {
  readonly scales: Float32Array;
  readonly values: Uint16Array;
}

const gViews = new WeakMap<SharedArrayBuffer, RowViews>();

function viewsOf(data: SharedArrayBuffer): RowViews {
  let views = gViews.get(data);
  if (views === undefined) {
    views = { scales: new Float32Array(data), values: new Uint16Array(data) };
    gViews.set(data, views);
  }
  return views;
}

/** Encodes `row` into `scales`/`values` (views over a row buffer) at a row's byte offset. */
function encodeRow(row: Float32Array, views: RowViews, byteOffset: number): void {
  let largest = 0;
  for (let d = 0; d < row.length; d++) largest = Math.max(largest, Math.abs(row[d]!));
  views.scales[(byteOffset + kScaleOffset) >> 2] = largest;
  const inverse = largest > 0 ? 1 / largest : 0;
  const base = (byteOffset + kValuesOffset) >> 1;
  for (let d = 0; d < row.length; d++) views.values[base + d] = toFloat16Bits(row[d]! * inverse);
}

/**
 * Writes full rows under their labels (worker side). Consecutive labels
 * are written to disk in one call.
 * @param ref - the store.
 * @param rows - `labels.length × ref.dims` values, row-major.
 * @param labels - the label of each row.
 */
export function writeFullRows(ref: FullVectorsRef, rows: Float32Array, labels: Uint32Array): void {
  const { dims, rowBytes } = ref;
  if (ref.kind === 'memory') {
    const views = viewsOf(ref.data);
    for (let i = 0; i < labels.length; i++) encodeRow(rows.subarray(i * dims, (i + 1) * dims), views, labels[i]! * rowBytes);
    return;
  }
  for (let first = 0; first < labels.length; ) {
    let end = first + 1;
    while (end < labels.length && labels[end] === labels[end - 1]! + 1) end++;
    const buffer = new ArrayBuffer((end - first) * rowBytes);
    const views: RowViews = { scales: new Float32Array(buffer), values: new Uint16Array(buffer) };
    for (let i = first; i < end; i++) encodeRow(rows.subarray(i * dims, (i + 1) * dims), views, (i - first) * rowBytes);
    const bytes = new Uint8Array(buffer);
    const position = labels[first]! * rowBytes;
    for (let written = 0; written < bytes.length; ) written += writeSync(ref.fd, bytes, written, bytes.length - written, position + written);
    first = end;
  }
}

/** Scores full rows against queries, exactly (up to half precision). */
export interface FullRowScorer {
  /**
   * @param query - `dims` values (unit length for cosine).
   * @param label - the row.
   * @returns the graph-style distance: 1 − dot for cosine and ip, squared L2 for l2.
   */
  distance(query: Float32Array, label: number): number;
}

/** Σ query[d] · row[d] over a stored row's half-precision values (unscaled). */
function dotRow(values: Uint16Array, at: number, query: Float32Array, dims: number): number {
  let sum = 0;
  for (let d = 0; d < dims; d++) sum += query[d]! * kFloat16Table[values[at + d]!]!;
  return sum;
}

/** Σ (query[d] − scale · row[d])² over a stored row. */
function l2Row(values: Uint16Array, at: number, query: Float32Array, dims: number, scale: number): number {
  let sum = 0;
  for (let d = 0; d < dims; d++) {
    const diff = query[d]! - kFloat16Table[values[at + d]!]! * scale;
    sum += diff * diff;
  }
  return sum;
}

class RowScorer implements FullRowScorer {
  readonly #dims: number;
  readonly #rowBytes: number;
  readonly #l2: boolean;
  /** `memory`: views over the whole store; `disk`: over one row buffer. */
  readonly #scales: Float32Array;
  readonly #values: Uint16Array;
  readonly #row: Uint8Array | null;
  readonly #fd: number;

  constructor(ref: FullVectorsRef, space: 'cosine' | 'ip' | 'l2') {
    this.#dims = ref.dims;
    this.#rowBytes = ref.rowBytes;
    this.#l2 = space === 'l2';
    if (ref.kind === 'memory') {
      const views = viewsOf(ref.data);
      this.#scales = views.scales;
      this.#values = views.values;
      this.#row = null;
      this.#fd = -1;
    } else {
      const buffer = new ArrayBuffer(ref.rowBytes);
      this.#scales = new Float32Array(buffer);
      this.#values = new Uint16Array(buffer);
      this.#row = new Uint8Array(buffer);
      this.#fd = ref.fd;
    }
  }

  distance(query: Float32Array, label: number): number {
    let base = 0;
    const row = this.#row;
    if (row === null) base = label * this.#rowBytes;
    else {
      let got = 0;
      while (got < row.length) {
        const n = readSync(this.#fd, row, got, row.length - got, label * this.#rowBytes + got);
        if (n === 0) break;
        got += n;
      }
      // Past the end of the file: a row never written, all zero.
      if (got < row.length) row.fill(0, got);
    }
    const scale = this.#scales[(base + kScaleOffset) >> 2]!;
    const at = (base + kValuesOffset) >> 1;
    if (this.#l2) return l2Row(this.#values, at, query, this.#dims, scale);
    return 1 - scale * dotRow(this.#values, at, query, this.#dims);
  }
}

/**
 * A scorer over a store (worker side). Disk rows are read one at a time
 * into a buffer the scorer owns.
 * @param ref - the store.
 * @param space - the index space.
 * @returns the scorer.
 */
export function fullRowScorer(ref: FullVectorsRef, space: 'cosine' | 'ip' | 'l2'): FullRowScorer {
  return new RowScorer(ref, space);
}

/**
 * Decodes one stored row (main thread or worker).
 * @param ref - the store.
 * @param label - the row.
 * @param out - receives `dims` values.
 * @returns `out`.
 */
export function readFullRow(ref: FullVectorsRef, label: number, out: Float32Array): Float32Array {
  const { dims, rowBytes } = ref;
  let views: RowViews;
  let base: number;
  if (ref.kind === 'memory') {
    views = viewsOf(ref.data);
    base = label * rowBytes;
  } else {
    const buffer = new ArrayBuffer(rowBytes);
    const bytes = new Uint8Array(buffer);
    let got = 0;
    while (got < rowBytes) {
      const n = readSync(ref.fd, bytes, got, rowBytes - got, label * rowBytes + got);
      if (n === 0) break;
      got += n;
    }
    views = { scales: new Float32Array(buffer), values: new Uint16Array(buffer) };
    base = 0;
  }
  const scale = views.scales[(base + kScaleOffset) >> 2]!;
  const at = (base + kValuesOffset) >> 1;
  for (let d = 0; d < dims; d++) out[d] = kFloat16Table[views.values[at + d]!]! * scale;
  return out;
}

/**
 * The main-thread owner of an index's full vectors: allocates, grows,
 * saves, loads and releases them; hands workers a {@link FullVectorsRef}.
 */
export class FullVectorStore {
  /** Values per row: the index's input dims. */
  readonly dims: number;
  /** Bytes per row, see the layout at the top of this file. */
  readonly rowBytes: number;
  readonly storage: FullVectorStorage;
  #data: SharedArrayBuffer | null = null;
  #capacityRows = 0;
  #fd: number | null = null;
  #path: string | null = null;

  private constructor(storage: FullVectorStorage, dims: number) {
    if (endianness() !== 'LE') throw new VecforgeError('ERR_PCA', 'full-vector storage needs a little-endian host');
    this.storage = storage;
    this.dims = dims;
    this.rowBytes = fullRowBytes(dims);
  }

  /**
   * An empty store.
   * @param storage - `disk` or `memory`.
   * @param dims - values per row.
   * @param indexDir - the index directory; a `disk` store's working file goes in its `.scratch/`.
   * @returns the store.
   * @throws {VecforgeError} ERR_IO when the working file cannot be created.
   */
  static create(storage: FullVectorStorage, dims: number, indexDir: string): FullVectorStore {
    const store = new FullVectorStore(storage, dims);
    if (storage === 'memory') store.ensureRows(1024);
    else store.#openScratch(indexDir, undefined);
    return store;
  }

  /**
   * A store holding the rows of a saved `full-vectors.f16` file (already
   * checked against the manifest). A `disk` store works on a copy, so the
   * saved version, which later versions may hard-link, is never written.
   * @param storage - `disk` or `memory`.
   * @param dims - values per row.
   * @param file - the saved file.
   * @param rows - rows the manifest says it holds.
   * @param indexDir - the index directory.
   * @returns the store.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the file size disagrees with rows × rowBytes; ERR_IO when it cannot be read or copied.
   */
  static load(storage: FullVectorStorage, dims: number, file: string, rows: number, indexDir: string): FullVectorStore {
    const store = new FullVectorStore(storage, dims);
    const size = statSync(file).size;
    if (size !== rows * store.rowBytes) {
      throw new VecforgeError('ERR_INDEX_CORRUPT', `${file} is ${size} bytes; ${rows} rows of ${dims} dims take ${rows * store.rowBytes}`);
    }
    if (storage === 'disk') {
      store.#openScratch(indexDir, file);
      return store;
    }
    store.ensureRows(Math.max(1024, rows));
    const target = new Uint8Array(store.#data as SharedArrayBuffer, 0, size);
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      for (let got = 0; got < size; ) {
        const n = readSync(fd, target, got, size - got, got);
        if (n === 0) throw new Error('unexpected end of file');
        got += n;
      }
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot read ${file}: ${errorMessage(error)}`, { cause: error });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return store;
  }

  #openScratch(indexDir: string, copyFrom: string | undefined): void {
    const dir = join(indexDir, '.scratch');
    const path = join(dir, `full-vectors-${process.pid}-${randomBytes(6).toString('hex')}.f16`);
    try {
      mkdirSync(dir, { recursive: true });
      removeOrphans(dir);
      // A reflink where the file system has them, else a plain copy.
      if (copyFrom !== undefined) copyFileSync(copyFrom, path, constants.COPYFILE_FICLONE);
      this.#fd = openSync(path, copyFrom !== undefined ? 'r+' : 'w+');
      this.#path = path;
    } catch (error) {
      rmSync(path, { force: true });
      throw new VecforgeError('ERR_IO', `cannot create the full-vector working file ${path}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /**
   * Makes room for rows [0, rows) before workers write them (`memory`:
   * grows the buffer by copying; tasks already holding the old buffer
   * only read from it). No-op for `disk`.
   * @param rows - rows needed.
   */
  ensureRows(rows: number): void {
    if (this.storage !== 'memory' || rows <= this.#capacityRows) return;
    const capacity = Math.max(rows, Math.ceil(this.#capacityRows * 1.5));
    const next = new SharedArrayBuffer(capacity * this.rowBytes);
    if (this.#data !== null) new Uint8Array(next).set(new Uint8Array(this.#data));
    this.#data = next;
    this.#capacityRows = capacity;
  }

  /**
   * What workers need to write and read rows.
   * @returns the current reference (changes when a `memory` store grows).
   * @throws {VecforgeError} ERR_CLOSED after {@link FullVectorStore.close}.
   */
  ref(): FullVectorsRef {
    if (this.storage === 'memory') {
      if (this.#data === null) throw new VecforgeError('ERR_CLOSED', 'the full-vector store is closed');
      return { kind: 'memory', dims: this.dims, rowBytes: this.rowBytes, data: this.#data };
    }
    if (this.#fd === null) throw new VecforgeError('ERR_CLOSED', 'the full-vector store is closed');
    return { kind: 'disk', dims: this.dims, rowBytes: this.rowBytes, fd: this.#fd };
  }

  /** Bytes the process holds for full vectors (the `memory` buffer; 0 for `disk`). */
  get memoryBytes(): number {
    return this.#data?.byteLength ?? 0;
  }

  /** Bytes of the working file (`disk`; 0 for `memory`). */
  get workingFileBytes(): number {
    if (this.#path === null) return 0;
    try {
      return statSync(this.#path).size;
    } catch {
      return 0;
    }
  }

  /**
   * Writes rows [0, rows) to a new file (for a version directory), fsynced.
   * Call only while no task writes rows.
   * @param path - the file to write.
   * @param rows - rows to write (the index's label count).
   * @throws {VecforgeError} ERR_IO when it cannot be written.
   */
  saveTo(path: string, rows: number): void {
    const size = rows * this.rowBytes;
    try {
      if (this.storage === 'disk') {
        const fd = this.#fd as number;
        // Rows never written at the end would make the file short: pad with zero rows.
        ftruncateSync(fd, size);
        copyFileSync(this.#path as string, path);
      } else {
        this.ensureRows(rows);
        const bytes = new Uint8Array(this.#data as SharedArrayBuffer, 0, size);
        const fd = openSync(path, 'wx');
        try {
          for (let written = 0; written < size; ) written += writeSync(fd, bytes, written, size - written, written);
        } finally {
          closeSync(fd);
        }
      }
      const fd = openSync(path, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot write the full vectors to ${path}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /** Releases the buffer, or closes and deletes the working file. Call only when no task uses the store. */
  close(): void {
    this.#data = null;
    this.#capacityRows = 0;
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
    if (this.#path !== null) {
      rmSync(this.#path, { force: true });
      this.#path = null;
    }
  }
}

/** Working files of processes that no longer run (a crash leaves them behind). */
function removeOrphans(dir: string): void {
  for (const name of readdirSync(dir)) {
    const match = /^full-vectors-(\d+)-[0-9a-f]+\.f16$/.exec(name);
    if (match === null || processAlive(Number(match[1]))) continue;
    rmSync(join(dir, name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
