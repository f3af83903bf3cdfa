/**
 * Searches in the `hybrid` and `lexical` modes: a query's text is embedded
 * (tolerating a text the model cannot embed: the lexical side answers it)
 * and searched in the graph, its terms in the BM25 index, both under the
 * same namespace and metadata filter bitset, and the two candidate lists
 * are fused (lexical/fusion.ts). The `vector` mode stays on the index's
 * own path (vector-index-impl.ts).
 */
import { VecforgeError } from '../errors.js';
import { type CrossQuery, scoreOfDistance, vectorScoreFloor, vectorScoresMany } from './cross-scores.js';
import { kHnswNoLabel, type HnswSearchResult } from './hnsw/core.js';
import { type FusedCandidate, fuse, type Ranking } from './lexical/fusion.js';
import type { CorpusStats, ResolvedTerms } from './lexical/bm25.js';
import { resolveFusionOptions, resolveSearchMode, type ResolvedFusionOptions, type ResolvedLexicalOptions, type SearchMode } from './lexical/options.js';
import type { LexicalState } from './lexical/store.js';
import { notAQuery, type QueryFailures, queryProblem, queryVectors, resolveSearchOptions, searchOne, searchOnPool, vectorInLexicalMode } from './search.js';
import type { StopWords } from './lexical/tokenize.js';
import type { IndexState } from './state.js';
import type { Hit, ResolvedSearchOptions, SearchOptions } from './types.js';

/** A query ready for the two sides. */
export interface PreparedQuery {
  /** Its text, for the lexical side; null for a vector query. */
  readonly text: string | null;
  /** Its vector (input dims, checked); null when there is none (the text did not embed). */
  readonly vector: Float32Array | null;
  /** Why the vector side has no vector for a text, for the error when neither side can answer. */
  readonly vectorProblem: string | null;
}

/** A query a settled batch could not prepare (its failure is recorded): searched on neither side. */
const kNoQuery: PreparedQuery = Object.freeze({ text: null, vector: null, vectorProblem: 'invalid' });

/**
 * The index's lexical state, its segments loaded (after the doc store, whose live set it needs).
 * @param s - the index.
 * @returns the state, or null for an index without a lexical side.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when the doc store or a segment does not decode.
 */
export function lexicalOf(s: IndexState): LexicalState | null {
  const lex = s.lexical;
  if (lex === null) return null;
  if (!lex.loaded) {
    s.labels.ensure();
    lex.ensure((label) => s.labels.docs[label] !== undefined);
  }
  return lex;
}

/**
 * The mode a search without `mode` runs: `hybrid` when the lexical index
 * holds documents (an index built from text), else `vector`.
 * @param s - the index.
 * @param mode - `options.mode` as given.
 * @returns the mode.
 * @throws {RangeError} for an unknown mode, or a lexical mode on an index without a lexical side.
 */
export function searchModeOf(s: IndexState, mode: unknown): SearchMode {
  if (mode === 'vector') return 'vector';
  const lex = lexicalOf(s);
  return modeFor(mode, lex !== null, (lex?.index.docCount ?? 0) > 0);
}

/**
 * The mode a search runs (one index or a sharded one).
 * @param mode - `options.mode` as given.
 * @param lexical - whether there is a lexical side.
 * @param texts - whether it holds documents (the index was built from text): the default is then `hybrid`.
 * @returns the mode.
 * @throws {RangeError} for an unknown mode, or a lexical mode without a lexical side.
 */
export function modeFor(mode: unknown, lexical: boolean, texts: boolean): SearchMode {
  const resolved = resolveSearchMode(mode, lexical && texts ? 'hybrid' : 'vector');
  if (resolved !== 'vector' && !lexical) throw new RangeError(`options.mode ${JSON.stringify(resolved)} needs a lexical index; this index was created with lexical: false`);
  return resolved;
}

/**
 * A query neither side can answer (no vector, and no term left): recorded
 * in a settled batch's failures (`NO_TERMS` in `lexical` mode,
 * `UNANSWERABLE` in `hybrid`), else thrown.
 * @param failures - the settled batch's failures, or undefined.
 * @param i - the query's position.
 * @param mode - `hybrid` or `lexical`.
 * @param vectorProblem - why it has no vector.
 * @param stopWords - the lexical side's stop words.
 * @throws {VecforgeError} ERR_INVALID_INPUT without `failures`.
 */
