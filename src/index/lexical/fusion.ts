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
  const byKey = new Map<number, { score: number; vectorRank: number | undefined; lexicalRank: number | undefined }>();
  const { weights } = fusion;
  const rrf = fusion.method === 'rrf';
  const nv = normalised(vector);
  const nl = normalised(lexical);
  vector.forEach((c, i) => {
    const s = rrf ? weights.vector / (fusion.k + i + 1) : weights.vector * nv(c.score);
    const e = byKey.get(c.key);
    // A key twice on one side keeps its best rank.
    if (e === undefined) byKey.set(c.key, { score: s, vectorRank: i + 1, lexicalRank: undefined });
  });
  lexical.forEach((c, i) => {
    const s = rrf ? weights.lexical / (fusion.k + i + 1) : weights.lexical * nl(c.score);
    const e = byKey.get(c.key);
    if (e === undefined) byKey.set(c.key, { score: s, vectorRank: undefined, lexicalRank: i + 1 });
    else if (e.lexicalRank === undefined) {
      e.score += s;
      e.lexicalRank = i + 1;
    }
  });
  const rank = (r: number | undefined): number => r ?? Number.POSITIVE_INFINITY;
  return [...byKey.entries()]
    .map(([key, e]) => ({ key, ...e }))
    .sort((a, b) => b.score - a.score || rank(a.vectorRank) - rank(b.vectorRank) || rank(a.lexicalRank) - rank(b.lexicalRank) || a.key - b.key)
    .slice(0, k);
}
