/**
 * A sharded index opened for search: every shard an ordinary index,
 * queries embedded once, searched on every shard (each shard's search runs
 * on the pool, so they run side by side), and the top k merged by score.
 * Namespaces and metadata filters apply within each shard, which gives
 * the same answer as applying them to the whole. Hybrid and lexical
 * searches score BM25 with the statistics of all the shards together
 * (sharded-hybrid.ts). Writes go through jobs
 * (`vecforge reindex`), which rebuild the shards and publish a new set.
 */
import { VecforgeError } from '../../errors.js';
import type { ItemOutcome } from '../../scheduler/outcome.js';
import type { DocRecord } from '../../store/doc-store.js';
import { shardLexicalHandle, type ShardLexical } from '../internal.js';
import type { HnswSpace } from '../hnsw/core.js';
import { notAQuery, notEmbedded, type QueryFailures, queryProblem, settledOutcomes, vectorInLexicalMode, vectorQueryProblem } from '../search.js';
import type { Hit, IndexItemOutcome, IndexStats, OpenIndexOptions, PcaFitSummary, RetrieveAllOptions, SearchOptions, SearchOutcome } from '../types.js';
import type { VectorIndex } from '../vector-index.js';
import { currentShardDirs, shardOf } from './layout.js';
import { checkedLexicalSides, mergeHits, searchShardedModes, shardedSearchMode, type ShardedQuery, type ShardedSearchContext } from './sharded-hybrid.js';

/** What a sharded index needs from its engine. */
export interface ShardedHost {
  /** The model's dims. */
  readonly modelDims: number;
  /** Embeds query texts (no insert). */
  embed(texts: readonly unknown[], signal?: AbortSignal): Promise<{ vectors: Float32Array; items: readonly ItemOutcome[] }>;
  /** Opens one shard, an ordinary index directory. */
  openShard(dir: string, options: OpenIndexOptions): Promise<VectorIndex>;
}

function readOnly(what: string): Promise<never> {
  return Promise.reject(new VecforgeError('ERR_INDEX', `a sharded index is searched, not written: ${what} is not available; update it with \`vecforge reindex --index DIR --input FILE\` (its shards are rebuilt by jobs and published as one set)`));
}

/**
 * The lexical figures of the whole: counts, memory and disk summed over the
 * shards (a term in several shards counts once in each); null when a shard
 * has no lexical index.
 */
function lexicalStatsOf(all: readonly IndexStats[]): IndexStats['lexical'] {
  const parts = all.map((s) => s.lexical);
  const first = parts[0];
  if (first === undefined || first === null || parts.some((p) => p === null)) return null;
  const sum = (f: (p: NonNullable<IndexStats['lexical']>) => number): number => parts.reduce((a, p) => a + (p === null ? 0 : f(p)), 0);
  const docs = sum((p) => p.docs);
  const memoryBytes = sum((p) => p.memoryBytes);
  const diskBytes = sum((p) => p.diskBytes);
  const per = (bytes: number): number => Math.round(bytes / Math.max(1, docs));
  return { ...first, docs, terms: sum((p) => p.terms), postings: sum((p) => p.postings), memoryBytes, segments: sum((p) => p.segments), diskBytes, memoryBytesPerDoc: per(memoryBytes), diskBytesPerDoc: per(diskBytes) };
}

/** A sharded index: search fans out to every shard and merges. */
export class ShardedIndex implements VectorIndex {
  readonly #host: ShardedHost;
  readonly #shards: readonly VectorIndex[];
  readonly #version: string;
  readonly #efSearch: number;
  /** The shards' space (they share it), for the checks of query vectors. */
  readonly #space: HnswSpace;
  readonly #dir: string;
  /** The shards' lexical sides (null when a shard has none), read on first use. */
  #lexical: ShardLexical[] | null | undefined;
  /** Each shard's namespace counts, read on first use (the set is read-only; a shard's full stats are not cheap). */
  #namespaces: ReadonlyArray<Readonly<Record<string, number>>> | undefined;

