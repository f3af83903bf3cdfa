/**
 * The state of one open index, shared by the parts that act on it (insert,
 * search, save, open, stats). The index class holds it privately and
 * serialises every change through its write queue.
 */
import type { IndexPcaRuntime } from '../pca/index-runtime.js';
import type { HnswCore } from './hnsw/core.js';
import type { LabelTable } from './labels.js';
import type { LexicalState } from './lexical/store.js';
import type { IndexHost, ResolvedIndexOptions } from './types.js';

/** The state of one open index. */
export interface IndexState {
  readonly host: IndexHost;
  readonly core: HnswCore;
  options: ResolvedIndexOptions;
  /** Dims of the graph's vectors: `pca.dims` with PCA, else the input dims. */
  readonly graphDims: number;
  /** The graph; a refit swaps it. */
  handle: number;
  nextLabel: number;
  readonly labels: LabelTable;
  readonly pca: IndexPcaRuntime | null;
  /** The lexical (BM25) index; null for an index created with `lexical: false`. */
  readonly lexical: LexicalState | null;
  /** The version last opened or saved; null before the first save. */
  version: string | null;
  /** Searches running on the pool: a refit and close wait for them before freeing what they read. */
  readonly searches: Set<Promise<unknown>>;
  /**
   * The graph still loading (opened with `lazyGraph`); null once `handle`
   * holds it. A failed load stays here, rejected with ERR_INDEX_CORRUPT.
   */
  graphLoad: Promise<void> | null;
  /** Why the graph did not load (lazyGraph), for the synchronous operations. */
  graphError: unknown;
  /** The last filter bitset, valid while the labels' mutation counter holds. */
  filterCache: { readonly key: string; readonly mutations: number; readonly bits: Uint8Array } | undefined;
  /** Moving average of inline search time per unit of ef (ms); NaN before the first. */
  inlineMsPerEf: number;
  /** Searches sent off the main thread by timing alone, since the last inline one. */
  timedOut: number;
}

/**
 * A fresh state.
 * @param fields - what the state starts with.
 * @returns the state.
 */
export function newIndexState(fields: Pick<IndexState, 'host' | 'core' | 'options' | 'handle' | 'nextLabel' | 'labels' | 'pca' | 'version' | 'lexical'>): IndexState {
  return {
    ...fields,
    graphDims: fields.options.pca?.dims ?? fields.options.dims,
    searches: new Set(),
    graphLoad: null,
    graphError: null,
    filterCache: undefined,
    inlineMsPerEf: Number.NaN,
    timedOut: 0,
  };
}