export function unanswerableQuery(failures: QueryFailures | undefined, i: number, mode: SearchMode, vectorProblem: string | null, stopWords: StopWords): void {
  const embed = mode === 'hybrid' ? `it cannot be embedded (${vectorProblem ?? 'no vector'}) and ` : '';
  const words = stopWords === 'none' ? '' : ` (${stopWords} stop words are not indexed)`;
  const reason = `cannot be answered: ${embed}it has no word to search lexically${words}`;
  queryProblem(failures, i, mode === 'lexical' ? 'NO_TERMS' : 'UNANSWERABLE', new VecforgeError('ERR_INVALID_INPUT', `query ${i} ${reason}`), reason);
}

/**
 * Prepares queries: vectors checked and copied; texts embedded when the
 * vector side is used, a text the model cannot embed kept with its reason.
 * @param s - the index.
 * @param queries - texts or vectors.
 * @param mode - `hybrid` or `lexical`.
 * @param signal - cancels the embedding.
 * @param failures - collects bad queries (prepared with neither text nor vector) instead of throwing.
 * @returns one prepared query per input.
 * @throws {TypeError | RangeError} for a query of the wrong type or dims; a vector query in `lexical` mode.
 */
export async function prepareQueries(s: IndexState, queries: readonly unknown[], mode: SearchMode, signal?: AbortSignal, failures?: QueryFailures): Promise<PreparedQuery[]> {
  // A query that fails its checks in a settled batch stays kNoQuery.
  const out: PreparedQuery[] = new Array<PreparedQuery>(queries.length).fill(kNoQuery);
  const texts: string[] = [];
  const textAt: number[] = [];
  const dims = s.options.dims;
  const vectorAt: number[] = [];
  queries.forEach((q, i) => {
    if (typeof q === 'string') {
      out[i] = { text: q, vector: null, vectorProblem: 'not embedded' };
      textAt.push(i);
      texts.push(q);
    } else if (!(q instanceof Float32Array)) notAQuery(failures, i, q);
    else if (mode === 'lexical') vectorInLexicalMode(failures, i);
    else vectorAt.push(i);
  });
  // Vector queries: checked and scaled as the vector mode does.
  if (vectorAt.length > 0) {
    const rows = await queryVectors(
      s,
      vectorAt.map((i) => queries[i] as Float32Array),
      signal,
      vectorAt,
      failures,
    );
    vectorAt.forEach((i, j) => {
      if (failures?.has(i) !== true) out[i] = { text: null, vector: rows.subarray(j * dims, (j + 1) * dims), vectorProblem: null };
    });
  }
  if (mode === 'hybrid' && texts.length > 0 && dims === s.host.model.dims) {
    const r = await s.host.embed(texts, signal);
    r.items.forEach((item, j) => {
      const i = textAt[j] as number;
      if (item.state === 'ok') out[i] = { text: texts[j] as string, vector: r.vectors.slice(j * dims, (j + 1) * dims), vectorProblem: null };
      else out[i] = { text: texts[j] as string, vector: null, vectorProblem: item.reason ?? item.state };
    });
  }
  return out;
}

/** What the index's own vector path does: searches `nq` rows (input dims, on shared memory). */
export type VectorSide = (rows: Float32Array, nq: number, params: ResolvedSearchOptions) => Promise<HnswSearchResult>;

/**
 * The vector side of the index: one query inline (or on a libuv thread),
 * many on the pool; a PCA index always on the pool.
 * @param s - the index.
 * @param ready - fits a PCA index that still samples.
 * @param signal - cancels the search.
 * @returns the side.
 */
export function vectorSideOf(s: IndexState, ready: () => Promise<void>, signal?: AbortSignal): VectorSide {
  return async (rows, nq, params) => {
    await ready();
    if (nq === 1 && s.pca === null) return searchOne(s, rows.subarray(0, s.options.dims), params, signal);
    return searchOnPool(s, rows, nq, params, signal);
  };
}

/**
 * Runs prepared queries in the `hybrid` or `lexical` mode.
 * @param s - the index.
 * @param prepared - the queries.
 * @param options - the search options (k, ef, namespace, filter, fusion, …).
 * @param mode - `hybrid` or `lexical`.
 * @param vectorSide - the index's vector path.
 * @param failures - collects the queries neither side can answer instead of throwing; their lists come back empty.
 * @returns one hit list per query, best first; hits carry `vectorRank` and `lexicalRank`.
 * @throws {VecforgeError} ERR_INVALID_INPUT for a query neither side can answer (no vector and no term).
 */
