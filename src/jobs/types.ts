/**
 * The types of a job: its resolved spec, the progress it reports, the
 * summary it returns and its counters.
 */
import type { Engine } from '../engine.js';
import type { EngineCreateOptions } from '../engine.js';
import type { LexicalOptions } from '../index/lexical/options.js';
import type { PcaIndexOptions } from '../pca/index-options.js';
import type { ProviderMetrics } from '../models/providers/provider-metrics.js';
import type { FieldNames } from './records.js';
import type { RecordPosition, SourceFormat } from './source-records.js';

/** Counters of a job. */
export interface JobCounts {
  /** Records read (ok or failed; blank lines excluded). */
  read: number;
  /** New ids added to the index. */
  added: number;
  /** Ids whose text, namespace or metadata changed, upserted. */
  updated: number;
  /** Ids whose content is unchanged (reindex only). */
  unchanged: number;
  /** Ids removed because the input no longer has them (reindex only). */
  deleted: number;
  /** Records written to errors.jsonl. */
  failed: number;
  /** Texts embedded by the model (the rest came from the embedding cache). */
  embedded: number;
  /** Vectors found in the embedding cache. */
  cacheHits: number;
}

/**
 * Time spent per stage, in ms, on the job's own thread; the stages never
 * overlap. A reindex embeds and upserts changed records on the pool while
 * it reads on: that work is not counted, only waiting for it (as insert).
 */
export interface JobStages {
  /** Reading, decoding and parsing the input; validating items; diffing against the index. */
  readonly readMs: number;
  /** Looking vectors up in, and writing them to, the embedding cache. */
  readonly cacheMs: number;
  /** Embedding texts on the pool. */
  readonly embedMs: number;
  /** Inserting into (and deleting from) the HNSW graph and doc store. */
  readonly insertMs: number;
  /** Checkpoints, the final save, publishing, errors.jsonl. */
  readonly writeMs: number;
  /** Everything else: engine start, opening the index, replaying the input before a resume point. */
  readonly otherMs: number;
}

/** Progress of a running job, reported after every chunk. */
export interface JobProgress {
  readonly counts: Readonly<JobCounts>;
  /** The last record processed. */
  readonly position: RecordPosition;
  /** Input bytes in all (files only). */
  readonly totalBytes: number | null;
  readonly elapsedMs: number;
  /** Records per second since the job started. */
  readonly itemsPerSecond: number;
  /** True when this chunk ended with a checkpoint. */
  readonly checkpoint: boolean;
}

/** What a job returns. */
export interface JobSummary {
  /** ok: every record succeeded; partial: some failed (see errors.jsonl); interrupted: stopped at a checkpoint, rerun to resume. */
  readonly state: 'ok' | 'partial' | 'interrupted';
  readonly kind: 'build' | 'reindex';
  readonly full: boolean;
  /** The index directory. */
  readonly dir: string;
  /** The version published by this job; the unchanged current version when nothing changed; null when interrupted. */
  readonly version: string | null;
  /** Whether this job published a new version. */
  readonly published: boolean;
  readonly counts: Readonly<JobCounts>;
  /** Where this run resumed, when it did. */
  readonly resumedFrom: { readonly item: number; readonly line: number } | null;
  /** Why an existing checkpoint was not used, when one was found. */
  readonly discardedCheckpoint: string | null;
  /** A stale lock of a dead process that was taken over. */
  readonly tookOverLockOf: number | null;
  /** errors.jsonl, when some record failed. */
  readonly errorsFile: string | null;
  readonly seconds: number;
  /** Records read per second by this run (after the resume point, when it resumed). */
  readonly itemsPerSecond: number;
  readonly stages: JobStages;
  /** The PCA refit of `refitPca`, when this run did it. */
  /** A remote provider model's counters (requests, retries, 429s, breaker, latency, tokens, cache hits) at the end of the job; null for a local model. */
  readonly provider: ProviderMetrics | null;
  readonly pcaRefit: { readonly inputDims: number; readonly outputDims: number; readonly fittedOn: number; readonly explainedVarianceRatio: number; readonly fitMs: number; readonly rebuilt: number } | null;
}

/** A fully resolved job. */
export interface JobSpec {
  readonly kind: 'build' | 'reindex';
  readonly full: boolean;
  readonly keepMissing: boolean;
  readonly dir: string;
  readonly source: string | AsyncIterable<unknown> | Iterable<unknown>;
  readonly sourceId: string;
  readonly format: 'auto' | SourceFormat;
  readonly fields: FieldNames;
  readonly snippetChars: number;
  readonly maxRecordBytes: number;
  readonly chunkSize: number;
  readonly checkpointItems: number;
  readonly checkpointSeconds: number;
  /** HNSW, PCA and lexical parameters for a new index; for a full reindex, unset keys keep the existing index's (`pca: null` drops PCA). */
  readonly index: { readonly space?: 'cosine' | 'ip' | 'l2'; readonly m?: number; readonly efConstruction?: number; readonly efSearch?: number; readonly pca?: PcaIndexOptions | null; readonly lexical?: LexicalOptions | false };
  /** Reindex: refit the PCA model on the index's data and rebuild its graph (implied by `full`); `sample` overrides the index's sample size. */
  readonly refitPca: boolean | { readonly sample?: number };
  readonly embeddingCache: boolean | string;
  readonly engine: Engine | EngineCreateOptions;
  readonly command: string;
  readonly signal: AbortSignal | undefined;
  readonly stopSignal: AbortSignal | undefined;
  readonly onProgress: ((p: JobProgress) => void) | undefined;
}