  private constructor(host: ShardedHost, shards: readonly VectorIndex[], version: string, dir: string) {
    this.#host = host;
    this.#shards = shards;
    this.#version = version;
    this.#dir = dir;
    const first = shards[0]?.stats();
    this.#efSearch = first?.params.efSearch ?? 64;
    this.#space = first?.space ?? 'cosine';
  }

  /**
   * Opens the current set of a sharded index directory: every shard, side
   * by side, each checked against its manifest as `openIndex` does.
   * @param host - the engine side.
   * @param dir - the sharded index directory.
   * @param options - open options, passed to every shard.
   * @returns the index.
   * @throws {VecforgeError} ERR_INDEX when nothing is published; ERR_INDEX_CORRUPT for a damaged set or shard (the shards opened are closed again).
   */
  static async open(host: ShardedHost, dir: string, options: OpenIndexOptions): Promise<ShardedIndex> {
    const { name, dirs } = currentShardDirs(dir);
    const opened = await Promise.allSettled(dirs.map((d) => host.openShard(d, options)));
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const shards = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed !== undefined) {
      await Promise.allSettled(shards.map((s) => s.close()));
      throw failed.reason;
    }
    const dims = shards[0]?.dims;
    if (shards.some((s) => s.dims !== dims)) throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${dir}: its shards hold vectors of different dims`);
    return new ShardedIndex(host, shards, name, dir);
  }

  /** Items in every shard. */
  get count(): number {
    return this.#shards.reduce((a, s) => a + s.count, 0);
  }

  /** Input vector dims. */
  get dims(): number {
    return this.#shards[0]?.dims ?? this.#host.modelDims;
  }

  /** The shards, in shard order (for inspection and tests). */
  get shards(): readonly VectorIndex[] {
    return this.#shards;
  }

  addBatch(): Promise<IndexItemOutcome[]> {
    return readOnly('addBatch');
  }

  upsert(): Promise<IndexItemOutcome[]> {
    return readOnly('upsert');
  }

  delete(): Promise<IndexItemOutcome[]> {
    return readOnly('delete');
  }

  fitPca(): Promise<PcaFitSummary> {
    return readOnly('fitPca');
  }

  refitPca(): Promise<PcaFitSummary> {
    return readOnly('refitPca');
  }

  save(): Promise<string> {
    return readOnly('save');
  }

  /** Checks k and ef against the whole index, as one index would. */
  #checkK(options: { readonly k?: number; readonly ef?: number }): { k: number; ef: number | undefined } {
    const count = this.count;
    if (count === 0) throw new RangeError('the index is empty');
    const k = options.k ?? Math.min(10, count);
    if (!Number.isInteger(k) || k < 1 || k > count) throw new RangeError(`options.k must be an integer in [1, ${count}] (the index holds ${count} items), got ${k}`);
    const ef = options.ef;
    if (ef !== undefined && (!Number.isInteger(ef) || ef < k)) throw new RangeError(`options.ef must be an integer ≥ k = ${k}, got ${ef}`);
    return { k, ef };
  }

  /** Per-shard options: k and ef clipped to what the shard holds; undefined for an empty shard. */
  #shardOptions<T extends { readonly k?: number; readonly ef?: number }>(shard: VectorIndex, options: T, k: number, ef: number | undefined): T | undefined {
    if (shard.count === 0) return undefined;
    const kk = Math.min(k, shard.count);
    // Vector mode on every shard: scores (cosine or distance) merge across shards, fused ranks would not.
    return { ...options, k: kk, ef: Math.max(kk, ef ?? Math.max(this.#efSearch, k)), mode: 'vector', fusion: undefined };
  }

  /** The shards' lexical sides, checked to follow the same rules; null when a shard has none. */
  #lexicalSides(): ShardLexical[] | null {
    if (this.#lexical === undefined) this.#lexical = checkedLexicalSides(this.#shards.map((s) => shardLexicalHandle(s)), this.#dir);
    return this.#lexical;
  }

  /** Each shard's items by namespace. */
  #shardNamespaces(): ReadonlyArray<Readonly<Record<string, number>>> {
    this.#namespaces ??= this.#shards.map((s) => s.stats().namespaces);
    return this.#namespaces;
  }

  /** The mode of a search (`hybrid` by default when the shards hold texts). */
  #mode(mode: unknown): 'vector' | 'hybrid' | 'lexical' {
    return shardedSearchMode(this.#lexicalSides(), mode);
  }

  /** Queries for the hybrid and lexical modes: texts embedded once for `hybrid` (a text that does not embed keeps its reason: the lexical side answers it). */
  async #prepare(queries: readonly unknown[], mode: 'hybrid' | 'lexical', signal: AbortSignal | undefined, failures?: QueryFailures): Promise<ShardedQuery[]> {
    const dims = this.dims;
    const out: ShardedQuery[] = queries.map((q, i) => {
      if (typeof q === 'string') return { text: q, vector: null, vectorProblem: 'not embedded' };
      if (!(q instanceof Float32Array)) notAQuery(failures, i, q);
      else if (mode === 'lexical') vectorInLexicalMode(failures, i);
      else if (this.#vectorOk(q, i, failures)) return { text: null, vector: q, vectorProblem: null };
      return { text: null, vector: null, vectorProblem: 'invalid' };
    });
    const at = out.flatMap((q, i) => (q.text !== null ? [i] : []));
    if (mode === 'hybrid' && at.length > 0 && dims === this.#host.modelDims) {
      const r = await this.#host.embed(
        at.map((i) => out[i]?.text),
        signal,
      );
      r.items.forEach((item, j) => {
        const i = at[j] as number;
        const text = out[i]?.text ?? null;
        out[i] = item.state === 'ok' ? { text, vector: r.vectors.slice(j * dims, (j + 1) * dims), vectorProblem: null } : { text, vector: null, vectorProblem: item.reason ?? item.state };
      });
    }
    return out;
  }

  /**
   * Whether a query vector can be searched on every shard: its dims, its
   * components finite, its norm (l2, ip) within float32's distances.
   * @throws {RangeError} when it cannot and there are no `failures` to take it.
   */
  #vectorOk(q: Float32Array, i: number, failures: QueryFailures | undefined): boolean {
    const problem = vectorQueryProblem(q, this.dims, this.#space, i);
    if (problem !== null) queryProblem(failures, i, 'INVALID_QUERY', new RangeError(problem[0]), problem[1]);
    return problem === null;
  }

  #context(ef: number | undefined): ShardedSearchContext {
    return {
      shards: this.#shards,
      lexical: this.#lexicalSides() ?? [],
      dims: this.dims,
      shardOptions: (shard, options, k) => this.#shardOptions(shard, options, k, ef),
      shardOfId: (id) => shardOf(id, this.#shards.length),
    };
  }

  /** Query texts embedded once (each shard would embed them again); vectors kept. */
  async #vectors(queries: readonly unknown[], signal: AbortSignal | undefined, failures?: QueryFailures): Promise<Float32Array[]> {
    const texts: string[] = [];
    const at: number[] = [];
    queries.forEach((q, i) => {
      if (typeof q === 'string') {
        texts.push(q);
        at.push(i);
      } else if (!(q instanceof Float32Array)) notAQuery(failures, i, q);
    });
    const out = queries.map((q) => (q instanceof Float32Array ? q : new Float32Array(0)));
    if (texts.length === 0) return out;
    const dims = this.dims;
    if (dims !== this.#host.modelDims) throw new RangeError(`the index has ${dims} dims but the model embeds ${this.#host.modelDims}; search with vectors`);
    const r = await this.#host.embed(texts, signal);
    r.items.forEach((item, j) => {
      const i = at[j] ?? j;
      if (item.state === 'ok') out[i] = r.vectors.slice(j * dims, (j + 1) * dims);
      else notEmbedded(failures, i, item);
    });
    return out;
  }