export async function searchPrepared(s: IndexState, prepared: readonly PreparedQuery[], options: SearchOptions, mode: SearchMode, vectorSide: VectorSide, failures?: QueryFailures): Promise<Hit[][]> {
  const params = resolveSearchOptions(s, options);
  const fusion = resolveFusionOptions(options.fusion, params.k);
  const lex = lexicalOf(s);
  const count = s.labels.liveCount;
  const candidates = Math.min(fusion.candidates, count);
  const dims = s.options.dims;
  const none: Ranking = { keys: [], scores: [], length: 0 };
  const vector: Ranking[] = prepared.map(() => none);
  const withVector = mode === 'hybrid' ? prepared.flatMap((q, i) => (q.vector !== null ? [i] : [])) : [];
  const kv = candidates;
  let vectorSearch: Promise<HnswSearchResult> | null = null;
  if (withVector.length > 0) {
    const rows = new Float32Array(new SharedArrayBuffer(withVector.length * dims * 4));
    withVector.forEach((i, j) => {
      rows.set(prepared[i]?.vector as Float32Array, j * dims);
    });
    const perK = params.k > 0 ? params.rerank / params.k : 0;
    // Started first: the pool searches the graph while this thread runs BM25.
    vectorSearch = vectorSide(rows, withVector.length, { ...params, k: kv, ef: Math.max(params.ef, kv), rerank: Math.min(65_536, Math.ceil(perK * kv)) });
    vectorSearch.catch(() => {});
    // A batch: let the pool tasks be dispatched before this thread is busy with BM25.
    if (withVector.length > 1) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const lexical: Ranking[] = prepared.map(() => none);
  const termsOf: Array<ResolvedTerms | undefined> = new Array<ResolvedTerms | undefined>(prepared.length);
  if (lex !== null) {
    const withText: number[] = [];
    const terms: string[][] = [];
    prepared.forEach((q, i) => {
      if (q.text === null) return;
      const t = lex.terms(q.text);
      if (t.length === 0 && q.vector === null) {
        unanswerableQuery(failures, i, mode, q.vectorProblem, lex.options.stopWords);
        return;
      }
      withText.push(i);
      terms.push(t);
    });
    // BM25 for the whole batch at once: on native threads where the binding is built.
    const found = lex.index.searchMany(terms, mode === 'lexical' ? params.k : candidates, params.filter, s.host.workers);
    found.forEach((r, j) => {
      const i = withText[j] as number;
      lexical[i] = { keys: r.labels, scores: r.scores, length: r.labels.length };
      termsOf[i] = r.resolved;
    });
  }
  if (vectorSearch !== null) {
    const r = await vectorSearch;
    withVector.forEach((i, j) => {
      const n = r.counts[j] ?? 0;
      const keys: number[] = [];
      const scores: number[] = [];
      for (let t = 0; t < n; t++) {
        const label = r.labels[j * kv + t] ?? kHnswNoLabel;
        if (label === kHnswNoLabel || s.labels.docs[label] === undefined) continue;
        const d = r.distances[j * kv + t] ?? Number.POSITIVE_INFINITY;
        keys.push(label);
        scores.push(scoreOfDistance(s.options.space, d));
      }
      vector[i] = { keys, scores, length: keys.length };
    });
  }
  if (mode === 'hybrid' && fusion.method === 'convex') crossScore(s, prepared, vector, lexical, termsOf);
  return prepared.map((_, i) => fusedHits(s, vector[i] ?? none, lexical[i] ?? none, fusion, params.k, mode));
}

/**
 * Gives each side's candidates the other side's score (`convex` fusion):
 * BM25 of the vector side's candidates, the vector score of the lexical side's.
 */
function crossScore(s: IndexState, prepared: readonly PreparedQuery[], vector: Ranking[], lexical: Ranking[], termsOf: ReadonlyArray<ResolvedTerms | undefined>): void {
  const lex = lexicalOf(s);
  const floor = vectorScoreFloor(s);
  const asked: number[] = [];
  const cross: CrossQuery[] = [];
  prepared.forEach((q, i) => {
    const v = vector[i] as Ranking;
    const l = lexical[i] as Ranking;
    const terms = termsOf[i];
    vector[i] = { ...v, cross: lex !== null && terms !== undefined && terms.query.length > 0 && v.length > 0 ? lex.index.scoreLabels(terms, v.keys) : new Float64Array(v.length), ...(floor !== undefined ? { floor } : {}) };
    if (l.length > 0 && q.vector !== null) {
      asked.push(i);
      cross.push({ vector: q.vector, labels: l.keys });
    }
  });
  vectorScoresMany(s, cross).forEach((scores, j) => {
    const i = asked[j] as number;
    lexical[i] = { ...(lexical[i] as Ranking), cross: scores };
  });
}

function fusedHits(s: IndexState, vector: Ranking, lexical: Ranking, fusion: ResolvedFusionOptions, k: number, mode: SearchMode): Hit[] {
  const hits: Hit[] = [];
  if (mode === 'lexical') {
    for (let j = 0; j < lexical.length; j++) {
      const doc = s.labels.docs[lexical.keys[j] as number];
      if (doc !== undefined) hits.push({ id: doc.id, score: lexical.scores[j] as number, namespace: doc.namespace, metadata: doc.metadata, lexicalRank: j + 1 });
    }
    return hits;
  }
  for (const c of fuse(vector, lexical, fusion, k)) {
    const doc = s.labels.docs[c.key];
    if (doc === undefined) continue;
    hits.push(fusedHit(doc, c));
  }
  return hits;
}

/**
 * A hit of a fused ranking: the document's id, namespace and metadata, the
 * fused score, and the rank each side gave it (absent when it did not find it).
 * @param doc - the document.
 * @param c - its fused candidate.
 * @returns the hit.
 */
export function fusedHit(doc: Pick<Hit, 'id' | 'namespace' | 'metadata'>, c: FusedCandidate): Hit {
  const hit: { -readonly [K in keyof Hit]: Hit[K] } = { id: doc.id, score: c.score, namespace: doc.namespace, metadata: doc.metadata };
  if (c.vectorRank !== undefined) hit.vectorRank = c.vectorRank;
  if (c.lexicalRank !== undefined) hit.lexicalRank = c.lexicalRank;
  return hit;
}

/**
 * What a sharded index asks of each shard's lexical side: its rules, its
 * part of the corpus statistics, and BM25 candidates scored with the
 * statistics of all the shards together (so they merge by score).
 * @internal
 */
export interface ShardLexical {
  /** k1, b and stop words (every shard of a set is built with the same). */
  readonly rules: ResolvedLexicalOptions;
  /** Live documents indexed lexically. */
  readonly docs: number;
  /** A text's terms under the shard's rules. */
  terms(text: string): string[];
  /** The shard's part of the corpus statistics for a query's terms. */
  corpus(terms: readonly string[]): CorpusStats;
  /**
   * The shard's top k documents by BM25 under `corpus`, within a namespace and filter.
   * @returns hits, best first, scored by BM25.
   */
  search(terms: readonly string[], k: number, where: Pick<SearchOptions, 'namespace' | 'filter'>, corpus: CorpusStats): Hit[];
  /** For the `convex` fusion: the least score of the shard's vector space (cosine: −1); undefined where it has none. */
  readonly vectorFloor: number | undefined;
  /** For the `convex` fusion: BM25 of given documents under `corpus`; 0 for an id the shard does not hold. */
  scoreIds(terms: readonly string[], ids: readonly string[], corpus: CorpusStats): Float64Array;
  /** For the `convex` fusion: the vector side's score of given documents; NaN for an id without a vector here. */
  vectorScores(query: Float32Array, ids: readonly string[]): Float64Array;
}

/**
 * The lexical side of an index as a shard of a sharded index.
 * @param s - the index.
 * @returns the side, or null for an index without one.
 */
export function shardLexicalOf(s: IndexState): ShardLexical | null {
  const lex = lexicalOf(s);
  if (lex === null) return null;
  return {
    rules: lex.options,
    get docs() {
      return lex.index.docCount;
    },
    terms: (text) => lex.terms(text),
    corpus: (terms) => lex.index.corpusStats(terms),
    search: (terms, k, where, corpus) => {
      if (s.labels.liveCount === 0 || lex.index.docCount === 0) return [];
      const { filter } = resolveSearchOptions(s, { k: 1, ...(where.namespace !== undefined ? { namespace: where.namespace } : {}), ...(where.filter !== undefined ? { filter: where.filter } : {}) });
      const r = lex.index.search(terms, k, filter, corpus);
      return r.labels.flatMap((label, j) => {
        const doc = s.labels.docs[label];
        return doc === undefined ? [] : [{ id: doc.id, score: r.scores[j] as number, namespace: doc.namespace, metadata: doc.metadata }];
      });
    },
    vectorFloor: vectorScoreFloor(s),
    scoreIds: (terms, ids, corpus) => lex.index.scoreLabels(terms, labelsOf(s, ids), corpus),
    vectorScores: (query, ids) => vectorScoresMany(s, [{ vector: query, labels: labelsOf(s, ids) }])[0] as Float64Array,
  };
}

/** The labels of ids (0xffffffff, which holds nothing, for an unknown id). */
function labelsOf(s: IndexState, ids: readonly string[]): Uint32Array {
  s.labels.ensure();
  return Uint32Array.from(ids, (id) => s.labels.idToLabel.get(id) ?? kHnswNoLabel);
}
