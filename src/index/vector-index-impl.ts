/**
 * The implementation of {@link VectorIndex}: the index's state, the write
 * queue that serialises changes and saves (searches run freely), and
 * delegation to the parts (insert, search, save, open, stats) and to the
 * PCA runtime. Jobs reach the members only they use through internal.ts.
 */
import { join } from 'node:path';
import { VecforgeError, throwIfAborted } from '../errors.js';
import type { IndexPcaRuntime, PcaFitSummary } from '../pca/index-runtime.js';
import type { DocRecord } from '../store/doc-store.js';
import type { HnswSearchResult } from './hnsw/core.js';
import { lexicalOf, prepareQueries, searchModeOf, searchPrepared, shardLexicalOf, vectorSideOf, type ShardLexical } from './hybrid.js';
import { markDeletedQuietly, pcaGraph, writeItems } from './insert.js';
import { createIndexState, openIndexState, releaseState, resolveOpenOptions, syncHandle } from './open.js';
import { boolOption, kDefaultUpsertOptions } from './options.js';
import { readVersionManifest, verifyVersionFiles } from './persist.js';
import { resolveSaveOptions, saveVersionLocked } from './save.js';
import { checkQueryRows, checkedQuery, hitsOf, type QueryFailures, queryVectors, resolveSearchOptions, searchOne, searchOnPool, settledOutcomes, sharedCopy } from './search.js';
import type { IndexState } from './state.js';
import { SearchCache, resolveSearchCacheOptions } from './search-cache.js';
import { indexStats } from './stats.js';
import type { Hit, IndexHost, IndexItem, IndexItemOutcome, IndexOptions, IndexStats, RefitPcaOptions, ResolvedSearchOptions, RetrieveAllOptions, SaveOptions, SearchOptions, SearchOutcome, UpsertOptions, WriteOptions } from './types.js';
import { failed } from './validate-items.js';
import type { VectorIndex } from './vector-index.js';

/** What only jobs use of an index (see internal.ts). */
export interface JobIndexHandle {
  /**
   * Points the index at a copy of the version it last saved (or opened),
   * in another directory: the current version of `dir`, whose files must be
   * those of that version (hard links or copies; the caller checks that by
   * the manifests' checksums, and the doc store, which later saves start
   * from, is checked against its manifest here). Later saves go to `dir`.
   * What a job does to reuse the index it published instead of opening the
   * copy from disk.
   * @param dir - an index directory whose current version is the copy.
   * @returns nothing.
   * @throws {VecforgeError} ERR_INDEX when the index has changes since its last save, was never saved, or has PCA; ERR_INDEX_CORRUPT when the copy's doc store does not match its manifest.
   */
  rebase(dir: string): Promise<void>;
  /**
   * Waits for a graph opened with `lazyGraph` to finish loading (at once
   * for any other index).
   * @returns nothing.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the graph file fails its checksum or does not load; ERR_CLOSED when the index is closed.
   */
  graphLoaded(): Promise<void>;
  /** Whether the index can be rebased (see {@link JobIndexHandle.rebase}). */
  readonly rebaseable: boolean;
  /**
   * Decodes the doc store now if the index was opened with `lazyDocs`.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when it does not decode.
   */
  loadDocs(): void;
  /** Whether the doc store is decoded (an index opened with `lazyDocs` decodes it on first use). */
  readonly docsLoaded: boolean;
}

/** The open options only jobs pass, carried under a symbol so they stay off {@link OpenIndexOptions}. */
export const kJobOpenOptions = Symbol('vecforge.jobOpenOptions');

/** The index behind the {@link VectorIndex} contract. */
export class VectorIndexImpl implements VectorIndex {
  readonly #s: IndexState;
  /** Whether anything may have changed since the index was opened or last saved. */
  #unsaved = false;
  #closed = false;
  /** Serialises mutations and saves: one at a time, searches run freely. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #job: JobIndexHandle;
  /** The `searchCache` option's cache, or null. */
  readonly #cache: SearchCache<Hit[]> | null;
  /**
   * Bumped when a queued change starts and again when it ends: a search
   * that overlaps a change in any way keys its result under a generation
   * no later search asks for, so the cache never answers with a state
   * that has since changed.
   */
  #generation = 0;

