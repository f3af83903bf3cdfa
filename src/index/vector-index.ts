/**
 * VectorIndex: an HNSW graph (one per index, shared by every pool worker)
 * plus the doc store mapping string ids to 32-bit labels, namespaces and
 * metadata. Texts are embedded on the pool and inserted by the worker that
 * embedded them; vectors are inserted by pool workers in parallel.
 *
 * This file holds the contract users program against; the implementation
 * (vector-index-impl.ts) and what only jobs use (internal.ts) stay internal.
 */
import type { DocRecord } from '../store/doc-store.js';
import type { Hit, IndexItem, IndexItemOutcome, IndexStats, PcaFitSummary, RefitPcaOptions, RetrieveAllOptions, SaveOptions, SearchOptions, SearchOutcome, UpsertOptions, WriteOptions } from './types.js';

/** A searchable HNSW index. Create with `engine.createIndex` or `engine.openIndex`. */
export interface VectorIndex {
  /** Items in the index (deleted ones excluded). */
  readonly count: number;

  /** Input vector dims: what added vectors and queries have (with PCA the graph holds `pca.dims`). */
  readonly dims: number;

  /**
   * Adds items. An id already in the index fails with EXISTS (use upsert);
   * a repeated id within one batch fails with DUPLICATE_ID (the first
   * occurrence is added). Every other item is added.
   * @param items - the items.
   * @param options - `signal` cancels embedding and insertion.
   * @returns one outcome per item, in order.
   * @throws {TypeError} when `items` is not an array.
   */
  addBatch(items: readonly IndexItem[], options?: WriteOptions): Promise<IndexItemOutcome[]>;

  /**
   * Adds items, replacing the vector, namespace and metadata of ids already
   * in the index. A repeated id within one batch fails with DUPLICATE_ID.
   * @param items - the items.
   * @param options - `signal`; `skipUnchanged`: an item whose `hash`,
   *   namespace and metadata equal the stored record's is left as it is,
   *   its vector not used, and every ok outcome says what changed
   *   (`change`).
   * @returns one outcome per item, in order.
   * @throws {TypeError} when `items` is not an array, or an option has the wrong type.
   */
  upsert(items: readonly IndexItem[], options?: UpsertOptions): Promise<IndexItemOutcome[]>;

  /**
   * Fits the PCA model now, on the vectors sampled so far, then projects and
   * inserts the buffered ones. Without this call the fit runs once
   * `pca.sample` vectors have been added, or at the first search or save.
   * A fitted index returns its model's figures.
   * @param options - `signal` cancels the fit.
   * @returns the model's dims, explained variance and fit time.
   * @throws {VecforgeError} ERR_PCA when the index has no PCA, or fewer vectors than the fit needs (max(2, pca.dims)).
   * @throws {AbortError} when cancelled.
   */
  fitPca(options?: WriteOptions): Promise<PcaFitSummary>;

  /**
   * Refits the PCA model on a fresh uniform sample of the index's current
   * full vectors and rebuilds the graph with it (what `vecforge reindex
   * --refit-pca` runs). Searches keep using the old graph until the new
   * one is complete. Needs the full vectors (`pca.rerank: true`); the
   * rebuilt graph is fed from them, so inputs carry their half-precision
   * rounding (relative 2⁻¹¹ of each row's largest value).
   * @param options - `sample`: the sample size, default `pca.sample`; `signal`.
   * @returns the new model's figures; `inserted` is the number of vectors rebuilt.
   * @throws {TypeError | RangeError} for an invalid `sample`.
   * @throws {VecforgeError} ERR_PCA when the index has no PCA, keeps no full vectors, or has too few vectors.
   * @throws {AbortError} when cancelled (the index keeps its old model and graph).
   */
  refitPca(options?: RefitPcaOptions): Promise<PcaFitSummary>;

  /**
   * Marks items deleted; searches never return them again and their graph
   * slots are reused by later inserts once deleted elements make up a fifth
   * of the graph. Unknown ids fail per item.
   * @param ids - the ids.
   * @returns one outcome per id.
   * @throws {TypeError} when `ids` is not an array.
   */
  delete(ids: readonly string[]): Promise<IndexItemOutcome[]>;

  /**
   * Finds the k nearest items to a text or a vector.
   * @param query - a text (embedded on the pool) or a vector of the index dims.
   * @param options - k, ef, namespace, filter, rerankFactor, signal.
   * @returns hits, best first.
   * @throws {RangeError} for k ≤ 0, k > count, ef < k, wrong dims.
   * @throws {AbortError} when cancelled.
   */
  search(query: string | Float32Array, options?: SearchOptions): Promise<Hit[]>;

