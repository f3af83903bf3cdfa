/**
 * The only loader of the native binding (`build/Release/vecforge_hnsw.node`,
 * built by `native/build.mjs` from `native/*.cc` over the hnswlib headers),
 * and the typed face of everything it exports: HNSW graphs, the graph-file
 * loaders, SHA-256 line digests for jobs, and the PCA projection kernel.
 *
 * The binding is loaded once per thread and the outcome cached, success or
 * failure. It validates every argument itself: a TypeError for a wrong type,
 * a RangeError for a value out of range or in conflict, naming the argument;
 * failures reported by hnswlib are Errors whose message starts `hnswlib: `.
 * Graphs live in a process-wide native registry keyed by numeric handles that
 * every worker thread of the process may use.
 *
 * `VECFORGE_NATIVE=0` is not looked at here: the callers that offer a
 * JavaScript fallback decide whether to use the binding.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A distance space name as the binding takes it. */
export type NativeSpace = 'l2' | 'ip' | 'cosine';

/**
 * A label bitset: bit `label & 7` of byte `label >> 3` (Uint8Array) or bit
 * `label & 31` of word `label >> 5` (Uint32Array); labels past the end are excluded.
 */
export type NativeFilter = Uint8Array | Uint32Array;

/** The k nearest neighbours of `nq` queries, row-major, closest first. */
export interface NativeSearchResult {
  /** `nq * k` labels; unused slots hold {@link NativeAddon.kNoLabel}. */
  readonly labels: Uint32Array;
  /** `nq * k` distances; unused slots hold `Infinity`. */
  readonly distances: Float32Array;
  /** How many neighbours each query found. */
  readonly counts: Uint32Array;
}

/** What `getInfo` reports about a graph. */
export interface NativeGraphInfo {
  readonly space: NativeSpace;
  readonly dims: number;
  readonly M: number;
  readonly efConstruction: number;
  readonly maxElements: number;
  readonly count: number;
  readonly deleted: number;
  readonly allowReplaceDeleted: boolean;
}

