/**
 * Fusing two rankings of the same documents into one. Ranks are 1-based.
 *
 * - `rrf`: reciprocal-rank fusion (Cormack et al. 2009): Σ weight / (k + rank)
 *   over the sides that found a document.
 * - `weighted`: Σ weight × the side's score min-max normalised over that
 *   side's candidates, over the sides that found it.
 * - `convex`: every candidate of either side scored on both sides (the
 *   caller supplies each side's score of the other side's candidates), each
 *   side's scores normalised by their theoretical minimum and the largest
 *   among the candidates (BM25: x / max; cosine: (x + 1) / (max + 1); a
 *   space without a known minimum: min-max), then their weighted mean: the
 *   TM2C2 fusion of Bruch, Gai and Ingber, "An Analysis of Fusion Functions
 *   for Hybrid Retrieval" (ACM TOIS 42(1), 2023). Unlike rank fusion it
 *   keeps how far apart the scores are, and a document one side missed is
 *   not scored as if that side had nothing to say about it.
 */
import type { ResolvedFusionOptions } from './options.js';

/** One side's candidate: a key (the document's label) and its score, best first. */
export interface RankedCandidate {
  readonly key: number;
  readonly score: number;
}

/** A fused result. */
export interface FusedCandidate {
  readonly key: number;
  readonly score: number;
  /** 1-based rank on the vector side; undefined when that side did not find it. */
  readonly vectorRank: number | undefined;
  readonly lexicalRank: number | undefined;
}

/** One side's ranking in parallel arrays, best first: its first `length` keys (labels) and their scores. */
export interface Ranking {
  readonly keys: ArrayLike<number>;
  readonly scores: ArrayLike<number>;
  readonly length: number;
  /**
   * `convex` only: the other side's score of each of these keys (NaN where
   * it has none: a document without a vector, a query without one; a
   * lexical score of 0 where no query term is in the document). Absent:
   * the other side's score is unknown, and counts as its lowest.
   */
  readonly cross?: ArrayLike<number>;
  /** `convex` only: the least score this side can give (cosine: −1); absent: the least among the candidates. */
  readonly floor?: number;
}

/** Entries of the fusion in progress, kept between calls (searches are synchronous). */
let gKeys = new Float64Array(256);
let gScores = new Float64Array(256);
/** Each entry's score on each side (NaN: unknown). */
let gVRaw = new Float64Array(256);
let gLRaw = new Float64Array(256);
let gVRank = new Int32Array(256);
let gLRank = new Int32Array(256);
/** An open-addressing table from key to entry (−1: empty), at most half full; only its used slots are cleared after a fusion. */
let gTable = new Int32Array(1024).fill(-1);
let gUsed = new Int32Array(256);

/** The slot of a key in the table: where it is, or the empty slot where it would go. */
function slotOf(key: number, keys: Float64Array, table: Int32Array): number {
  const mask = table.length - 1;
  // Keys are labels (uint32); any other number still works, only with more collisions.
  let h = Math.imul(key >>> 0, 0x9e3779b1) >>> 0;
  h = (h ^ (h >>> 15)) & mask;
  for (;;) {
    const e = table[h] as number;
    if (e === -1 || keys[e] === key) return h;
    h = (h + 1) & mask;
  }
}

