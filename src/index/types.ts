/**
 * The public types of an index: its options (in threes with options.ts),
 * items, per-item outcomes, hits and statistics.
 */
import type { ItemFailureCode, ItemOutcome } from '../scheduler/outcome.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { BackendName } from '../tensor/backend.js';
import type { PcaIndexOptions, ResolvedPcaIndexOptions } from '../pca/index-options.js';
import type { MetadataFilter } from './filter.js';
import type { HnswSpace } from './hnsw/core.js';
import type { SearchCacheOptions, SearchCacheStats } from './search-cache.js';
import type { FusionOptions, LexicalOptions, LexicalStats, ResolvedLexicalOptions, SearchMode } from './lexical/options.js';

import type { IndexPcaStats } from '../pca/index-runtime.js';

export type { IndexPcaStats, PcaFitSummary } from '../pca/index-runtime.js';

/** Options of `engine.createIndex` (defaults: `kDefaultIndexOptions`). */
export interface IndexOptions {
  /** The index directory (created when missing; must not hold an index yet). */
  dir: string;
  /** Distance space. Scores: cosine similarity, inner product, or minus squared L2. @default 'cosine' */
  space?: HnswSpace;
  /** HNSW links per node. @default 16 */
  m?: number;
  /** Build-time candidate list size. @default 200 */
  efConstruction?: number;
  /** Default search candidate list size. @default 64 */
  efSearch?: number;
  /** Initial capacity; grows automatically. @default 1024 */
  capacity?: number;
  /** Vector dims. @default the engine model's dims */
  dims?: number;
  /** Level-generator seed. @default 100 */
  seed?: number;
  /**
   * Store vectors projected by PCA to `pca.dims` dims (see
   * {@link PcaIndexOptions}); allowed only when `dims` exceeds `pca.dims`.
   * Vectors and queries keep the input dims: projection happens inside the
   * pool workers. Omitted, null or false: no PCA.
   * @default null
   */
  pca?: PcaIndexOptions | null | false;
  /**
   * Cache the results of `search` (text or vector queries) in an LRU with
   * a TTL, keyed by the query, the search options and the index's write
   * generation: any write or save makes new keys, so a change is never
   * answered from the cache. Not saved with the index. Omitted, null or
   * false: no cache.
   * @default null
   */
  searchCache?: SearchCacheOptions | null | false;
  /**
   * The lexical (BM25) index kept beside the graph over the items' texts
   * (see {@link LexicalOptions}); false keeps none (no hybrid or lexical
   * search, and a text with no word the model knows fails as before).
   * @default { k1: 1.2, b: 0.75 }
   */
  lexical?: LexicalOptions | false;
}

/** Resolved index options. `dims` are the input dims; the graph holds `pca.dims` when `pca` is set; `lexical` is null for none. */
export type ResolvedIndexOptions = Readonly<Required<Omit<IndexOptions, 'pca' | 'lexical' | 'searchCache'>>> & { readonly pca: ResolvedPcaIndexOptions | null; readonly lexical: ResolvedLexicalOptions | null };

/** Options of {@link Engine.openIndex} (defaults: `kDefaultOpenIndexOptions`). */
export interface OpenIndexOptions {
  /**
   * Move the graph's vectors and level-0 links into transparent huge pages
   * while loading (Linux; a few percent faster searches and inserts for one
   * copy of the graph at open). false for a short job that applies a few
   * changes and saves. @default true
   */
  readonly hugePages?: boolean;
  /** As {@link IndexOptions.searchCache}. @default null */
  readonly searchCache?: SearchCacheOptions | null | false;
}

/** Resolved open options. */
export type ResolvedOpenIndexOptions = Readonly<Required<Omit<OpenIndexOptions, 'searchCache'>>>;

/** Options of `addBatch` and `delete`-like writes. */
export interface WriteOptions {
  /** Cancels embedding and insertion. @default undefined */
  readonly signal?: AbortSignal;
}

/** Options of `save` (defaults: `kDefaultSaveOptions`). */
export interface SaveOptions {
  /**
   * What a save does when another version was published in the directory
   * since this index was opened or last saved (by a job, another process,
   * or another handle): `'error'` refuses with ERR_CONFLICT and writes
   * nothing, so that version's changes are not lost; `'overwrite'`
   * publishes this index's content anyway, replacing that version's
   * changes (which stay in the version before, until later saves drop it).
   * @default 'error'
   */
  readonly onConflict?: 'error' | 'overwrite';
}

