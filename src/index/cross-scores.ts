/**
 * The vector side's score of documents it did not return, for the `convex`
 * fusion (lexical/fusion.ts), which scores every candidate on both sides:
 * the same score a vector search gives (cosine and ip: the dot product with
 * the unit query or the query; l2: minus the squared distance), from the
 * graph's stored vector, or for a PCA index from the full vector its rerank
 * reads.
 */
import { syncHandle } from './open.js';
import type { IndexState } from './state.js';

/**
 * The score a vector search gives a distance: −d for l2, 1 − d for cosine
 * and ip (hnswlib's distances are 1 − the dot product there).
 * @param space - the index's space.
 * @param distance - hnswlib's distance (NaN stays NaN).
 * @returns the score, higher is better.
 */
export function scoreOfDistance(space: IndexState['options']['space'], distance: number): number {
  return space === 'l2' ? -distance : 1 - distance;
}

/**
 * The least score the vector side can give, where the space has one.
 * @param s - the index.
 * @returns −1 for cosine; undefined for ip and l2 (unbounded).
 */
export function vectorScoreFloor(s: IndexState): number | undefined {
  return s.options.space === 'cosine' ? -1 : undefined;
}

/** One query's vector and the documents to score against it. */
export interface CrossQuery {
  readonly vector: Float32Array;
  readonly labels: ArrayLike<number>;
}

/**
 * Scores documents against queries as the vector side would: on the native
 * core in one call for the batch (its own distance functions, the query
 * normalised as a search does); otherwise from each stored vector.
 * @param s - the index.
 * @param queries - each query's vector (input dims) and labels.
 * @returns per query, one score per label; NaN for a label without a vector.
 */
export function vectorScoresMany(s: IndexState, queries: readonly CrossQuery[]): Float64Array[] {
  const core = s.core;
  if (s.pca !== null || core.labelScores === undefined || queries.length === 0) return queries.map((q) => vectorScoresOf(s, q.vector, q.labels));
  const dims = s.options.dims;
  const offsets = new Uint32Array(queries.length + 1);
  let total = 0;
  queries.forEach((q, i) => {
    total += q.labels.length;
    offsets[i + 1] = total;
  });
  const rows = new Float32Array(queries.length * dims);
  const labels = new Uint32Array(total);
  queries.forEach((q, i) => {
    rows.set(q.vector, i * dims);
    for (let j = 0; j < q.labels.length; j++) labels[(offsets[i] as number) + j] = q.labels[j] as number;
  });
  const dist = core.labelScores(syncHandle(s), rows, labels, offsets, new Float32Array(total));
  const space = s.options.space;
  return queries.map((q, i) => {
    const out = new Float64Array(q.labels.length);
    const from = offsets[i] as number;
    for (let j = 0; j < out.length; j++) out[j] = scoreOfDistance(space, dist[from + j] as number);
    return out;
  });
}

/**
 * Scores documents against one query as the vector side would.
 * @param s - the index.
 * @param query - the query (input dims).
 * @param labels - the documents.
 * @returns one score per label; NaN for a label without a vector.
 */
export function vectorScoresOf(s: IndexState, query: Float32Array, labels: ArrayLike<number>): Float64Array {
  const out = new Float64Array(labels.length).fill(Number.NaN);
  if (labels.length === 0) return out;
  const space = s.options.space;
  let qn = 0;
  for (let j = 0; j < query.length; j++) qn += (query[j] as number) * (query[j] as number);
  const qScale = space === 'cosine' && qn > 0 ? 1 / Math.sqrt(qn) : 1;
  const handle = s.pca === null ? syncHandle(s) : 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    let v: Float32Array | undefined;
    if (s.pca !== null) v = s.pca.vector(label);
    else {
      try {
        v = s.core.getVector(handle, label);
      } catch {
        // A document stored for the lexical side alone has no vector.
        v = undefined;
      }
    }
    if (v === undefined || v.length !== query.length) continue;
    if (space === 'l2') {
      let d = 0;
      for (let j = 0; j < v.length; j++) {
        const x = (v[j] as number) - (query[j] as number);
        d += x * x;
      }
      out[i] = -d;
    } else {
      let dot = 0;
      let vn = 0;
      for (let j = 0; j < v.length; j++) {
        dot += (v[j] as number) * (query[j] as number);
        vn += (v[j] as number) * (v[j] as number);
      }
      // Cosine graphs store unit vectors; a PCA index's full vectors are re-normalised, but divide anyway.
      out[i] = space === 'cosine' ? (dot * qScale) / (vn > 0 ? Math.sqrt(vn) : 1) : dot;
    }
  }
  return out;
}
