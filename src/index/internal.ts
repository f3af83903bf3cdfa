/**
 * What jobs need from an index and users never see: rebasing a kept index
 * onto its published copy, waiting for a lazily loaded graph, decoding a
 * lazily opened doc store, and opening with those lazy options. None of it
 * is on the {@link VectorIndex} contract or on {@link OpenIndexOptions}.
 * @internal
 */
import type { ShardLexical } from './hybrid.js';
import type { OpenIndexOptions } from './types.js';
import { kJobOpenOptions, VectorIndexImpl, type JobIndexHandle } from './vector-index-impl.js';
import type { VectorIndex } from './vector-index.js';

export type { ShardLexical } from './hybrid.js';
export type { JobIndexHandle } from './vector-index-impl.js';

/** The open options of a job. */
export interface JobOpenIndexOptions extends OpenIndexOptions {
  /**
   * Return once the doc store is decoded, while a pool worker goes on
   * checking and loading the graph; operations that need the graph wait
   * for it (async ones) or throw ERR_INDEX until it is loaded (`stats`,
   * `getVector`, `getProjectedVector`). A graph that fails its checksum
   * or does not load fails the first operation that needs it with
   * ERR_INDEX_CORRUPT. What a job does, to read its input meanwhile.
   * Ignored when the graph cannot be shared with the pool.
   * @default false
   */
  readonly lazyGraph?: boolean;
  /**
   * Return before the doc store is decoded (its checksum is checked): it is
   * decoded on the first use that needs it, and by an upsert only once its
   * inserts are running on the pool, so that decoding and inserting
   * overlap. What a reindex job does. Ignored for a PCA index.
   * @default false
   */
  readonly lazyDocs?: boolean;
}

/**
 * Open options for `engine.openIndex` that carry a job's lazy options.
 * @param options - the public and the job options.
 * @returns options to pass to `engine.openIndex`.
 */
export function jobOpenOptions(options: JobOpenIndexOptions): OpenIndexOptions {
  const { lazyGraph, lazyDocs, ...open } = options;
  return { ...open, [kJobOpenOptions]: { lazyGraph, lazyDocs } } as OpenIndexOptions;
}

/**
 * The members of an index only jobs use.
 * @param index - an index from `engine.createIndex` or `engine.openIndex`.
 * @returns its job handle.
 * @throws {TypeError} for any other object.
 */
export function jobIndexHandle(index: VectorIndex): JobIndexHandle {
  return VectorIndexImpl.jobHandle(index);
}


/**
 * The lexical side of a shard, for a sharded index's hybrid and lexical searches.
 * @param index - an index from `engine.createIndex` or `engine.openIndex`.
 * @returns the side, or null for an index without one.
 * @throws {TypeError} for any other object.
 */
export function shardLexicalHandle(index: VectorIndex): ShardLexical | null {
  return VectorIndexImpl.shardLexical(index);
}
