/**
 * The HNSW core contract: the types and constants every implementation
 * (the native addon in `native-core.ts`, the hnswlib-node fallback in
 * `fallback-core.ts`) shares. Importing this file loads neither.
 */
/**
 * Distance space. `l2`: squared Euclidean distance. `ip`: `1 - dot(a, b)`.
 * `cosine`: vectors are normalised to unit length before insert and search,
 * and the distance is `1 - dot(a, b)` of the unit vectors.
 */
export type HnswSpace = 'l2' | 'ip' | 'cosine';

/** The valid {@link HnswSpace} names, in order. */
export const kHnswSpaces: readonly HnswSpace[] = Object.freeze(['l2', 'ip', 'cosine'] as const);

/** A numeric id of an open graph; valid in every thread of the process (native core) or only in the creating thread (fallback). */
export type HnswHandle = number;

/**
 * A label filter: a bitset indexed by label. Bit `label & 7` of byte
 * `label >> 3` (Uint8Array) or bit `label & 31` of word `label >> 5`
 * (Uint32Array) set means the label may be returned; labels past the end of
 * the bitset are excluded.
 */
export type HnswFilter = Uint8Array | Uint32Array;

/** The label written into result slots that no neighbour filled. */
export const kHnswNoLabel = 0xffff_ffff;

/**
 * The k nearest neighbours of `nq` queries, row-major, closest first.
 * Slot `q * k + j` holds the j-th neighbour of query q for `j < counts[q]`;
 * the remaining slots hold label {@link kHnswNoLabel} and distance `Infinity`.
 */
export interface HnswSearchResult {
  /** `nq * k` labels. */
  readonly labels: Uint32Array;
  /** `nq * k` distances in the graph's space (see {@link HnswSpace}). */
  readonly distances: Float32Array;
  /** How many neighbours each query found (≤ k: filters, deletions or a small graph give fewer). */
  readonly counts: Uint32Array;
}

/** What a graph was created with and holds now. */
export interface HnswGraphInfo {
  /** The distance space. */
  readonly space: HnswSpace;
  /** Vector dimensions. */
  readonly dims: number;
  /** hnswlib's M (links per node per layer, 2·M on layer 0). */
  readonly M: number;
  /** hnswlib's efConstruction (hnswlib raises it to at least M). */
  readonly efConstruction: number;
  /** Capacity: elements the graph can hold before {@link HnswCore.resize}. */
  readonly maxElements: number;
  /** Elements stored, deleted ones included. */
  readonly count: number;
  /** Elements marked deleted. */
  readonly deleted: number;
  /** Whether inserts may reuse slots of deleted elements. */
  readonly allowReplaceDeleted: boolean;
}

/**
 * The operations of one HNSW implementation. Every method validates its
 * arguments and throws a TypeError (wrong type) or RangeError (out of range,
 * or in conflict) naming the argument, e.g.
 * `dims must be an integer in [1, 65536], got 0`. Failures reported by
 * hnswlib itself are plain Errors whose message starts with `hnswlib: `.
 */
export interface HnswCore {
  /** `native`: the vecforge_hnsw addon; `hnswlib-node`: the single-threaded fallback. */
  readonly kind: 'native' | 'hnswlib-node';
  /** Whether a handle may be used from other worker threads of the process. */
  readonly sharedAcrossThreads: boolean;

  /**
   * Creates an empty graph.
   * @param space - the distance space.
   * @param dims - vector dimensions, an integer in [1, 65536].
   * @param maxElements - capacity, an integer in [1, 4294967295] (grow it later with {@link HnswCore.resize}).
   * @param M - links per node, an integer in [2, 2048]; 16 is the usual choice.
   * @param efConstruction - build-time candidate list size, an integer in [1, 1048576]; 200 is usual.
   * @param seed - level-generator seed, an integer in [0, 4294967295].
   * @param allowReplaceDeleted - whether inserts may later reuse deleted slots.
   * @returns the handle of the new graph.
   * @throws {TypeError | RangeError} on an invalid argument.
   */
  create(
    space: HnswSpace,
    dims: number,
    maxElements: number,
    M: number,
    efConstruction: number,
    seed: number,
    allowReplaceDeleted: boolean,
  ): HnswHandle;

