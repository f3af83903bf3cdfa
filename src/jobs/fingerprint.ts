/**
 * What a job is: the index parameters it builds with.
 */
import type { IndexManifest } from '../index/persist.js';
import { pcaOptionsFromManifest, type PcaIndexOptions } from '../pca/index-options.js';
import type { JobSpec } from './types.js';

/**
 * The HNSW and PCA parameters of a job's index: the spec's, else (a full
 * reindex) the existing index's, else the defaults.
 * @param spec - the job.
 * @param base - the manifest of the index a reindex starts from.
 * @returns the parameters.
 */
export function indexParams(
  spec: JobSpec,
  base: IndexManifest | undefined,
): { space: 'cosine' | 'ip' | 'l2'; m: number; efConstruction: number; efSearch: number; pca: PcaIndexOptions | null } {
  return {
    space: spec.index.space ?? base?.space ?? 'cosine',
    m: spec.index.m ?? base?.params.m ?? 16,
    efConstruction: spec.index.efConstruction ?? base?.params.efConstruction ?? 200,
    efSearch: spec.index.efSearch ?? base?.params.efSearch ?? 64,
    // A full reindex keeps the PCA of the index it rebuilds unless told otherwise.
    pca: spec.index.pca !== undefined ? spec.index.pca : base !== undefined ? pcaOptionsFromManifest(base) : null,
  };
}