/** Options of `upsert` (defaults: `kDefaultUpsertOptions`). */
export interface UpsertOptions extends WriteOptions {
  /**
   * An item whose `hash`, namespace and metadata equal the stored record's
   * is left as it is, its vector not used, and every ok outcome says what
   * changed (`change`). @default false
   */
  readonly skipUnchanged?: boolean;
}

/** Resolved upsert options. */
export interface ResolvedUpsertOptions {
  readonly skipUnchanged: boolean;
  readonly signal: AbortSignal | undefined;
}

/** Options of a search (defaults: `kDefaultSearchOptions`). */
export interface SearchOptions {
  /** Neighbours to return, in [1, count]. @default min(10, count) */
  readonly k?: number;
  /** Candidate list size, ≥ k. @default max(efSearch, k) */
  readonly ef?: number;
  /** Only these namespaces. @default every namespace */
  readonly namespace?: string | readonly string[];
  /** Only items whose metadata matches. @default no filter */
  readonly filter?: MetadataFilter;
  /**
   * PCA indexes that keep full vectors: rerank the top k × this many graph
   * candidates exactly; 0 returns the graph's (projected) ranking. An
   * integer in [0, 1000].
   * @default the index's `pca.rerankFactor`
   */
  readonly rerankFactor?: number;
  /**
   * How hits are ranked: `'vector'` by the graph alone, `'lexical'` by
   * BM25 over the texts alone, `'hybrid'` by fusing both rankings (see
   * `fusion`). A text query the model cannot embed (no known word) is
   * answered by the lexical side in `hybrid` mode.
   * @default 'hybrid' when the index's lexical side holds documents (built from text), else 'vector'
   */
  readonly mode?: SearchMode;
  /** How `hybrid` fuses the two rankings. @default { method: 'convex', k: 60 (rrf only), weights: { vector: 1, lexical: 1 }, candidates: max(k, 50) } */
  readonly fusion?: FusionOptions;
  /** Cancels the search. @default undefined */
  readonly signal?: AbortSignal;
}

/** A search's checked parameters. */
export interface ResolvedSearchOptions {
  readonly k: number;
  readonly ef: number;
  /** The label bitset of the namespace and metadata filter; undefined for none. */
  readonly filter: Uint8Array | undefined;
  /** Graph candidates to rerank exactly per query (PCA with full vectors); 0 for none. */
  readonly rerank: number;
}

/** Options of `retrieveAll`. */
export interface RetrieveAllOptions {
  /** Namespace → k. */
  readonly namespaces: Readonly<Record<string, number>>;
  /** Candidate list size. @default max(efSearch, k) per namespace */
  readonly ef?: number;
  /** Only items whose metadata matches. @default no filter */
  readonly filter?: MetadataFilter;
  /** As for a search. @default the index's default mode */
  readonly mode?: SearchMode;
  /** As for a search. */
  readonly fusion?: FusionOptions;
  /** Cancels the search. @default undefined */
  readonly signal?: AbortSignal;
}

/** Options of `refitPca`. */
export interface RefitPcaOptions {
  /** The sample size. @default the index's `pca.sample` */
  readonly sample?: number;
  /** Cancels the refit. @default undefined */
  readonly signal?: AbortSignal;
}

/**
 * One item to add: a `text` (embedded by the engine's model, and indexed
 * lexically), a `vector`, or both (the vector goes to the graph as it is,
 * the text only to the lexical index: what jobs pass for texts embedded
 * before, or vectors computed elsewhere).
 */
