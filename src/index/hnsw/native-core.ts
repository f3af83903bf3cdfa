/**
 * The typed face of the native HNSW core (`build/Release/vecforge_hnsw.node`,
 * built from `native/hnsw_addon.cc` over the hnswlib headers), and the loader
 * that picks it or the hnswlib-node fallback (`fallback-core.ts`).
 *
 * Graphs live in native memory in a process-wide registry keyed by a numeric
 * handle. Any worker thread that loads the addon can insert into and search
 * the same graph by passing the handle it was given (for example through
 * `workerData`); data is read in place from `Float32Array`/`Uint32Array`
 * views, which may sit on a `SharedArrayBuffer`. This file and
 * `fallback-core.ts` are the only modules that load the addon or hnswlib-node.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { VecforgeError } from '../../errors.js';
import type { HnswCore, HnswFilter, HnswGraphInfo, HnswHandle, HnswSearchResult, HnswSpace } from './core.js';
import { createFallbackHnswCore } from './fallback-core.js';

/** The raw addon exports (see native/hnsw_addon.cc). */
interface NativeHnswAddon {
  create(
    space: string,
    dims: number,
    maxElements: number,
    M: number,
    efConstruction: number,
    seed: number,
    allowReplaceDeleted: boolean,
  ): number;
  free(handle: number): boolean;
  addPoints(handle: number, data: Float32Array, labels: Uint32Array, replaceDeleted?: boolean): void;
  addPointsParallel(
    handle: number,
    data: Float32Array,
    labels: Uint32Array,
    numThreads: number,
    replaceDeleted?: boolean,
  ): Promise<void>;
  searchKnn(handle: number, queries: Float32Array, k: number, ef: number, filter?: HnswFilter): HnswSearchResult;
  searchKnnAsync(
    handle: number,
    queries: Float32Array,
    k: number,
    ef: number,
    filter?: HnswFilter,
  ): Promise<HnswSearchResult>;
  resize(handle: number, newMaxElements: number): void;
  getCurrentCount(handle: number): number;
  getMaxElements(handle: number): number;
  getDeletedCount(handle: number): number;
  getInfo(handle: number): HnswGraphInfo;
  markDelete(handle: number, label: number): void;
  unmarkDelete(handle: number, label: number): void;
  getVector(handle: number, label: number): Float32Array;
  save(handle: number, path: string): void;
  load(path: string, space: string, dims: number, maxElements?: number, allowReplaceDeleted?: boolean, hugePages?: boolean): number;
  loadBuffer(bytes: Uint8Array, space: string, dims: number, maxElements?: number, allowReplaceDeleted?: boolean, hugePages?: boolean): number;
  loadFile(path: string, space: string, dims: number, maxElements: number | undefined, allowReplaceDeleted: boolean, hugePages: boolean, sha256?: string): { handle: number; bytes: number; sha256: string };
  readonly sha256?: boolean;
  openHandles(): number;
  projectRows(rows: Float32Array, mean: Float32Array, weights: Float32Array, out: Float32Array, normalize: boolean): Float32Array;
  lineDigests?(chunk: Uint8Array, from: number, to: number, digests: Uint8Array, ends: Int32Array): number;
  matchDigests?(known: Int32Array, cursor: Int32Array, digests: Int32Array, count: number, positions: Int32Array, table: Int32Array): void;
}

const kAddonRelativePath = path.join('build', 'Release', 'vecforge_hnsw.node');
const kRequire = createRequire(import.meta.url);

type AddonState = { readonly ok: true; readonly addon: NativeHnswAddon; readonly path: string } | { readonly ok: false; readonly error: unknown };
let gAddonState: AddonState | undefined;
let gNativeCore: HnswCore | undefined;

/**
 * Where the built addon is: `$VECFORGE_HNSW_ADDON` if set, else
 * `build/Release/vecforge_hnsw.node` in the nearest ancestor directory of
 * this module that has one (works from `src/` and from `dist/src/`).
 * @returns the absolute path, or undefined when no build exists.
 */