  /**
   * Releases a graph. Calls still running on other threads finish safely;
   * later calls with the handle throw a RangeError.
   * @param handle - the graph.
   * @returns false when the handle was not open.
   */
  free(handle: HnswHandle): boolean;

  /**
   * Inserts rows synchronously (in the calling thread). Several threads may
   * call it at once on the same handle (native core); searches interleave
   * between rows. An existing label is updated in place.
   * @param handle - the graph.
   * @param data - row-major vectors, `length` a multiple of dims; read in place.
   * @param labels - one label per row.
   * @param replaceDeleted - reuse slots of deleted elements (needs allowReplaceDeleted). @default false
   * @throws {TypeError | RangeError} on an invalid argument; Error (`hnswlib: The number of elements exceeds
   *   the specified limit`) when the graph is full, with the rows before the failing one inserted.
   */
  addPoints(handle: HnswHandle, data: Float32Array, labels: Uint32Array, replaceDeleted?: boolean): void;

  /**
   * Inserts rows with `numThreads` native threads off the event loop. Do not
   * detach or transfer the buffers before the promise settles.
   * @param handle - the graph.
   * @param data - row-major vectors, `length` a multiple of dims.
   * @param labels - one label per row.
   * @param numThreads - native insert threads, an integer in [1, 1024] (ignored by the fallback).
   * @param replaceDeleted - reuse slots of deleted elements. @default false
   * @returns a promise that settles when every row is in; rejects (never throws) on an invalid argument.
   */
  addPointsParallel(
    handle: HnswHandle,
    data: Float32Array,
    labels: Uint32Array,
    numThreads: number,
    replaceDeleted?: boolean,
  ): Promise<void>;

  /**
   * Searches synchronously. Runs concurrently with other searches; hnswlib
   * cannot search while it inserts, so the native core alternates the two per
   * query / per row (a search waits for at most the rows being inserted).
   * @param handle - the graph.
   * @param queries - `nq * dims` row-major query vectors.
   * @param k - neighbours per query, an integer in [1, 65536].
   * @param ef - search candidate list size, an integer in [1, 1048576]; the effective value is max(ef, k).
   * @param filter - optional label bitset, evaluated natively (no JS call per candidate in the native core).
   * @returns labels, distances and counts, closest first.
   * @throws {TypeError | RangeError} on an invalid argument.
   */
  searchKnn(handle: HnswHandle, queries: Float32Array, k: number, ef: number, filter?: HnswFilter): HnswSearchResult;

  /**
   * {@link HnswCore.searchKnn} on a libuv pool thread, so the event loop is
   * never blocked (the fallback runs it in-thread).
   * @param handle - the graph.
   * @param queries - `nq * dims` row-major query vectors.
   * @param k - neighbours per query.
   * @param ef - search candidate list size.
   * @param filter - optional label bitset.
   * @returns a promise of the result; rejects (never throws) on an invalid argument.
   */
  searchKnnAsync(
    handle: HnswHandle,
    queries: Float32Array,
    k: number,
    ef: number,
    filter?: HnswFilter,
  ): Promise<HnswSearchResult>;

  /**
   * Distances as a search computes them from queries to given labels, one
   * call for a batch (native core only; see cross-scores.ts for the rest).
   * @param handle - the graph.
   * @param queries - `nq * dims` row-major query vectors.
   * @param labels - the labels of every query, query after query.
   * @param offsets - `nq + 1` entries: query q's labels are `labels[offsets[q], offsets[q + 1])`.
   * @param out - receives each label's distance at its position; NaN for a label not held or deleted.
   * @returns out.
   * @throws {TypeError | RangeError} naming a malformed argument.
   */
  labelScores?(handle: HnswHandle, queries: Float32Array, labels: Uint32Array, offsets: Uint32Array, out: Float32Array): Float32Array;

  /**
   * Changes the capacity; waits for running inserts and searches to finish.
   * @param handle - the graph.
   * @param newMaxElements - new capacity, ≥ the current count.
   * @throws {RangeError} when newMaxElements is below the current count.
   */
  resize(handle: HnswHandle, newMaxElements: number): void;