/** [lo, hi] of a side's scores (a one-candidate or all-equal side has lo = hi). */
function span(r: Ranking): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < r.length; i++) {
    const x = r.scores[i] as number;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/**
 * TM2C2 scores of the first `n` entries into gScores: each side normalised
 * by its theoretical least score (BM25: 0; the vector side's `floor`, or
 * the least among the candidates when it has none) and its largest among
 * the candidates, an unknown score as the least; then the weighted mean.
 */
function convexScores(n: number, floor: number | undefined, weights: ResolvedFusionOptions['weights']): void {
  let vMin = Number.POSITIVE_INFINITY;
  let vMax = Number.NEGATIVE_INFINITY;
  let lMax = 0;
  for (let e = 0; e < n; e++) {
    const v = gVRaw[e] as number;
    if (v < vMin) vMin = v;
    if (v > vMax) vMax = v;
    const l = gLRaw[e] as number;
    if (l > lMax) lMax = l;
  }
  const lo = floor !== undefined && floor <= vMin ? floor : vMin;
  const vSpan = vMax - lo;
  const total = weights.vector + weights.lexical;
  const wv = total > 0 ? weights.vector / total : 0;
  const wl = total > 0 ? weights.lexical / total : 0;
  for (let e = 0; e < n; e++) {
    const v = gVRaw[e] as number;
    const l = gLRaw[e] as number;
    // NaN compares false: an unknown score adds nothing (its side's least).
    const nv = v >= lo && vSpan > 0 ? (v - lo) / vSpan : v >= lo ? 1 : 0;
    const nl = l > 0 && lMax > 0 ? l / lMax : 0;
    gScores[e] = wv * nv + wl * nl;
  }
}

/**
 * Fuses a vector and a lexical ranking.
 * @param vector - the vector side's candidates, best first.
 * @param lexical - the lexical side's candidates, best first.
 * @param fusion - method, RRF constant and weights.
 * @param k - results wanted.
 * @returns the k best, best first; ties go to the better vector rank, then the better lexical rank, then the lower key.
 */
export function fuseRankings(vector: readonly RankedCandidate[], lexical: readonly RankedCandidate[], fusion: ResolvedFusionOptions, k: number): FusedCandidate[] {
  const side = (list: readonly RankedCandidate[]): Ranking => ({ keys: list.map((c) => c.key), scores: list.map((c) => c.score), length: list.length });
  return fuse(side(vector), side(lexical), fusion, k);
}

/**
 * {@link fuseRankings} over parallel arrays: no object per candidate.
 * @param vector - the vector side's ranking.
 * @param lexical - the lexical side's ranking.
 * @param fusion - method, RRF constant and weights.
 * @param k - results wanted.
 * @returns the k best, best first (ties as {@link fuseRankings}).
 */
export function fuse(vector: Ranking, lexical: Ranking, fusion: ResolvedFusionOptions, k: number): FusedCandidate[] {
  // Entries in parallel arrays (ranks 0 for "not found"; raw scores NaN for
  // "unknown"), scored by the method, then the k best selected by
  // insertion: a search fuses at most a few hundred candidates.
  const most = vector.length + lexical.length;
  if (gKeys.length < most) {
    gKeys = new Float64Array(most * 2);
    gScores = new Float64Array(most * 2);
    gVRaw = new Float64Array(most * 2);
    gLRaw = new Float64Array(most * 2);
    gVRank = new Int32Array(most * 2);
    gLRank = new Int32Array(most * 2);
    gUsed = new Int32Array(most * 2);
  }
  if (gTable.length < most * 2) {
    let size = gTable.length;
    while (size < most * 2) size *= 2;
    gTable = new Int32Array(size).fill(-1);
  }
  const table = gTable;
  const used = gUsed;
  const keys = gKeys;
  const vRaw = gVRaw;
  const lRaw = gLRaw;
  const vRank = gVRank;
  const lRank = gLRank;
  let n = 0;
  for (let i = 0; i < vector.length; i++) {
    const key = vector.keys[i] as number;
    // A key twice on one side keeps its best rank.
    const slot = slotOf(key, keys, table);
    if (table[slot] !== -1) continue;
    table[slot] = n;
    used[n] = slot;
    keys[n] = key;
    vRaw[n] = vector.scores[i] as number;
    lRaw[n] = vector.cross === undefined ? Number.NaN : (vector.cross[i] as number);
    vRank[n] = i + 1;
    lRank[n] = 0;
    n++;
  }
  for (let i = 0; i < lexical.length; i++) {
    const key = lexical.keys[i] as number;
    // Found by the vector side, or already by this one (a key twice keeps its best rank).
    const slot = slotOf(key, keys, table);
    const e = table[slot] as number;
    if (e === -1) {
      table[slot] = n;
      used[n] = slot;
      keys[n] = key;
      vRaw[n] = lexical.cross === undefined ? Number.NaN : (lexical.cross[i] as number);
      lRaw[n] = lexical.scores[i] as number;
      vRank[n] = 0;
      lRank[n] = i + 1;
      n++;
    } else if (lRank[e] === 0) {
      lRaw[e] = lexical.scores[i] as number;
      lRank[e] = i + 1;
    }
  }
  const scores = gScores;
  if (fusion.method === 'convex') convexScores(n, vector.floor, fusion.weights);
  else {
    const { weights } = fusion;
    const rrf = fusion.method === 'rrf';
    const [vlo, vhi] = span(vector);
    const [llo, lhi] = span(lexical);
    for (let e = 0; e < n; e++) {
      let s = 0;
      const vr = vRank[e] as number;
      const lr = lRank[e] as number;
      if (vr > 0) s = rrf ? weights.vector / (fusion.k + vr) : weights.vector * (vhi > vlo ? ((vRaw[e] as number) - vlo) / (vhi - vlo) : 1);
      if (lr > 0) s += rrf ? weights.lexical / (fusion.k + lr) : weights.lexical * (lhi > llo ? ((lRaw[e] as number) - llo) / (lhi - llo) : 1);
      scores[e] = s;
    }
  }
  for (let e = 0; e < n; e++) table[used[e] as number] = -1;
  const rank = (r: number): number => (r === 0 ? Number.POSITIVE_INFINITY : r);
  // Whether entry a ranks before entry b.
  const before = (a: number, b: number): boolean => {
    const d = (scores[b] as number) - (scores[a] as number) || rank(vRank[a] as number) - rank(vRank[b] as number) || rank(lRank[a] as number) - rank(lRank[b] as number) || (keys[a] as number) - (keys[b] as number);
    return d < 0;
  };
  const top: number[] = [];
  for (let e = 0; e < n; e++) {
    if (top.length === k && !before(e, top[k - 1] as number)) continue;
    let j = Math.min(top.length, k - 1);
    if (top.length < k) top.push(e);
    while (j > 0 && before(e, top[j - 1] as number)) {
      top[j] = top[j - 1] as number;
      j--;
    }
    top[j] = e;
  }
  return top.map((e) => ({ key: keys[e] as number, score: scores[e] as number, vectorRank: vRank[e] === 0 ? undefined : vRank[e], lexicalRank: lRank[e] === 0 ? undefined : lRank[e] }));
}