/** What `loadFile` returns: the handle (0 on a checksum mismatch), the file's size and its SHA-256 (hex). */
export interface NativeLoadFileResult {
  readonly handle: number;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Everything the binding exports (see native/exports.h and native/addon.cc).
 * Handles are integers in [1, 2^32 − 1]; `maxElements` passed as undefined
 * (or below the stored count) keeps a file's capacity.
 */
export interface NativeAddon {
  /**
   * Creates an empty graph.
   * @returns its handle.
   */
  create(space: NativeSpace, dims: number, maxElements: number, M: number, efConstruction: number, seed: number, allowReplaceDeleted: boolean): number;
  /** @returns false when the handle was not open. */
  free(handle: number): boolean;
  /** Inserts rows in the calling thread. @default replaceDeleted false */
  addPoints(handle: number, data: Float32Array, labels: Uint32Array, replaceDeleted?: boolean): void;
  /** Inserts rows with `numThreads` native threads off the event loop; throws synchronously on a bad argument. */
  addPointsParallel(handle: number, data: Float32Array, labels: Uint32Array, numThreads: number, replaceDeleted?: boolean): Promise<void>;
  /** Searches in the calling thread. */
  searchKnn(handle: number, queries: Float32Array, k: number, ef: number, filter?: NativeFilter): NativeSearchResult;
  /** Searches on a libuv pool thread; throws synchronously on a bad argument. */
  searchKnnAsync(handle: number, queries: Float32Array, k: number, ef: number, filter?: NativeFilter): Promise<NativeSearchResult>;
  /** Distances from query q to the labels in `labels[offsets[q], offsets[q + 1])`, into `out` at the same positions; NaN for a label not held or deleted. @returns out */
  labelScores(handle: number, queries: Float32Array, labels: Uint32Array, offsets: Uint32Array, out: Float32Array): Float32Array;
  /** Changes the capacity (≥ the current count). */
  resize(handle: number, newMaxElements: number): void;
  /** @returns elements stored, deleted ones included. */
  getCurrentCount(handle: number): number;
  /** @returns the capacity. */
  getMaxElements(handle: number): number;
  /** @returns elements marked deleted. */
  getDeletedCount(handle: number): number;
  /** @returns the graph's parameters and counts. */
  getInfo(handle: number): NativeGraphInfo;
  /** Marks a label deleted. */
  markDelete(handle: number, label: number): void;
  /** Undoes {@link NativeAddon.markDelete}. */
  unmarkDelete(handle: number, label: number): void;
  /** @returns a copy of one stored vector (unit length for cosine graphs). */
  getVector(handle: number, label: number): Float32Array;
  /** Writes the graph in hnswlib's format. */
  save(handle: number, path: string): void;
  /**
   * Reads a graph file in one pass (never through hnswlib's loadIndex), with
   * the same checks as {@link NativeAddon.loadBuffer}. @default hugePages true
   */
  load(path: string, space: NativeSpace, dims: number, maxElements?: number, allowReplaceDeleted?: boolean, hugePages?: boolean): number;
  /**
   * Reads a graph from its file's bytes, checking every header field and
   * cross-reference first (a RangeError naming the problem, never a crash).
   * The capacity is at least the count and at most count + max(count, 64 MiB of elements).
   */
  loadBuffer(bytes: Uint8Array, space: NativeSpace, dims: number, maxElements?: number, allowReplaceDeleted?: boolean, hugePages?: boolean): number;
  /** Reads a graph file in one pass, hashing it; RangeError where {@link NativeAddon.sha256} is false. */
  loadFile(path: string, space: NativeSpace, dims: number, maxElements: number | undefined, allowReplaceDeleted: boolean, hugePages: boolean, sha256?: string): NativeLoadFileResult;
  /** Whether Node exports SHA-256 to the binding (`loadFile` and `lineDigests` need it). */
  readonly sha256: boolean;
  /** @returns the number of graphs in the process-wide registry. */
  openHandles(): number;
  /** `out = (rows − mean) · weights`, each row then unit length when `normalize`. @returns out */
  projectRows(rows: Float32Array, mean: Float32Array, weights: Float32Array, out: Float32Array, normalize: boolean): Float32Array;
  /** `out = act(x · weightᵀ + bias)`, weight `[out, in]` row-major; act 0 none, 1 GELU (erf), 2 GELU (tanh). @returns out */
  linearRows(x: Float32Array, weight: Float32Array, bias: Float32Array, out: Float32Array, activation: number): Float32Array;
  /** Multi-head self-attention over sequences packed back to back (`lengths`), into `out`. @returns out */
  attentionRows(q: Float32Array, k: Float32Array, v: Float32Array, lengths: Int32Array, heads: number, out: Float32Array): Float32Array;
  /** Each row of `x` becomes LayerNorm(x + residual) · gamma + beta, in place. @returns x */
  layerNormRows(x: Float32Array, residual: Float32Array | null, gamma: Float32Array, beta: Float32Array, eps: number): Float32Array;
  /** SHA-256 of every newline-ended line of `chunk[from, to)` into `digests` (32 bytes each), newline indexes into `ends`. @returns lines hashed */
  lineDigests(chunk: Uint8Array, from: number, to: number, digests: Uint8Array, ends: Int32Array): number;
  /** For each of `count` digests, the place of the equal known digest (or −1) into `positions`; updates `cursor[0]`. */
  matchDigests(known: Int32Array, cursor: Int32Array, digests: Int32Array, count: number, positions: Int32Array, table: Int32Array): void;
  /**
   * `flock(fd, LOCK_EX | LOCK_NB)`: a lock the kernel releases when the file
   * is closed or the process dies (a zombie holds none). RangeError where
   * the platform has no flock.
   * @returns true when taken, false when another open file holds it.
   */
  lockFile(fd: number): boolean;
  /**
   * BM25 for queries over a lexical index's postings arena (label, tf
   * pairs): query q < `queries` has the `lists` pairs (start, length in
   * arena values) `[offsets[q], offsets[q + 1])` with `weights` (arrays may
   * be longer, kept between calls); labels whose `norm`
   * is negative (removed), outside `allowed`, or past `norm` are skipped. `sorted`: every list's labels ascend (walked a block of
   * labels at a time, same sums). Writes query q's k best (score desc, then label asc) to
   * `outLabels`/`outScores[q·k, …)` and their count to `outCounts[q]`, on
   * `threads` native threads (the caller blocked).
   */
  bm25Search(arena: Uint32Array, lists: Uint32Array, offsets: Uint32Array, queries: number, weights: Float64Array, norm: Float64Array, allowed: NativeFilter | undefined, sorted: boolean, k: number, outLabels: Int32Array, outScores: Float64Array, outCounts: Uint32Array, threads: number): void;
  /** The label in result slots no neighbour filled (0xffffffff). */
  readonly kNoLabel: number;
}

/** The names of the binding's functions (the members of {@link NativeAddon} that are not values). */
export type NativeAddonFunction = {
  [K in keyof NativeAddon]: NativeAddon[K] extends (...args: never[]) => unknown ? K : never;
}[keyof NativeAddon];

// `satisfies` makes the compiler hold this table to the interface: a missing
// or extra name fails the build.
const kFunctionTable = {
  create: true,
  free: true,
  addPoints: true,
  addPointsParallel: true,
  searchKnn: true,
  searchKnnAsync: true,
  labelScores: true,
  resize: true,
  getCurrentCount: true,
  getMaxElements: true,
  getDeletedCount: true,
  getInfo: true,
  markDelete: true,
  unmarkDelete: true,
  getVector: true,
  save: true,
  load: true,
  loadBuffer: true,
  loadFile: true,
  openHandles: true,
  projectRows: true,
  linearRows: true,
  attentionRows: true,
  layerNormRows: true,
  lineDigests: true,
  matchDigests: true,
  lockFile: true,
  bm25Search: true,
} as const satisfies Record<NativeAddonFunction, true>;

/** Every function {@link NativeAddon} declares, in the order native/addon.cc registers them. */
export const kNativeAddonFunctions: readonly NativeAddonFunction[] = Object.freeze(Object.keys(kFunctionTable) as NativeAddonFunction[]);

/** The outcome of loading the binding: the binding and its path, or why it is unavailable. */
export type NativeAddonState =
  | { readonly ok: true; readonly addon: NativeAddon; readonly path: string }
  | { readonly ok: false; readonly reason: string; readonly error: unknown };

const kAddonRelativePath = path.join('build', 'Release', 'vecforge_hnsw.node');
const kRequire = createRequire(import.meta.url);

let gState: NativeAddonState | undefined;

/**
 * Where the built binding is: `$VECFORGE_HNSW_ADDON` if set (undefined when
 * that file does not exist), else `build/Release/vecforge_hnsw.node` in the
 * nearest ancestor directory of this module that has one (works from `src/`
 * and from `dist/src/`).
 * @returns the absolute path, or undefined when no build exists.
 */
export function nativeAddonPath(): string | undefined {
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

/**
 * Loads the binding once per thread; later calls return the same outcome.
 * @returns `{ ok: true, addon, path }`, or `{ ok: false, reason, error }`
 *   when no build is found or it fails to load (never throws).
 */
export function loadNativeAddon(): NativeAddonState {
  if (gState !== undefined) return gState;
  const addonPath = nativeAddonPath();
  if (addonPath === undefined) {
    const error = new Error(`${kAddonRelativePath} not found (run \`node native/build.mjs\`)`);
    gState = { ok: false, reason: error.message, error };
    return gState;
  }
  try {
    gState = { ok: true, addon: kRequire(addonPath) as NativeAddon, path: addonPath };
  } catch (error: unknown) {
    gState = { ok: false, reason: error instanceof Error ? error.message : String(error), error };
  }
  return gState;
}

/**
 * The binding, when it is built and loads in this thread.
 * @returns the binding, or undefined (see {@link loadNativeAddon} for the reason).
 */
export function nativeAddon(): NativeAddon | undefined {
  const state = loadNativeAddon();
  return state.ok ? state.addon : undefined;
}
