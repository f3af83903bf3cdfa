/**
 * What `index.stats()` reports, and hnswlib's bytes per element.
 */
import { lexicalOf } from './hybrid.js';
import { syncHandle } from './open.js';
import type { IndexState } from './state.js';
import type { IndexStats } from './types.js';

/**
 * hnswlib's bytes per element: level 0 holds links (2M ids + count), the
 * vector and the label; upper levels average 1/(M−1) extra link lists.
 * @param m - HNSW links per node.
 * @param dims - dims of the graph's vectors.
 * @returns bytes per element, as `index.stats().bytesPerVector` reports it.
 */
export function graphBytesPerVector(m: number, dims: number): number {
  const level0 = (2 * m + 1) * 4 + dims * 4 + 8;
  const upper = ((m + 1) * 4) / Math.max(1, m - 1) + 8;
  return Math.round(level0 + upper);
}

/**
 * The statistics of an index.
 * @param s - the index (records decoded).
 * @returns counts, dims, parameters, bytes per vector and the PCA figures.
 * @throws {VecforgeError} ERR_INDEX while a lazily opened graph is still loading.
 */
export function indexStats(s: IndexState): Omit<IndexStats, 'searchCache'> {
  const info = s.core.getInfo(syncHandle(s));
  const { m, efConstruction, efSearch } = s.options;
  const namespaces: Record<string, number> = {};
  for (const name of s.labels.namespaces.keys()) namespaces[name] = s.labels.namespaceCount(name);
  return {
    count: s.labels.liveCount,
    deleted: info.deleted,
    dims: s.options.dims,
    space: s.options.space,
    capacity: info.maxElements,
    bytesPerVector: graphBytesPerVector(m, s.graphDims),
    params: { m, efConstruction, efSearch },
    namespaces,
    core: s.core.kind,
    version: s.version,
    pca: s.pca?.stats(s.nextLabel, (dims) => graphBytesPerVector(m, dims)) ?? null,
    lexical: lexicalOf(s)?.stats() ?? null,
  };
}
