/**
 * Fusing two rankings of the same documents into one: reciprocal-rank
 * fusion (Cormack et al. 2009: Σ weight / (k + rank)) or a weighted sum of
 * min-max normalised scores. Ranks are 1-based.
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

function normalised(list: readonly RankedCandidate[]): (score: number) => number {
  if (list.length === 0) return () => 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of list) {
    lo = Math.min(lo, c.score);
    hi = Math.max(hi, c.score);
  }
  // One candidate, or all equal: each counts fully.
  return hi > lo ? (s) => (s - lo) / (hi - lo) : () => 1;
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
  // Entries in parallel arrays (ranks 0 for "not found"), then the k best
  // selected by insertion: a search fuses at most a few hundred candidates.
  const keys: number[] = [];
  const scores: number[] = [];
  const vRank: number[] = [];
  const lRank: number[] = [];
  const at = new Map<number, number>();
  const { weights } = fusion;
  const rrf = fusion.method === 'rrf';
  const nv = normalised(vector);
  const nl = normalised(lexical);
  for (let i = 0; i < vector.length; i++) {
    const c = vector[i] as RankedCandidate;
    // A key twice on one side keeps its best rank.
    if (at.has(c.key)) continue;
    at.set(c.key, keys.length);
    keys.push(c.key);
    scores.push(rrf ? weights.vector / (fusion.k + i + 1) : weights.vector * nv(c.score));
    vRank.push(i + 1);
    lRank.push(0);
  }
  for (let i = 0; i < lexical.length; i++) {
    const c = lexical[i] as RankedCandidate;
    const s = rrf ? weights.lexical / (fusion.k + i + 1) : weights.lexical * nl(c.score);
    const e = at.get(c.key);
    if (e === undefined) {
      at.set(c.key, keys.length);
      keys.push(c.key);
      scores.push(s);
      vRank.push(0);
      lRank.push(i + 1);
    } else if (lRank[e] === 0) {
      scores[e] = (scores[e] as number) + s;
      lRank[e] = i + 1;
    }
  }
  const rank = (r: number): number => (r === 0 ? Number.POSITIVE_INFINITY : r);
  // Whether entry a ranks before entry b.
  const before = (a: number, b: number): boolean => {
    const d = (scores[b] as number) - (scores[a] as number) || rank(vRank[a] as number) - rank(vRank[b] as number) || rank(lRank[a] as number) - rank(lRank[b] as number) || (keys[a] as number) - (keys[b] as number);
    return d < 0;
  };
  const top: number[] = [];
  for (let e = 0; e < keys.length; e++) {
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