  /**
   * Searches many queries on the pool in parallel.
   * @param queries - texts or vectors, or one row-major Float32Array of nq × dims.
   * @param options - as for search.
   * @returns one hit list per query.
   * @throws {RangeError | TypeError | VecforgeError} for the first query that cannot be answered, naming its position (the whole batch fails; {@link VectorIndex.searchBatchSettled} answers the others).
   */
  searchBatch(queries: readonly (string | Float32Array)[] | Float32Array, options?: SearchOptions): Promise<Hit[][]>;

  /**
   * Searches many queries as `searchBatch` does, except that a query that
   * cannot be answered does not fail the batch: it gets an outcome with a
   * code and a reason (a text the model cannot embed in `vector` mode, one
   * with no searchable word in `lexical` mode, neither in `hybrid`; a
   * vector of the wrong dims or with a non-finite component; a value that
   * is neither a text nor a vector), and every other query its hits, as
   * `searchBatch` would give them. Bad options, a closed index or an abort
   * still reject the whole call.
   * @param queries - texts or vectors.
   * @param options - as for search.
   * @returns one outcome per query, in order.
   */
  searchBatchSettled(queries: readonly unknown[], options?: SearchOptions): Promise<SearchOutcome[]>;

  /**
   * Embeds one query once and searches several namespaces in parallel: one
   * call for "all memory types at once".
   * @param query - a text or a vector.
   * @param options - `namespaces`: name → k; `ef`, `filter`, `signal`.
   * @returns name → hits.
   */
  retrieveAll(query: string | Float32Array, options: RetrieveAllOptions): Promise<Record<string, Hit[]>>;

  /**
   * Statistics.
   * @returns counts, dims, parameters, bytes per vector and, for a PCA
   *   index, dims before and after, explained variance, bytes per vector
   *   with and without PCA, and the full vectors' memory and disk use.
   */
  stats(): IndexStats;

  /**
   * Saves a new version: graph, doc store and, with PCA, the model
   * (`pca.model`) and the full vectors (`full-vectors.f16`) are written
   * into a fresh version directory, checksummed, and published by swapping
   * `current`. A PCA index that still samples is fitted first (an empty one
   * is saved unfitted). The previous version stays readable until the new
   * one is complete.
   *
   * The publish runs under the directory's lock (`DIR/.lock`, the one jobs
   * hold): while a job (`buildIndex`, `reindex`, the CLI) runs on the
   * directory, a save fails with ERR_LOCKED and writes nothing. A save
   * publishes on top of the version this index was opened at (or last
   * saved): when another version was published since (a job or another
   * handle saved), it refuses with ERR_CONFLICT, because publishing would
   * silently revert that version's changes. To keep both, close this index,
   * reopen the directory and apply the changes again; to replace that
   * version with this index's content, pass `{ onConflict: 'overwrite' }`.
   * @param options - `onConflict`. @default { onConflict: 'error' }
   * @returns the version name.
   * @throws {VecforgeError} ERR_CONFLICT when another version was published since this index's base; ERR_LOCKED while a job holds the directory; ERR_PCA when a PCA index holds fewer vectors than the fit needs.
   * @throws {TypeError | RangeError} for an invalid `options.onConflict`.
   */
  save(options?: SaveOptions): Promise<string>;

  /**
   * The stored record of an id.
   * @param id - the id.
   * @returns its namespace, metadata and content hash, or undefined.
   */
  get(id: string): DocRecord | undefined;

  /**
   * Every id in the index.
   * @returns the ids.
   */
  ids(): string[];

  /**
   * The stored vector of an id, in the input dims (unit-normalised in
   * cosine indexes), usable as a query. With PCA: the kept full vector
   * (half precision) or the one buffered for the fit; undefined when the
   * index keeps no full vectors (`pca.rerank: false`), see
   * {@link VectorIndex.getProjectedVector}.
   * @param id - the id.
   * @returns a copy of the vector, or undefined.
   */
  getVector(id: string): Float32Array | undefined;

  /**
   * The graph's vector of an id: with PCA, its projection (`pca.dims`
   * values, re-normalised for cosine and ip); without, as `getVector`.
   * @param id - the id.
   * @returns a copy, or undefined (also for a vector still buffered for the PCA fit).
   */
  getProjectedVector(id: string): Float32Array | undefined;

  /**
   * Releases the graph (and the full vectors' memory or working file). Unsaved changes are lost.
   * @returns nothing.
   */
  close(): Promise<void>;
}