export function nativeHnswAddonPath(): string | undefined {
  const override = process.env['VECFORGE_HNSW_ADDON'];
  if (override !== undefined && override !== '') return existsSync(override) ? path.resolve(override) : undefined;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = path.join(dir, kAddonRelativePath);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function loadAddon(): AddonState {
  if (gAddonState !== undefined) return gAddonState;
  const addonPath = nativeHnswAddonPath();
  if (addonPath === undefined) {
    gAddonState = {
      ok: false,
      error: new Error(`${kAddonRelativePath} not found (run \`node native/build.mjs\`)`),
    };
    return gAddonState;
  }
  try {
    gAddonState = { ok: true, addon: kRequire(addonPath) as NativeHnswAddon, path: addonPath };
  } catch (error: unknown) {
    gAddonState = { ok: false, error };
  }
  return gAddonState;
}

/**
 * Whether the native addon is built and loads in this thread (ignores
 * `VECFORGE_NATIVE`).
 * @returns true when {@link loadNativeHnswCore} will succeed.
 */
export function nativeHnswAvailable(): boolean {
  return loadAddon().ok;
}

function wrapNative(addon: NativeHnswAddon): HnswCore {
  return Object.freeze({
    kind: 'native' as const,
    sharedAcrossThreads: true,
    create: (
      space: HnswSpace,
      dims: number,
      maxElements: number,
      M: number,
      efConstruction: number,
      seed: number,
      allowReplaceDeleted: boolean,
    ) => addon.create(space, dims, maxElements, M, efConstruction, seed, allowReplaceDeleted),
    free: (handle: HnswHandle) => addon.free(handle),
    addPoints: (handle: HnswHandle, data: Float32Array, labels: Uint32Array, replaceDeleted = false) =>
      addon.addPoints(handle, data, labels, replaceDeleted),
    // async: argument errors thrown by the addon become rejections.
    addPointsParallel: async (
      handle: HnswHandle,
      data: Float32Array,
      labels: Uint32Array,
      numThreads: number,
      replaceDeleted = false,
    ) => addon.addPointsParallel(handle, data, labels, numThreads, replaceDeleted),
    searchKnn: (handle: HnswHandle, queries: Float32Array, k: number, ef: number, filter?: HnswFilter) =>
      addon.searchKnn(handle, queries, k, ef, filter),
    searchKnnAsync: async (handle: HnswHandle, queries: Float32Array, k: number, ef: number, filter?: HnswFilter) =>
      addon.searchKnnAsync(handle, queries, k, ef, filter),
    resize: (handle: HnswHandle, newMaxElements: number) => addon.resize(handle, newMaxElements),
    getCurrentCount: (handle: HnswHandle) => addon.getCurrentCount(handle),
    getMaxElements: (handle: HnswHandle) => addon.getMaxElements(handle),
    getDeletedCount: (handle: HnswHandle) => addon.getDeletedCount(handle),
    getInfo: (handle: HnswHandle) => addon.getInfo(handle),
    markDelete: (handle: HnswHandle, label: number) => addon.markDelete(handle, label),
    unmarkDelete: (handle: HnswHandle, label: number) => addon.unmarkDelete(handle, label),
    getVector: (handle: HnswHandle, label: number) => addon.getVector(handle, label),
    save: (handle: HnswHandle, filePath: string) => addon.save(handle, filePath),
    load: (filePath: string, space: HnswSpace, dims: number, maxElements?: number, allowReplaceDeleted = false, hugePages = true) =>
      addon.load(filePath, space, dims, maxElements, allowReplaceDeleted, hugePages),
    loadBuffer: (bytes: Uint8Array, space: HnswSpace, dims: number, maxElements?: number, allowReplaceDeleted = false, hugePages = true) =>
      addon.loadBuffer(bytes, space, dims, maxElements, allowReplaceDeleted, hugePages),
    ...(addon.sha256 === true
      ? {
          loadFile: (filePath: string, space: HnswSpace, dims: number, maxElements: number | undefined, allowReplaceDeleted: boolean, hugePages: boolean, sha256?: string) =>
            addon.loadFile(filePath, space, dims, maxElements, allowReplaceDeleted, hugePages, sha256),
        }
      : {}),
  });
}

/**
 * The native core, without fallback.
 * @returns the addon-backed {@link HnswCore} (one frozen instance per thread).
 * @throws {VecforgeError} `ERR_NATIVE` when the addon is missing or fails to load; `cause` holds the reason.
 */
export function loadNativeHnswCore(): HnswCore {
  if (gNativeCore !== undefined) return gNativeCore;
  const state = loadAddon();
  if (!state.ok) {
    const reason = state.error instanceof Error ? state.error.message : String(state.error);
    throw new VecforgeError('ERR_NATIVE', `the native HNSW addon is not available: ${reason}`, {
      cause: state.error,
    });
  }
  gNativeCore = wrapNative(state.addon);
  return gNativeCore;
}

/**
 * The HNSW core to use: the native addon when it is built and loads and
 * `VECFORGE_NATIVE` is not `0`, otherwise the hnswlib-node fallback
 * (single-threaded, handles valid only in the creating thread).
 * @returns an {@link HnswCore}; check `kind` / `sharedAcrossThreads` before sharing handles.
 */
export function loadHnswCore(): HnswCore {
  if (process.env['VECFORGE_NATIVE'] === '0' || !nativeHnswAvailable()) return createFallbackHnswCore();
  return loadNativeHnswCore();
}

/**
 * Number of graphs open in the process-wide native registry (for leak checks).
 * @returns the count, or 0 when the addon is not available.
 */
export function nativeHnswOpenHandles(): number {
  const state = loadAddon();
  return state.ok ? state.addon.openHandles() : 0;
}

/**
 * The addon's projection kernel: `out = (rows − mean) · weights`, each out
 * row then scaled to unit length when `normalize` (zero rows stay zero). It
 * runs the blocked, vectorised matmul of native/sgemm.h in the calling
 * thread. `mean` holds `inDims` values, `weights` is `inDims × outDims`
 * row-major; `out` must not overlap `rows`.
 */
export type NativeProjectRows = (rows: Float32Array, mean: Float32Array, weights: Float32Array, out: Float32Array, normalize: boolean) => Float32Array;

/**
 * The native projection kernel, when the addon is built and loads and
 * `VECFORGE_NATIVE` is not `0`.
 * @returns the kernel, or undefined (callers then use TF.js).
 */
export function loadNativeProjectRows(): NativeProjectRows | undefined {
  if (process.env['VECFORGE_NATIVE'] === '0') return undefined;
  const state = loadAddon();
  if (!state.ok || typeof state.addon.projectRows !== 'function') return undefined;
  const addon = state.addon;
  return (rows, mean, weights, out, normalize) => addon.projectRows(rows, mean, weights, out, normalize);
}

/**
 * The addon's line hasher: the SHA-256 of every line of `chunk[from, to)`
 * that ends in a newline (without the `\n`, and without a `\r` before it)
 * into `digests`, 32 bytes each, and each newline's index into `ends`,
 * until either is full; returns the lines hashed. One call per read instead
 * of one `crypto.hash` per line.
 */
export type NativeLineDigests = (chunk: Uint8Array, from: number, to: number, digests: Uint8Array, ends: Int32Array) => number;

let gLineDigests: NativeLineDigests | null | undefined;

/**
 * The native line hasher, when the addon is built and loads, exports it,
 * finds Node's SHA-256 (checked once on a known line), and
 * `VECFORGE_NATIVE` is not `0`.
 * @returns the hasher, or undefined (callers then hash each line with node:crypto).
 */
export function loadNativeLineDigests(): NativeLineDigests | undefined {
  if (process.env['VECFORGE_NATIVE'] === '0') return undefined;
  if (gLineDigests !== undefined) return gLineDigests ?? undefined;
  gLineDigests = null;
  const state = loadAddon();
  if (!state.ok || typeof state.addon.lineDigests !== 'function') return undefined;
  const addon = state.addon;
  const fn: NativeLineDigests = (chunk, from, to, digests, ends) => (addon.lineDigests as NativeLineDigests)(chunk, from, to, digests, ends);
  try {
    // SHA-256("abc"), FIPS 180-2's first example.
    const digests = new Uint8Array(32);
    if (fn(Buffer.from('abc\n'), 0, 4, digests, new Int32Array(1)) !== 1) return undefined;
    if (Buffer.from(digests).toString('hex') !== 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad') return undefined;
  } catch {
    return undefined;
  }
  gLineDigests = fn;
  return fn;
}

/**
 * The addon's digest matcher: for each of `count` digests (8 int32s each),
 * in order, the place of the equal known digest, looked for first at
 * `cursor[0]` (the next expected place), then in the window from
 * `cursor[0] - cursor[1]` up to `cursor[0] + cursor[2]`, then in `table`
 * (open addressing on a digest's first int32; slots hold place + 1, 0 is
 * empty; a power-of-two length); -1 when not found (the expected place
 * then moves on by one). Updates `cursor[0]`.
 */
export type NativeMatchDigests = (known: Int32Array, cursor: Int32Array, digests: Int32Array, count: number, positions: Int32Array, table: Int32Array) => void;

/**
 * The native digest matcher, when the addon is built, loads and exports
 * it, and `VECFORGE_NATIVE` is not `0`.
 * @returns the matcher, or undefined (callers then compare in JS).
 */
export function loadNativeMatchDigests(): NativeMatchDigests | undefined {
  if (process.env['VECFORGE_NATIVE'] === '0') return undefined;
  const state = loadAddon();
  if (!state.ok || typeof state.addon.matchDigests !== 'function') return undefined;
  const addon = state.addon;
  return (known, cursor, digests, count, positions, table) => (addon.matchDigests as NativeMatchDigests)(known, cursor, digests, count, positions, table);
}
