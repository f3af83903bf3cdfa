/**
 * Hybrid and lexical searches over a sharded index. The vector side is
 * searched on every shard and merged by score, as in `vector` mode. The
 * lexical side scores BM25 with the statistics of all the shards together
 * (live documents, total length and each query term's document frequency,
 * summed): each shard's scores are then those one index over every
 * document would give, so the shards' candidates merge by score, exactly.
 * The two merged rankings are fused as one index fuses its own
 * (lexical/fusion.ts); for the convex fusion each hit is first scored on
 * the other side by the shard that holds it.
 */
import { VecforgeError } from '../../errors.js';
import { fusedHit, modeFor, unanswerableQuery } from '../hybrid.js';
import type { ShardLexical } from '../internal.js';
import type { CorpusStats } from '../lexical/bm25.js';
import { fuse, type Ranking } from '../lexical/fusion.js';
import { resolveFusionOptions, type ResolvedFusionOptions, type SearchMode } from '../lexical/options.js';
import type { QueryFailures } from '../search.js';
import type { Hit, SearchOptions } from '../types.js';
import type { VectorIndex } from '../vector-index.js';

/** A query ready for the two sides. */
export interface ShardedQuery {
  /** Its text, for the lexical side; null for a vector query. */
  readonly text: string | null;
  /** Its vector; null when there is none (the text did not embed, or the vector side is not searched). */
  readonly vector: Float32Array | null;
  /** Why a text has no vector, for the error when neither side can answer. */
  readonly vectorProblem: string | null;
}

/** What the searches need of the sharded index. */
export interface ShardedSearchContext {
  readonly shards: readonly VectorIndex[];
  /** Each shard's lexical side. */
  readonly lexical: readonly ShardLexical[];
  readonly dims: number;
  /** A shard's vector-search options for `k` candidates; undefined for an empty shard. */
  shardOptions(shard: VectorIndex, options: SearchOptions, k: number): SearchOptions | undefined;
  /** The shard that holds a document. */
  shardOfId(id: string): number;
}

/** Best first by score; equal scores by id, so the merge is deterministic. */
function byScore(a: Hit, b: Hit): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The top k of several shards' hit lists.
 * @param lists - each shard's hits.
 * @param k - hits wanted.
 * @returns the k best, best first.
 */
export function mergeHits(lists: readonly (readonly Hit[])[], k: number): Hit[] {
  return lists.flat().sort(byScore).slice(0, k);
}

/**
 * The shards' lexical sides, checked to follow the same rules.
 * @param lexical - each shard's side (null for a shard without one).
 * @param where - the index, for messages.
 * @returns the sides, or null when a shard has none.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when shards differ in k1, b or stop words.
 */
