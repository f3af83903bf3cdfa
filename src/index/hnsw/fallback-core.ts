/**
 * {@link HnswCore} over hnswlib-node: the fallback when the native addon is
 * not built, or when `VECFORGE_NATIVE=0`. Same validation messages, same
 * result layout, same file format; but single-threaded, in-thread only
 * (handles are not valid in other worker threads), vectors cross into
 * hnswlib-node as plain arrays one point at a time, and filters run as a JS
 * callback per candidate. hnswlib-node is loaded on first use only.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import type { HierarchicalNSW } from 'hnswlib-node';

import type {
  HnswCore,
  HnswFilter,
  HnswGraphInfo,
  HnswHandle,
  HnswSearchResult,
  HnswSpace,
} from './core.js';
import { kHnswNoLabel as kNoLabel } from './core.js';
import { checkGraphFile } from './graph-check.js';

const kMaxU32 = 4_294_967_295;
const kMaxDims = 65_536;
const kMaxM = 2048;
const kMaxEf = 1_048_576;
const kMaxK = 65_536;
const kMaxThreads = 1024;

type HnswlibNode = typeof import('hnswlib-node');

interface Entry {
  readonly index: HierarchicalNSW;
  readonly space: HnswSpace;
  readonly dims: number;
  readonly M: number;
  readonly efConstruction: number;
  readonly allowReplaceDeleted: boolean;
  // hnswlib-node has no deleted count: tracked exactly while every change is
  // visible, recounted (O(n)) after loads, updates and slot replacements.
  deletedExact: number | undefined;
}

let gHnswlib: HnswlibNode | undefined;

function hnswlib(): HnswlibNode {
  gHnswlib ??= createRequire(import.meta.url)('hnswlib-node') as HnswlibNode;
  return gHnswlib;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

/** Renders a value the way the native addon's messages do. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
  if (typeof value === 'function') return 'function';
  if (typeof value === 'symbol') return 'symbol';
  if (typeof value === 'bigint') return 'bigint';
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return value.constructor.name;
  if (value instanceof ArrayBuffer) return 'ArrayBuffer';
  if (Array.isArray(value)) return 'Array';
  return 'object';
}

function checkInt(value: unknown, name: string, lo: number, hi: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got ${formatNumber(value)}`);
  }
  return value;
}

function checkBool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function checkSpace(value: unknown): HnswSpace {
  if (typeof value !== 'string') {
    throw new TypeError(`space must be a string ('l2', 'ip' or 'cosine'), got ${describe(value)}`);
  }
  if (value === 'l2' || value === 'ip' || value === 'cosine') return value;
  throw new RangeError(`space must be one of 'l2', 'ip', 'cosine', got ${describe(value)}`);
}

function checkPath(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  if (value === '') throw new RangeError(`${name} must be a non-empty string`);
  if (value.includes('\0')) throw new RangeError(`${name} must not contain NUL characters`);
  return value;
}

function checkF32(value: unknown, name: string): Float32Array {
  if (!(value instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array, got ${describe(value)}`);
  return value;
}

function checkU32(value: unknown, name: string): Uint32Array {
  if (!(value instanceof Uint32Array)) throw new TypeError(`${name} must be a Uint32Array, got ${describe(value)}`);
  return value;
}

function rowsOf(data: Float32Array, dims: number, name: string): number {
  if (data.length % dims !== 0) {
    throw new RangeError(`${name}.length (${data.length}) must be a multiple of dims (${dims})`);
  }
  return data.length / dims;
}

function checkFilter(value: unknown): ((label: number) => boolean) | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Uint8Array) {
    const bits = value.length * 8;
    return (label) => label < bits && ((value[label >>> 3] ?? 0) & (1 << (label & 7))) !== 0;
  }
  if (value instanceof Uint32Array) {
    const bits = value.length * 32;
    return (label) => label < bits && (((value[label >>> 5] ?? 0) >>> (label & 31)) & 1) !== 0;
  }
  throw new TypeError(`filter must be a Uint8Array or Uint32Array bitset (or undefined), got ${describe(value)}`);
}

/** Re-throws hnswlib-node's errors with the native core's `hnswlib: ` prefix. */
function hnswlibCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error: unknown) {
    if (error instanceof Error && !(error instanceof TypeError) && !(error instanceof RangeError)) {
      const message = error.message.replace(/^Hnswlib Error: /, '');
      throw new Error(message.startsWith('hnswlib: ') ? message : `hnswlib: ${message}`, { cause: error });
    }
    throw error;
  }
}

function readFileBytes(filePath: string): Buffer {
  try {
    return readFileSync(filePath);
  } catch (error: unknown) {
    throw new Error(`cannot open '${filePath}' for reading`, { cause: error });
  }
}

class FallbackHnswCore implements HnswCore {
  readonly kind = 'hnswlib-node' as const;
  readonly sharedAcrossThreads = false;
  readonly #graphs = new Map<number, Entry>();
  #nextHandle = 1;