  private constructor(state: IndexState, searchCache: unknown = undefined) {
    this.#s = state;
    const cacheOptions = resolveSearchCacheOptions(searchCache);
    this.#cache = cacheOptions === null ? null : new SearchCache<Hit[]>(cacheOptions);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the handle's getters read this index's private state.
    const self = this;
    this.#job = Object.freeze({
      rebase: (dir: string) => this.#rebase(dir),
      graphLoaded: async () => {
        self.#checkOpen();
        if (self.#s.graphLoad !== null) await self.#s.graphLoad;
      },
      get rebaseable() {
        return !self.#closed && !self.#unsaved && self.#s.version !== null && self.#s.pca === null;
      },
      loadDocs: () => {
        self.#checkOpen();
        self.#s.labels.ensure();
      },
      get docsLoaded() {
        return self.#s.labels.loaded;
      },
    });
  }

  /**
   * Creates an empty index in `options.dir`.
   * @param host - the engine side.
   * @param options - index options.
   * @returns the index (nothing is written until `save()`).
   * @throws {TypeError | RangeError} for invalid options.
   * @throws {VecforgeError} ERR_INDEX when the directory already holds an index.
   */
  static create(host: IndexHost, options: IndexOptions): VectorIndexImpl {
    const isObject = options !== null && typeof options === 'object';
    const { searchCache, ...rest } = isObject ? options : ({} as IndexOptions);
    resolveSearchCacheOptions(searchCache);
    return new VectorIndexImpl(createIndexState(host, (isObject ? rest : options) as IndexOptions), searchCache);
  }

  /**
   * Opens the current version of an index directory (see open.ts).
   * @param host - the engine side.
   * @param dir - the index directory.
   * @param options - the public open options, and under {@link kJobOpenOptions} the job-only ones.
   * @returns the index.
   * @throws {VecforgeError} ERR_INDEX, ERR_INDEX_CORRUPT or ERR_INDEX_VERSION.
   */
  static async open(
    host: IndexHost,
    dir: string,
    options: { readonly hugePages?: boolean; readonly searchCache?: unknown; readonly [kJobOpenOptions]?: { readonly lazyGraph?: boolean; readonly lazyDocs?: boolean } } = {},
  ): Promise<VectorIndexImpl> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError(`dir must be a non-empty string, got ${String(dir)}`);
    const resolved = resolveOpenOptions({ hugePages: options.hugePages, ...options[kJobOpenOptions] });
    resolveSearchCacheOptions(options.searchCache);
    return new VectorIndexImpl(await openIndexState(host, dir, resolved), options.searchCache);
  }

  /**
   * The members only jobs use.
   * @param index - an index this module made.
   * @returns its job handle.
   * @throws {TypeError} for any other object.
   */
  static jobHandle(index: VectorIndex): JobIndexHandle {
    if (!(index instanceof VectorIndexImpl)) throw new TypeError('index must be an index made by engine.createIndex or engine.openIndex');
    return index.#job;
  }

  /**
   * The lexical side of an index as a shard of a sharded index.
   * @param index - an index this module made.
   * @returns the side, or null for an index without one.
   * @throws {TypeError} for any other object; {VecforgeError} ERR_CLOSED when it is closed.
   */
  static shardLexical(index: VectorIndex): ShardLexical | null {
    if (!(index instanceof VectorIndexImpl)) throw new TypeError('index must be an index made by engine.createIndex or engine.openIndex');
    index.#checkOpen();
    return shardLexicalOf(index.#s);
  }

  #checkOpen(): void {
    if (this.#closed) throw new VecforgeError('ERR_CLOSED', 'the index is closed');
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    // Anything queued may change the index; a save clears the mark when it ends.
    const marked = (): Promise<T> => {
      this.#unsaved = true;
      this.#generation++;
      // A lazily opened graph: everything queued needs it.
      const load = this.#s.graphLoad;
      const done = load === null ? fn() : load.then(fn);
      return done.finally(() => {
        this.#generation++;
      });
    };
    const run = this.#queue.then(marked, marked);
    this.#queue = run.catch(() => {});
    return run;
  }

  get count(): number {
    // Before a lazily opened doc store is decoded: the manifest's count (checked against the store when it is).
    return this.#s.labels.pendingCount ?? this.#s.labels.liveCount;
  }

  get dims(): number {
    return this.#s.options.dims;
  }

  async addBatch(items: readonly IndexItem[], options: WriteOptions = {}): Promise<IndexItemOutcome[]> {
    return this.#write(items, false, false, options.signal);
  }

  async upsert(items: readonly IndexItem[], options: UpsertOptions = {}): Promise<IndexItemOutcome[]> {
    const skipUnchanged = boolOption('skipUnchanged', options.skipUnchanged, kDefaultUpsertOptions.skipUnchanged);
    return this.#write(items, true, skipUnchanged, options.signal);
  }

  async #write(items: readonly IndexItem[], replace: boolean, skipUnchanged: boolean, signal?: AbortSignal): Promise<IndexItemOutcome[]> {
    this.#checkOpen();
    if (!Array.isArray(items)) throw new TypeError(`items must be an array, got ${items === null ? 'null' : typeof items}`);
    throwIfAborted(signal);
    return this.#serial(() => writeItems(this.#s, items, replace, skipUnchanged, signal));
  }

  #requirePca(): IndexPcaRuntime {
    if (this.#s.pca === null) throw new VecforgeError('ERR_PCA', 'this index has no PCA; create it with options.pca');
    return this.#s.pca;
  }

  /** Fits the model first when the index still samples or buffers (searches and saves need it). */
  async #ready(signal?: AbortSignal): Promise<void> {
    if (this.#s.graphLoad !== null) await this.#s.graphLoad;
    const pca = this.#s.pca;
    if (pca === null || (pca.fitted && pca.pendingCount === 0)) return;
    await this.#serial(() => pca.fit(pcaGraph(this.#s, signal), signal));
  }

  async fitPca(options: WriteOptions = {}): Promise<PcaFitSummary> {
    this.#checkOpen();
    const pca = this.#requirePca();
    throwIfAborted(options.signal);
    return this.#serial(() => pca.fit(pcaGraph(this.#s, options.signal), options.signal));
  }

  async refitPca(options: RefitPcaOptions = {}): Promise<PcaFitSummary> {
    this.#checkOpen();
    const pca = this.#requirePca();
    const sample = pca.refitSample(options.sample);
    const { signal } = options;
    throwIfAborted(signal);
    return this.#serial(() => pca.refit(pcaGraph(this.#s, signal), sample, signal));
  }

  async delete(ids: readonly string[]): Promise<IndexItemOutcome[]> {
    this.#checkOpen();
    if (!Array.isArray(ids)) throw new TypeError(`ids must be an array of strings, got ${ids === null ? 'null' : typeof ids}`);
    return this.#serial(async () => {
      const s = this.#s;
      s.labels.ensure();
      return ids.map((id) => {
        if (typeof id !== 'string') return failed(null, 'INVALID_ID', 'id must be a string');
        const label = s.labels.idToLabel.get(id);
        if (label === undefined) return failed(id, 'NOT_FOUND', 'id is not in the index');
        // A vector still buffered for the PCA fit is not in the graph yet.
        // (Not in the graph: a text stored for the lexical side alone.)
        if (s.pca?.drop(label) !== true) markDeletedQuietly(s, label);
        lexicalOf(s)?.remove(label);
        s.labels.forget(label);
        return { state: 'ok', id } as const;
      });
    });
  }

  async search(query: string | Float32Array, options: SearchOptions = {}): Promise<Hit[]> {
    this.#checkOpen();
    throwIfAborted(options.signal);
    const cache = this.#cache;
    if (cache === null || (typeof query !== 'string' && !(query instanceof Float32Array))) return this.#search(query, options);
    // Checked before the lookup, so an invalid search never answers from the cache.
    resolveSearchOptions(this.#s, options);
    const key = SearchCache.key(String(this.#generation), { ...options, signal: undefined }, query);
    const cached = cache.get(key);
    if (cached !== undefined) return [...cached];
    const hits = await this.#search(query, options);
    cache.set(key, hits);
    return [...hits];
  }

  async #search(query: string | Float32Array, options: SearchOptions): Promise<Hit[]> {
    const s = this.#s;
    const mode = searchModeOf(s, options?.mode);
    if (mode !== 'vector') return (await this.#searchModes([query], options, mode))[0] ?? [];
    const params = resolveSearchOptions(s, options);
    const q = query instanceof Float32Array ? checkedQuery(s, query) : await queryVectors(s, [query], options.signal);
    if (s.pca !== null) {
      // PCA: the query is projected (and the candidates reranked) on the pool.
      await this.#ready(options.signal);
      const shared = q.buffer instanceof SharedArrayBuffer ? q : sharedCopy(q);
      return hitsOf(s, await searchOnPool(s, shared, 1, params, options.signal), 0, params.k);
    }
    return hitsOf(s, await searchOne(s, q, params, options.signal), 0, params.k);
  }

  async searchBatch(queries: readonly (string | Float32Array)[] | Float32Array, options: SearchOptions = {}): Promise<Hit[][]> {
    this.#checkOpen();
    throwIfAborted(options.signal);
    const s = this.#s;
    const mode = searchModeOf(s, options?.mode);
    if (mode !== 'vector' && Array.isArray(queries)) return queries.length === 0 ? [] : this.#searchModes(queries, options, mode);
    const params = resolveSearchOptions(s, options);
    const dims = s.options.dims;
    let q: Float32Array;
    if (queries instanceof Float32Array) {
      if (queries.length % dims !== 0) throw new RangeError(`queries length ${queries.length} is not a multiple of dims ${dims}`);
      q = new Float32Array(new SharedArrayBuffer(Math.max(1, queries.length) * 4));
      q.set(queries);
      checkQueryRows(s, q, queries.length / dims);
    } else if (Array.isArray(queries)) q = await queryVectors(s, queries, options.signal);
    else throw new TypeError('queries must be an array of texts or vectors, or a Float32Array');
    return this.#searchRows(q, queries instanceof Float32Array ? queries.length / dims : queries.length, params, options.signal);
  }

  /** Searches `nq` checked query rows (shared memory) on the pool: one hit list per row. */
  async #searchRows(rows: Float32Array, nq: number, params: ResolvedSearchOptions, signal: AbortSignal | undefined): Promise<Hit[][]> {
    if (nq === 0) return [];
    const s = this.#s;
    await this.#ready(signal);
    const r = await searchOnPool(s, rows, nq, params, signal);
    return Array.from({ length: nq }, (_, i) => hitsOf(s, r, i, params.k));
  }

  async searchBatchSettled(queries: readonly unknown[], options: SearchOptions = {}): Promise<SearchOutcome[]> {
    this.#checkOpen();
    throwIfAborted(options.signal);
    if (!Array.isArray(queries)) throw new TypeError('queries must be an array of texts or vectors');
    const s = this.#s;
    const mode = searchModeOf(s, options?.mode);
    if (queries.length === 0) return [];
    const failures: QueryFailures = new Map();
    let lists: Hit[][];
    if (mode !== 'vector') lists = await this.#searchModes(queries, options, mode, failures);
    else {
      const params = resolveSearchOptions(s, options);
      const rows = await queryVectors(s, queries, options.signal, undefined, failures);
      // Only the queries that can be searched go to the pool.
      const ok = queries.flatMap((_, i) => (failures.has(i) ? [] : [i]));
      const dims = s.options.dims;
      let packed = rows;
      if (ok.length < queries.length) {
        packed = new Float32Array(new SharedArrayBuffer(Math.max(1, ok.length) * dims * 4));
        ok.forEach((i, j) => {
          packed.set(rows.subarray(i * dims, (i + 1) * dims), j * dims);
        });
      }
      const found = await this.#searchRows(packed, ok.length, params, options.signal);
      lists = queries.map(() => []);
      ok.forEach((i, j) => {
        lists[i] = found[j] ?? [];
      });
    }
    return settledOutcomes(lists, failures);
  }

  async retrieveAll(query: string | Float32Array, options: RetrieveAllOptions): Promise<Record<string, Hit[]>> {
    this.#checkOpen();
    if (options === null || typeof options !== 'object' || options.namespaces === null || typeof options.namespaces !== 'object') {
      throw new TypeError('options.namespaces must be an object of namespace → k');
    }
    throwIfAborted(options.signal);
    const s = this.#s;
    s.labels.ensure();
    const mode = searchModeOf(s, options.mode);
    if (mode !== 'vector') {
      // Embedded once, searched per namespace.
      const prepared = await prepareQueries(s, [query], mode, options.signal);
      const side = vectorSideOf(s, () => this.#ready(options.signal), options.signal);
      const found = await Promise.all(
        Object.entries(options.namespaces).map(async ([name, k]) => {
          const nsCount = s.labels.namespaceCount(name);
          if (nsCount === 0) return [name, []] as const;
          const opts = { k: Math.min(k, nsCount), namespace: name, ...(options.ef !== undefined ? { ef: Math.max(options.ef, Math.min(k, nsCount)) } : {}), ...(options.filter !== undefined ? { filter: options.filter } : {}), ...(options.fusion !== undefined ? { fusion: options.fusion } : {}) };
          return [name, (await searchPrepared(s, prepared, opts, mode, side))[0] ?? []] as const;
        }),
      );
      return Object.fromEntries(found);
    }
    const q = await queryVectors(s, [query], options.signal);
    await this.#ready(options.signal);
    const entries = Object.entries(options.namespaces);
    const results = await Promise.all(
      entries.map(async ([name, k]) => {
        const nsCount = s.labels.namespaceCount(name);
        if (nsCount === 0) return [name, []] as const;
        const params = resolveSearchOptions(s, { k: Math.min(k, nsCount), namespace: name, ...(options.ef !== undefined ? { ef: Math.max(options.ef, Math.min(k, nsCount)) } : {}), ...(options.filter !== undefined ? { filter: options.filter } : {}) });
        let r: HnswSearchResult;
        if (s.pca !== null) r = await searchOnPool(s, q, 1, params, options.signal);
        else if (s.core.sharedAcrossThreads) r = await s.core.searchKnnAsync(s.handle, q, params.k, params.ef, params.filter);
        else r = s.core.searchKnn(s.handle, q, params.k, params.ef, params.filter);
        return [name, hitsOf(s, r, 0, params.k)] as const;
      }),
    );
    return Object.fromEntries(results);
  }

  /** Hybrid and lexical searches (hybrid.ts). */
  async #searchModes(queries: readonly unknown[], options: SearchOptions, mode: 'hybrid' | 'lexical', failures?: QueryFailures): Promise<Hit[][]> {
    const s = this.#s;
    const prepared = await prepareQueries(s, queries, mode, options.signal, failures);
    return searchPrepared(s, prepared, options, mode, vectorSideOf(s, () => this.#ready(options.signal), options.signal), failures);
  }

  stats(): IndexStats {
    this.#checkOpen();
    this.#s.labels.ensure();
    return { ...indexStats(this.#s), searchCache: this.#cache?.stats() ?? null };
  }

  async save(options?: SaveOptions): Promise<string> {
    this.#checkOpen();
    const onConflict = resolveSaveOptions(options);
    return this.#serial(async () => {
      const s = this.#s;
      s.labels.ensure();
      const pca = s.pca;
      if (pca !== null && (pca.pendingCount > 0 || (!pca.fitted && s.labels.liveCount > 0))) await pca.fit(pcaGraph(s));
      const name = await saveVersionLocked(s, onConflict);
      this.#unsaved = false;
      return name;
    });
  }

  async #rebase(dir: string): Promise<void> {
    this.#checkOpen();
    await this.#queue;
    const s = this.#s;
    if (s.graphLoad !== null) await s.graphLoad;
    if (this.#unsaved || s.version === null || s.pca !== null) throw new VecforgeError('ERR_INDEX', 'only a saved index without PCA and without unsaved changes can be rebased');
    s.labels.ensure();
    const version = readVersionManifest(dir);
    verifyVersionFiles(dir, version, ['docs.lmdb']);
    s.options = Object.freeze({ ...s.options, dir });
    s.version = version.name;
    s.labels.saved(join(version.path, 'docs.lmdb'));
    s.lexical?.rebase(version.path);
  }

  get(id: string): DocRecord | undefined {
    const labels = this.#s.labels;
    labels.ensure();
    const label = labels.idToLabel.get(id);
    return label === undefined ? undefined : labels.docs[label];
  }

  ids(): string[] {
    this.#s.labels.ensure();
    return [...this.#s.labels.idToLabel.keys()];
  }

  getVector(id: string): Float32Array | undefined {
    const s = this.#s;
    s.labels.ensure();
    const label = s.labels.idToLabel.get(id);
    if (label === undefined) return undefined;
    if (s.pca === null) return graphVector(s, label);
    return s.pca.vector(label);
  }

  getProjectedVector(id: string): Float32Array | undefined {
    const s = this.#s;
    s.labels.ensure();
    const label = s.labels.idToLabel.get(id);
    if (label === undefined || s.pca?.isPending(label) === true) return undefined;
    return graphVector(s, label);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    await releaseState(this.#s);
  }
}

/** A label's vector in the graph; undefined for a text stored for the lexical side alone (no vector). */
function graphVector(s: IndexState, label: number): Float32Array | undefined {
  const handle = syncHandle(s);
  try {
    return s.core.getVector(handle, label);
  } catch (error) {
    if (lexicalOf(s)?.index.has(label) === true) return undefined;
    throw error;
  }
}