  /**
   * @param handle - the graph.
   * @returns elements stored, deleted ones included.
   */
  getCurrentCount(handle: HnswHandle): number;

  /**
   * @param handle - the graph.
   * @returns the capacity.
   */
  getMaxElements(handle: HnswHandle): number;

  /**
   * @param handle - the graph.
   * @returns elements marked deleted.
   */
  getDeletedCount(handle: HnswHandle): number;

  /**
   * @param handle - the graph.
   * @returns the graph's parameters and counts.
   */
  getInfo(handle: HnswHandle): HnswGraphInfo;

  /**
   * Marks a label deleted: searches never return it again, its slot stays.
   * @param handle - the graph.
   * @param label - the label.
   * @throws {Error} `hnswlib: Label not found` or `hnswlib: ... already deleted`.
   */
  markDelete(handle: HnswHandle, label: number): void;

  /**
   * Undoes {@link HnswCore.markDelete}.
   * @param handle - the graph.
   * @param label - the label.
   * @throws {Error} when the label is unknown or not deleted.
   */
  unmarkDelete(handle: HnswHandle, label: number): void;

  /**
   * Copies one stored vector out (unit-normalised for `cosine` graphs).
   * @param handle - the graph.
   * @param label - the label.
   * @returns a new Float32Array of dims values.
   * @throws {Error} `hnswlib: Label not found` for unknown or deleted labels.
   */
  getVector(handle: HnswHandle, label: number): Float32Array;

  /**
   * Writes the graph in hnswlib's own format (readable by hnswlib-node's
   * `readIndex`); waits for running inserts so the file is one snapshot.
   * @param handle - the graph.
   * @param path - the file to write.
   * @throws {Error} when the file cannot be written.
   */
  save(handle: HnswHandle, path: string): void;

  /**
   * Reads a graph written by {@link HnswCore.save} or by hnswlib / hnswlib-node.
   * hnswlib's format has no checksum: verify files before they get here.
   * @param path - the file.
   * @param space - the space it was built with (the file does not record it).
   * @param dims - vector dimensions; checked against the file.
   * @param maxElements - capacity; values below the stored count keep the file's capacity. @default the file's
   * @param allowReplaceDeleted - whether inserts may reuse deleted slots. @default false
   * @param hugePages - move the vectors and level-0 links into transparent huge pages (Linux), for
   *   faster searches at the cost of one copy while loading; false for a short job that applies a
   *   few changes and saves. Ignored by the hnswlib-node fallback. @default true
   * @returns the handle of the loaded graph.
   * @throws {RangeError} when dims does not match the file; Error when it cannot be read.
   */
  load(path: string, space: HnswSpace, dims: number, maxElements?: number, allowReplaceDeleted?: boolean, hugePages?: boolean): HnswHandle;
  /**
   * The same as {@link HnswCore.load}, from the file's bytes already in
   * memory (read once, for their checksum): one pass checks the structure
   * (sizes, levels, neighbour counts and ids), then hnswlib's fields are
   * filled as its loadIndex fills them, without its per-element seeks.
   * Native core only.
   * @throws {RangeError} when dims does not match, or the bytes are not a graph.
   */
  loadBuffer?(bytes: Uint8Array, space: HnswSpace, dims: number, maxElements?: number, allowReplaceDeleted?: boolean, hugePages?: boolean): HnswHandle;
  /**
   * The same as {@link HnswCore.loadBuffer}, reading the file itself in one
   * sequential pass: the level-0 block goes straight into the graph's
   * memory and every byte through SHA-256 (Node's OpenSSL) on the way.
   * When `sha256` is given and the file's differs, nothing is loaded:
   * handle 0. Native core only, and only where Node exports SHA-256.
   * @returns the handle (0 on a checksum mismatch) and the file's size and SHA-256 (hex; computed always).
   * @throws {RangeError} when dims does not match, or the file is not a graph; Error when it cannot be read.
   */
  loadFile?(path: string, space: HnswSpace, dims: number, maxElements: number | undefined, allowReplaceDeleted: boolean, hugePages: boolean, sha256?: string): { handle: HnswHandle; bytes: number; sha256: string };
}