  #register(entry: Entry): HnswHandle {
    const handle = this.#nextHandle++;
    this.#graphs.set(handle, entry);
    return handle;
  }

  #entry(handle: unknown): Entry {
    const h = checkInt(handle, 'handle', 1, kMaxU32);
    const entry = this.#graphs.get(h);
    if (entry === undefined) {
      throw new RangeError(`handle ${h} is not an open graph (never created, or already freed)`);
    }
    return entry;
  }

  create(
    space: HnswSpace,
    dims: number,
    maxElements: number,
    M: number,
    efConstruction: number,
    seed: number,
    allowReplaceDeleted: boolean,
  ): HnswHandle {
    const s = checkSpace(space);
    checkInt(dims, 'dims', 1, kMaxDims);
    checkInt(maxElements, 'maxElements', 1, kMaxU32);
    checkInt(M, 'M', 2, kMaxM);
    checkInt(efConstruction, 'efConstruction', 1, kMaxEf);
    checkInt(seed, 'seed', 0, kMaxU32);
    const replace = checkBool(allowReplaceDeleted, 'allowReplaceDeleted', false);
    const index = new (hnswlib().HierarchicalNSW)(s, dims);
    hnswlibCall(() => index.initIndex(maxElements, M, efConstruction, seed, replace));
    return this.#register({
      index,
      space: s,
      dims,
      M,
      efConstruction: Math.max(efConstruction, M),
      allowReplaceDeleted: replace,
      deletedExact: 0,
    });
  }

  free(handle: HnswHandle): boolean {
    checkInt(handle, 'handle', 1, kMaxU32);
    return this.#graphs.delete(handle);
  }

  #parseAdd(handle: HnswHandle, data: unknown, labels: unknown): [Entry, Float32Array, Uint32Array, number] {
    const entry = this.#entry(handle);
    const d = checkF32(data, 'data');
    const l = checkU32(labels, 'labels');
    const rows = rowsOf(d, entry.dims, 'data');
    if (l.length !== rows) {
      throw new RangeError(`labels.length (${l.length}) must equal the number of rows in data (${rows})`);
    }
    return [entry, d, l, rows];
  }

  #insert(entry: Entry, data: Float32Array, labels: Uint32Array, rows: number, replace: boolean): void {
    if (replace && !entry.allowReplaceDeleted) {
      throw new RangeError('replaceDeleted is true but the graph was created with allowReplaceDeleted = false');
    }
    const { index, dims } = entry;
    for (let i = 0; i < rows; i++) {
      const before = index.getCurrentCount();
      hnswlibCall(() => index.addPoint(Array.from(data.subarray(i * dims, (i + 1) * dims)), labels[i] ?? 0, replace));
      // No new slot: an existing label was updated or a deleted slot reused.
      if (index.getCurrentCount() === before) entry.deletedExact = undefined;
    }
  }

  addPoints(handle: HnswHandle, data: Float32Array, labels: Uint32Array, replaceDeleted = false): void {
    const [entry, d, l, rows] = this.#parseAdd(handle, data, labels);
    this.#insert(entry, d, l, rows, checkBool(replaceDeleted, 'replaceDeleted', false));
  }

  async addPointsParallel(
    handle: HnswHandle,
    data: Float32Array,
    labels: Uint32Array,
    numThreads: number,
    replaceDeleted = false,
  ): Promise<void> {
    const [entry, d, l, rows] = this.#parseAdd(handle, data, labels);
    checkInt(numThreads, 'numThreads', 1, kMaxThreads);
    this.#insert(entry, d, l, rows, checkBool(replaceDeleted, 'replaceDeleted', false));
  }

  searchKnn(handle: HnswHandle, queries: Float32Array, k: number, ef: number, filter?: HnswFilter): HnswSearchResult {
    const entry = this.#entry(handle);
    const q = checkF32(queries, 'queries');
    const nq = rowsOf(q, entry.dims, 'queries');
    checkInt(k, 'k', 1, kMaxK);
    checkInt(ef, 'ef', 1, kMaxEf);
    const allowed = checkFilter(filter);
    const { index, dims } = entry;
    const labels = new Uint32Array(nq * k).fill(kNoLabel);
    const distances = new Float32Array(nq * k).fill(Number.POSITIVE_INFINITY);
    const counts = new Uint32Array(nq);
    if (index.getCurrentCount() === 0) return { labels, distances, counts };
    index.setEf(Math.max(ef, k));
    // hnswlib-node rejects k above the capacity; it can never find more anyway.
    const kk = Math.min(k, index.getMaxElements());
    for (let row = 0; row < nq; row++) {
      const query = Array.from(q.subarray(row * dims, (row + 1) * dims));
      const found = hnswlibCall(() => index.searchKnn(query, kk, allowed));
      const n = Math.min(found.neighbors.length, k);
      for (let j = 0; j < n; j++) {
        labels[row * k + j] = found.neighbors[j] ?? kNoLabel;
        distances[row * k + j] = found.distances[j] ?? Number.POSITIVE_INFINITY;
      }
      counts[row] = n;
    }
    return { labels, distances, counts };
  }

  async searchKnnAsync(
    handle: HnswHandle,
    queries: Float32Array,
    k: number,
    ef: number,
    filter?: HnswFilter,
  ): Promise<HnswSearchResult> {
    return this.searchKnn(handle, queries, k, ef, filter);
  }

  resize(handle: HnswHandle, newMaxElements: number): void {
    const entry = this.#entry(handle);
    checkInt(newMaxElements, 'newMaxElements', 1, kMaxU32);
    const count = entry.index.getCurrentCount();
    if (newMaxElements < count) {
      throw new RangeError(`newMaxElements (${newMaxElements}) must be >= the current count (${count})`);
    }
    hnswlibCall(() => entry.index.resizeIndex(newMaxElements));
  }

  getCurrentCount(handle: HnswHandle): number {
    return this.#entry(handle).index.getCurrentCount();
  }

  getMaxElements(handle: HnswHandle): number {
    return this.#entry(handle).index.getMaxElements();
  }

  getDeletedCount(handle: HnswHandle): number {
    const entry = this.#entry(handle);
    if (entry.deletedExact === undefined) {
      let deleted = 0;
      for (const label of entry.index.getIdsList()) {
        try {
          entry.index.getPoint(label);
        } catch {
          // getPoint throws "Label not found" exactly for deleted labels here.
          deleted++;
        }
      }
      entry.deletedExact = deleted;
    }
    return entry.deletedExact;
  }

  getInfo(handle: HnswHandle): HnswGraphInfo {
    const entry = this.#entry(handle);
    return {
      space: entry.space,
      dims: entry.dims,
      M: entry.M,
      efConstruction: entry.efConstruction,
      maxElements: entry.index.getMaxElements(),
      count: entry.index.getCurrentCount(),
      deleted: this.getDeletedCount(handle),
      allowReplaceDeleted: entry.allowReplaceDeleted,
    };
  }

  markDelete(handle: HnswHandle, label: number): void {
    const entry = this.#entry(handle);
    checkInt(label, 'label', 0, kMaxU32);
    hnswlibCall(() => entry.index.markDelete(label));
    if (entry.deletedExact !== undefined) entry.deletedExact++;
  }

  unmarkDelete(handle: HnswHandle, label: number): void {
    const entry = this.#entry(handle);
    checkInt(label, 'label', 0, kMaxU32);
    hnswlibCall(() => entry.index.unmarkDelete(label));
    if (entry.deletedExact !== undefined) entry.deletedExact--;
  }

  getVector(handle: HnswHandle, label: number): Float32Array {
    const entry = this.#entry(handle);
    checkInt(label, 'label', 0, kMaxU32);
    return Float32Array.from(hnswlibCall(() => entry.index.getPoint(label)));
  }

  save(handle: HnswHandle, path: string): void {
    const entry = this.#entry(handle);
    const p = checkPath(path, 'path');
    try {
      closeSync(openSync(p, 'w'));
    } catch (error: unknown) {
      throw new Error(`cannot open '${p}' for writing`, { cause: error });
    }
    hnswlibCall(() => entry.index.writeIndexSync(p));
  }

  load(path: string, space: HnswSpace, dims: number, maxElements?: number, allowReplaceDeleted = false): HnswHandle {
    const p = checkPath(path, 'path');
    const s = checkSpace(space);
    checkInt(dims, 'dims', 1, kMaxDims);
    if (maxElements !== undefined) checkInt(maxElements, 'maxElements', 0, kMaxU32);
    const replace = checkBool(allowReplaceDeleted, 'allowReplaceDeleted', false);
    // hnswlib-node's readIndexSync trusts every field and id: check them all first, as the addon does.
    const header = checkGraphFile(readFileBytes(p), dims, `the graph file '${p}'`);
    const index = new (hnswlib().HierarchicalNSW)(s, dims);
    hnswlibCall(() => index.readIndexSync(p, replace));
    const count = index.getCurrentCount();
    if (maxElements !== undefined && maxElements >= count && maxElements !== index.getMaxElements()) {
      hnswlibCall(() => index.resizeIndex(maxElements));
    }
    return this.#register({
      index,
      space: s,
      dims,
      M: header.m,
      efConstruction: header.efConstruction,
      allowReplaceDeleted: replace,
      deletedExact: undefined,
    });
  }
}

let gFallback: HnswCore | undefined;

/**
 * The hnswlib-node {@link HnswCore} of this thread (one registry per thread).
 * @returns the fallback core; handles it returns are valid only in this thread.
 */
export function createFallbackHnswCore(): HnswCore {
  gFallback ??= new FallbackHnswCore();
  return gFallback;
}