  /**
   * Finds the k nearest items over every shard.
   * @param query - a text (embedded once) or a vector.
   * @param options - as for one index; k and ef apply to the whole.
   * @returns hits, best first.
   * @throws {RangeError} for k ≤ 0, k > count, ef < k, wrong dims.
   */
  async search(query: string | Float32Array, options: SearchOptions = {}): Promise<Hit[]> {
    const { k, ef } = this.#checkK(options);
    const mode = this.#mode(options.mode);
    if (mode !== 'vector') return (await searchShardedModes(this.#context(ef), await this.#prepare([query], mode, options.signal), options, k, mode))[0] ?? [];
    const [vector] = await this.#vectors([query], options.signal);
    const lists = await Promise.all(
      this.#shards.map((s) => {
        const o = this.#shardOptions(s, options, k, ef);
        return o === undefined ? [] : s.search(vector as Float32Array, o);
      }),
    );
    return mergeHits(lists, k);
  }

  /**
   * Searches many queries on every shard.
   * @param queries - texts or vectors, or one row-major Float32Array of nq × dims.
   * @param options - as for search.
   * @returns one hit list per query.
   */
  async searchBatch(queries: readonly (string | Float32Array)[] | Float32Array, options: SearchOptions = {}): Promise<Hit[][]> {
    const { k, ef } = this.#checkK(options);
    const mode = this.#mode(options.mode);
    if (mode !== 'vector' && Array.isArray(queries)) {
      return queries.length === 0 ? [] : searchShardedModes(this.#context(ef), await this.#prepare(queries, mode, options.signal), options, k, mode);
    }
    let flat: Float32Array;
    if (queries instanceof Float32Array) flat = queries;
    else {
      if (!Array.isArray(queries)) throw new TypeError('queries must be an array of texts or vectors, or a Float32Array');
      const vectors = await this.#vectors(queries, options.signal);
      const dims = this.dims;
      flat = new Float32Array(vectors.length * dims);
      vectors.forEach((v, i) => {
        if (v.length !== dims) throw new RangeError(`query ${i} has ${v.length} dims, the index has ${dims}`);
        flat.set(v, i * dims);
      });
    }
    return this.#searchRows(flat, options, k, ef);
  }

  /** Searches row-major query vectors on every shard and merges each query's hits. */
  async #searchRows(flat: Float32Array, options: SearchOptions, k: number, ef: number | undefined): Promise<Hit[][]> {
    const nq = Math.floor(flat.length / Math.max(1, this.dims));
    if (nq === 0) return [];
    const lists = await Promise.all(
      this.#shards.map((s) => {
        const o = this.#shardOptions(s, options, k, ef);
        return o === undefined ? null : s.searchBatch(flat, o);
      }),
    );
    return Array.from({ length: nq }, (_, q) => mergeHits(lists.map((l) => l?.[q] ?? []), k));
  }

  /**
   * Searches many queries on every shard; a query that cannot be answered
   * gets a failed outcome instead of failing the batch (see VectorIndex).
   * @param queries - texts or vectors.
   * @param options - as for search.
   * @returns one outcome per query, in order.
   */
  async searchBatchSettled(queries: readonly unknown[], options: SearchOptions = {}): Promise<SearchOutcome[]> {
    if (!Array.isArray(queries)) throw new TypeError('queries must be an array of texts or vectors');
    const { k, ef } = this.#checkK(options);
    const mode = this.#mode(options.mode);
    if (queries.length === 0) return [];
    const failures: QueryFailures = new Map();
    let lists: Hit[][];
    if (mode !== 'vector') lists = await searchShardedModes(this.#context(ef), await this.#prepare(queries, mode, options.signal, failures), options, k, mode, failures);
    else {
      const vectors = await this.#vectors(queries, options.signal, failures);
      // Embedded texts are checked already; vectors given are checked here as the shards would.
      const ok = queries.flatMap((q, i) => (!failures.has(i) && (typeof q === 'string' || this.#vectorOk(vectors[i] as Float32Array, i, failures)) ? [i] : []));
      const flat = new Float32Array(ok.length * this.dims);
      ok.forEach((i, j) => {
        flat.set(vectors[i] as Float32Array, j * this.dims);
      });
      const found = await this.#searchRows(flat, options, k, ef);
      lists = queries.map(() => []);
      ok.forEach((i, j) => {
        lists[i] = found[j] ?? [];
      });
    }
    return settledOutcomes(lists, failures);
  }

  /**
   * Embeds one query once and searches several namespaces on every shard.
   * @param query - a text or a vector.
   * @param options - namespace → k, ef, filter, signal.
   * @returns namespace → hits.
   */
  async retrieveAll(query: string | Float32Array, options: RetrieveAllOptions): Promise<Record<string, Hit[]>> {
    if (options === null || typeof options !== 'object' || options.namespaces === null || typeof options.namespaces !== 'object') {
      throw new TypeError('options.namespaces must be an object of namespace → k');
    }
    this.#checkK({ k: 1 });
    const mode = this.#mode(options.mode);
    if (mode !== 'vector') {
      // Embedded once, searched per namespace.
      const prepared = await this.#prepare([query], mode, options.signal);
      const perShard = this.#shardNamespaces();
      const found = await Promise.all(
        Object.entries(options.namespaces).map(async ([ns, k]) => {
          const held = perShard.reduce((a, n) => a + (n[ns] ?? 0), 0);
          if (held === 0) return [ns, []] as const;
          const kk = Math.min(k, held);
          const opts: SearchOptions = { k: kk, namespace: ns, ...(options.ef !== undefined ? { ef: Math.max(options.ef, kk) } : {}), ...(options.filter !== undefined ? { filter: options.filter } : {}), ...(options.fusion !== undefined ? { fusion: options.fusion } : {}) };
          return [ns, (await searchShardedModes(this.#context(opts.ef), prepared, opts, kk, mode))[0] ?? []] as const;
        }),
      );
      return Object.fromEntries(found);
    }
    const [vector] = await this.#vectors([query], options.signal);
    const perShard = this.#shardNamespaces();
    const results = await Promise.all(
      this.#shards.map((s, i) => {
        const held = perShard[i] ?? {};
        const namespaces: Record<string, number> = {};
        for (const [ns, k] of Object.entries(options.namespaces)) {
          const n = held[ns] ?? 0;
          if (n > 0) namespaces[ns] = Math.min(k, n);
        }
        return Object.keys(namespaces).length === 0 ? ({} as Record<string, Hit[]>) : s.retrieveAll(vector as Float32Array, { ...options, namespaces, mode: 'vector', fusion: undefined });
      }),
    );
    const out: Record<string, Hit[]> = {};
    for (const [ns, k] of Object.entries(options.namespaces)) out[ns] = mergeHits(results.map((r) => r[ns] ?? []), k);
    return out;
  }

  /**
   * Statistics of the whole: counts, namespaces and capacity summed over
   * the shards; parameters, dims and per-vector figures of the first shard
   * (every shard is built with the same).
   * @returns the statistics; `version` is the published set's.
   */
  stats(): IndexStats {
    const all = this.#shards.map((s) => s.stats());
    const first = all[0] as IndexStats;
    const namespaces: Record<string, number> = {};
    for (const st of all) for (const [ns, n] of Object.entries(st.namespaces)) namespaces[ns] = (namespaces[ns] ?? 0) + n;
    const sum = (f: (s: IndexStats) => number): number => all.reduce((a, s) => a + f(s), 0);
    return { ...first, count: sum((s) => s.count), deleted: sum((s) => s.deleted), capacity: sum((s) => s.capacity), namespaces, version: this.#version, lexical: lexicalStatsOf(all) };
  }

  #shardOf(id: string): VectorIndex | undefined {
    return this.#shards[shardOf(id, this.#shards.length)];
  }

  /**
   * The stored record of an id, from its shard.
   * @param id - the id.
   * @returns the record, or undefined.
   */
  get(id: string): DocRecord | undefined {
    return this.#shardOf(id)?.get(id);
  }

  /**
   * Every id, shard by shard.
   * @returns the ids.
   */
  ids(): string[] {
    return this.#shards.flatMap((s) => s.ids());
  }

  /**
   * The stored vector of an id, from its shard.
   * @param id - the id.
   * @returns a copy, or undefined.
   */
  getVector(id: string): Float32Array | undefined {
    return this.#shardOf(id)?.getVector(id);
  }

  /**
   * The graph's vector of an id, from its shard.
   * @param id - the id.
   * @returns a copy, or undefined.
   */
  getProjectedVector(id: string): Float32Array | undefined {
    return this.#shardOf(id)?.getProjectedVector(id);
  }

  /** Closes every shard. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#shards.map((s) => s.close()));
  }
}