export function checkedLexicalSides(lexical: readonly (ShardLexical | null)[], where: string): ShardLexical[] | null {
  if (lexical.some((l) => l === null)) return null;
  const sides = lexical as ShardLexical[];
  const first = sides[0]?.rules;
  for (const [i, l] of sides.entries()) {
    const r = l.rules;
    if (first !== undefined && (r.k1 !== first.k1 || r.b !== first.b || r.stopWords !== first.stopWords)) {
      throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${where}: shard ${i}'s lexical index (k1 ${r.k1}, b ${r.b}, stop words ${r.stopWords}) differs from shard 0's (k1 ${first.k1}, b ${first.b}, stop words ${first.stopWords})`);
    }
  }
  return sides;
}

/**
 * The mode a search runs: `hybrid` by default when the shards' lexical
 * sides hold documents (built from text), else `vector`.
 * @param lexical - the shards' lexical sides, or null when a shard has none.
 * @param mode - `options.mode` as given.
 * @returns the mode.
 * @throws {RangeError} for an unknown mode, or a lexical mode without lexical sides.
 */
export function shardedSearchMode(lexical: readonly ShardLexical[] | null, mode: unknown): SearchMode {
  if (mode === 'vector') return 'vector';
  return modeFor(mode, lexical !== null, lexical?.some((l) => l.docs > 0) === true);
}

function mergeCorpus(parts: readonly CorpusStats[]): CorpusStats {
  const df = new Map<string, number>();
  let docs = 0;
  let totalLength = 0;
  for (const p of parts) {
    docs += p.docs;
    totalLength += p.totalLength;
    for (const [term, n] of p.df) df.set(term, (df.get(term) ?? 0) + n);
  }
  return { docs, totalLength, df };
}

/** The other side's scores of merged hits, for the `convex` fusion. */
interface CrossScores {
  /** BM25 of the vector side's hits. */
  readonly vector: Float64Array;
  /** The vector score of the lexical side's hits. */
  readonly lexical: Float64Array;
  readonly floor: number | undefined;
}

/**
 * Scores each side's merged hits on the other side, each hit on the shard
 * that holds it: BM25 with the statistics of all the shards, as the
 * lexical side scored its own.
 */
function crossScores(ctx: ShardedSearchContext, q: ShardedQuery, terms: readonly string[], corpus: CorpusStats | undefined, vector: readonly Hit[], lexical: readonly Hit[]): CrossScores {
  const byShard = (hits: readonly Hit[], score: (side: ShardLexical, ids: string[]) => Float64Array, empty: number): Float64Array => {
    const out = new Float64Array(hits.length).fill(empty);
    const groups = new Map<number, number[]>();
    hits.forEach((h, j) => {
      const sh = ctx.shardOfId(h.id);
      const g = groups.get(sh);
      if (g === undefined) groups.set(sh, [j]);
      else g.push(j);
    });
    for (const [sh, at] of groups) {
      const side = ctx.lexical[sh];
      if (side === undefined) continue;
      const scores = score(side, at.map((j) => (hits[j] as Hit).id));
      at.forEach((j, t) => {
        out[j] = scores[t] as number;
      });
    }
    return out;
  };
  const v = terms.length === 0 || corpus === undefined ? new Float64Array(vector.length) : byShard(vector, (side, ids) => side.scoreIds(terms, ids, corpus), 0);
  const qv = q.vector;
  const l = qv === null ? new Float64Array(lexical.length).fill(Number.NaN) : byShard(lexical, (side, ids) => side.vectorScores(qv, ids), Number.NaN);
  return { vector: v, lexical: l, floor: ctx.lexical[0]?.vectorFloor };
}

/** Fuses two merged hit lists by id. */
function fuseHits(vector: readonly Hit[], lexical: readonly Hit[], fusion: ResolvedFusionOptions, k: number, cross?: CrossScores): Hit[] {
  const keys = new Map<string, number>();
  const hits: Hit[] = [];
  const ranked = (list: readonly Hit[]): Ranking => {
    const ids = list.map((h) => {
      let key = keys.get(h.id);
      if (key === undefined) {
        key = hits.length;
        keys.set(h.id, key);
        hits.push(h);
      }
      return key;
    });
    return { keys: ids, scores: list.map((h) => h.score), length: list.length };
  };
  const v = ranked(vector);
  const l = ranked(lexical);
  const vc: Ranking = cross === undefined ? v : { ...v, cross: cross.vector, ...(cross.floor !== undefined ? { floor: cross.floor } : {}) };
  const lc: Ranking = cross === undefined ? l : { ...l, cross: cross.lexical };
  return fuse(vc, lc, fusion, k).map((c) => fusedHit(hits[c.key] as Hit, c));
}

/**
 * Runs prepared queries in the `hybrid` or `lexical` mode over every shard.
 * @param ctx - the sharded index.
 * @param queries - the queries.
 * @param options - the search options (namespace, filter, fusion, ef …).
 * @param k - hits wanted (checked against the whole index).
 * @param mode - `hybrid` or `lexical`.
 * @param failures - collects the queries neither side can answer instead of throwing; their lists come back empty.
 * @returns one hit list per query, best first; hits carry `vectorRank` and `lexicalRank`.
 * @throws {VecforgeError} ERR_INVALID_INPUT for a query neither side can answer.
 */
export async function searchShardedModes(ctx: ShardedSearchContext, queries: readonly ShardedQuery[], options: SearchOptions, k: number, mode: 'hybrid' | 'lexical', failures?: QueryFailures): Promise<Hit[][]> {
  const fusion = resolveFusionOptions(options.fusion, k);
  const count = ctx.shards.reduce((a, s) => a + s.count, 0);
  const candidates = Math.min(fusion.candidates, count);
  const withVector = mode === 'hybrid' ? queries.flatMap((q, i) => (q.vector !== null ? [i] : [])) : [];
  let vectorSearch: Promise<Hit[][]> | null = null;
  if (withVector.length > 0) {
    const dims = ctx.dims;
    const flat = new Float32Array(withVector.length * dims);
    withVector.forEach((i, j) => {
      flat.set(queries[i]?.vector as Float32Array, j * dims);
    });
    // Started first: the pool searches the graphs while this thread runs BM25.
    vectorSearch = Promise.all(
      ctx.shards.map((s) => {
        const o = ctx.shardOptions(s, options, candidates);
        return o === undefined ? null : s.searchBatch(flat, o);
      }),
    ).then((lists) => withVector.map((_, j) => mergeHits(lists.map((l) => l?.[j] ?? []), candidates)));
    vectorSearch.catch(() => {});
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const lexicalK = mode === 'lexical' ? k : candidates;
  const where = { ...(options.namespace !== undefined ? { namespace: options.namespace } : {}), ...(options.filter !== undefined ? { filter: options.filter } : {}) };
  const termsOf: string[][] = queries.map(() => []);
  const corpusOf: Array<CorpusStats | undefined> = queries.map(() => undefined);
  const lexical = queries.map((q, i) => {
    if (q.text === null) return [];
    const terms = ctx.lexical[0]?.terms(q.text) ?? [];
    if (terms.length === 0) {
      if (q.vector === null) unanswerableQuery(failures, i, mode, q.vectorProblem, ctx.lexical[0]?.rules.stopWords ?? 'none');
      return [];
    }
    const corpus = mergeCorpus(ctx.lexical.map((l) => l.corpus(terms)));
    termsOf[i] = terms;
    corpusOf[i] = corpus;
    return mergeHits(
      ctx.lexical.map((l, s) => ((ctx.shards[s]?.count ?? 0) === 0 ? [] : l.search(terms, lexicalK, where, corpus))),
      lexicalK,
    );
  });
  const vector: Hit[][] = queries.map(() => []);
  if (vectorSearch !== null) {
    const merged = await vectorSearch;
    withVector.forEach((i, j) => {
      vector[i] = merged[j] ?? [];
    });
  }
  if (mode === 'lexical') return lexical.map((list) => list.map((h, j) => ({ ...h, lexicalRank: j + 1 })));
  const convex = fusion.method === 'convex';
  return queries.map((q, i) => {
    const v = vector[i] ?? [];
    const l = lexical[i] ?? [];
    return fuseHits(v, l, fusion, k, convex ? crossScores(ctx, q, termsOf[i] ?? [], corpusOf[i], v, l) : undefined);
  });
}