export interface IndexItem {
  readonly id: string;
  readonly text?: string;
  readonly vector?: Float32Array | readonly number[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** @default 'default' */
  readonly namespace?: string;
  /**
   * For a `vector` item: the content hash of the text it was computed from,
   * kept in the doc store (`get(id).hash`) for change detection. Ignored for
   * text items, which always store `contentHash(text)`.
   * @default null
   */
  readonly hash?: string;
}

/** Why an item was not added, updated or deleted: the index's own codes, and the embedding codes of text items. */
export type IndexItemFailureCode =
  | 'INVALID_ITEM'
  | 'INVALID_ID'
  | 'DUPLICATE_ID'
  | 'EXISTS'
  | 'NOT_FOUND'
  | 'WRONG_DIMS'
  | 'NON_FINITE'
  | 'INVALID_NAMESPACE'
  | 'INVALID_METADATA'
  | ItemFailureCode;

/** Outcome of one item of addBatch, upsert or delete. */
export type IndexItemOutcome =
  | {
      readonly state: 'ok';
      readonly id: string;
      /**
       * upsert with `skipUnchanged`: whether the id was new (`added`),
       * replaced a record (`updated`), or was left as it is because the
       * stored record already had this content (`unchanged`).
       */
      readonly change?: 'added' | 'updated' | 'unchanged';
      /**
       * false for a text the model could not embed (no word in its
       * vocabulary): the item is stored and found by lexical and hybrid
       * searches, but has no vector in the graph. Absent otherwise.
       */
      readonly vector?: false;
    }
  | { readonly state: 'failed'; readonly id: string | null; readonly code: IndexItemFailureCode; readonly reason: string };

/** A search hit. */
export interface Hit {
  readonly id: string;
  /**
   * Higher is better. `vector` mode: cosine similarity, inner product, or
   * −(squared L2); `lexical`: the BM25 score; `hybrid`: the fused score.
   */
  readonly score: number;
  readonly namespace: string;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** `hybrid` and `lexical` modes: the 1-based rank the graph gave the item among its candidates; absent when it did not find it. */
  readonly vectorRank?: number;
  /** `hybrid` and `lexical` modes: the 1-based rank BM25 gave the item; absent when it did not find it. */
  readonly lexicalRank?: number;
}

/**
 * Why `searchBatchSettled` could not answer a query:
 * - `INVALID_QUERY`: not a string or a Float32Array, a vector of the wrong
 *   dims or with a non-finite component (or, for `l2`/`ip`, one whose
 *   distances overflow float32), or a vector in `lexical` mode;
 * - an embedding item code (`NO_KNOWN_WORDS`, `EMPTY`, `TOO_LARGE`,
 *   `MALFORMED_UTF16`, a provider's failure …): `vector` mode, a text the
 *   model could not embed;
 * - `NO_TERMS`: `lexical` mode, a text with no word the lexical index
 *   searches (stop words only, or no word at all);
 * - `UNANSWERABLE`: `hybrid` mode, neither: no vector and no term.
 */
export type SearchFailureCode = 'INVALID_QUERY' | 'NO_TERMS' | 'UNANSWERABLE' | ItemFailureCode;

/** One query's answer from `searchBatchSettled`: its hits, or why there are none. */
export type SearchOutcome = { readonly state: 'ok'; readonly hits: Hit[] } | { readonly state: 'failed'; readonly code: SearchFailureCode; readonly reason: string };

/** What `index.stats()` reports. */
export interface IndexStats {
  readonly count: number;
  readonly deleted: number;
  /** Input dims: what added vectors and queries have (with PCA the graph holds `pca.outputDims`). */
  readonly dims: number;
  readonly space: HnswSpace;
  readonly capacity: number;
  /** Graph bytes per stored element: the vector plus its links and header, as hnswlib lays it out. */
  readonly bytesPerVector: number;
  readonly params: { readonly m: number; readonly efConstruction: number; readonly efSearch: number };
  readonly namespaces: Readonly<Record<string, number>>;
  readonly core: 'native' | 'hnswlib-node';
  readonly version: string | null;
  /** PCA figures; null for an index without PCA. */
  readonly pca: IndexPcaStats | null;
  /** The result cache's counters (`searchCache` option); null without one. */
  readonly searchCache: SearchCacheStats | null;
  /** The lexical index: documents, terms, postings, segments, memory and disk in all and per document; null for none. */
  readonly lexical: LexicalStats | null;
}

/**
 * What the index needs from its engine.
 * @internal
 */
export interface IndexHost {
  readonly scheduler: Scheduler;
  readonly workers: number;
  /** The TF.js backend, for PCA steps run on the main thread (only when the HNSW core cannot be shared). */
  readonly backend: BackendName;
  readonly model: { readonly id: string; readonly dims: number };
  /** Embeds query texts (no insert). */
  embed(texts: readonly unknown[], signal?: AbortSignal): Promise<{ vectors: Float32Array; items: readonly ItemOutcome[] }>;
}

