/**
 * The typed face of the native HNSW core (`build/Release/vecforge_hnsw.node`,
 * loaded by `src/native/addon.ts`, the only loader of the binding), and the
 * choice between it and the hnswlib-node fallback (`fallback-core.ts`).
 *
 * Graphs live in native memory in a process-wide registry keyed by a numeric
 * handle. Any worker thread that loads the addon can insert into and search
 * the same graph by passing the handle it was given (for example through
 * `workerData`); data is read in place from `Float32Array`/`Uint32Array`
 * views, which may sit on a `SharedArrayBuffer`. `fallback-core.ts` is the only module that loads hnswlib-node.
 */
import { VecforgeError } from '../../errors.js';
import { loadNativeAddon, type NativeAddon } from '../../native/addon.js';
import type { HnswCore, HnswHandle, HnswFilter, HnswSpace } from './core.js';
import { createFallbackHnswCore } from './fallback-core.js';

let gNativeCore: HnswCore | undefined;

/**
 * Whether the native addon is built and loads in this thread (ignores
 * `VECFORGE_NATIVE`).
 * @returns true when {@link loadNativeHnswCore} will succeed.
 */
export function nativeHnswAvailable(): boolean {
  return loadNativeAddon().ok;
}

function wrapNative(addon: NativeAddon): HnswCore {
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
    labelScores: (handle: HnswHandle, queries: Float32Array, labels: Uint32Array, offsets: Uint32Array, out: Float32Array) => addon.labelScores(handle, queries, labels, offsets, out),
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
  const state = loadNativeAddon();
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
  const state = loadNativeAddon();
  return state.ok ? state.addon.openHandles() : 0;
}
