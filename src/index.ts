/**
 * vecforge's public API: named re-exports and types only, grouped by
 * module. Everything else under `src/` is internal and may change in any
 * release; the CLI reaches config and IO through internal imports.
 *
 * Values (13): the engine, the index jobs, index inspection, the errors,
 * the read-only registries and defaults a caller builds options from, and
 * the result cache (an index's `searchCache`, also used by `vecforge serve`).
 */

// Engine: embedding, and the factory of indexes.
export { Engine } from './engine.js';
export type { EngineCreateContext, EngineCreateOptions, EngineMetricsWithProvider, EmbedOptions, EmbedStreamOptions, EmbedStreamBatch, EngineInfo } from './engine.js';
export type { EngineOptions, ResolvedEngineOptions, OptionSource } from './config/engine-options.js';
export type { EmbedResult } from './scheduler/scheduler.js';
export type { ItemOutcome, ItemOk, ItemFailed, ItemFailureCode } from './scheduler/outcome.js';
export type { EngineMetrics } from './scheduler/metrics.js';
export type { ProviderOptions } from './models/providers/options.js';
export type { ProviderMetrics } from './models/providers/provider-metrics.js';

// Errors: one class with a string code; AbortError for cancelled calls.
export { VecforgeError, AbortError, kErrorCodes } from './errors.js';
export type { VecforgeErrorCode } from './errors.js';

// Models and backends: the frozen registries, and the contract a model implements.
export { kModels } from './models/registry.js';
export type { EmbedKernel, ModelDefinition, PreparedModel } from './models/embedder.js';
export { kBackendNames } from './tensor/backend.js';
export type { BackendName, BackendChoice } from './tensor/backend.js';

// Indexes: the VectorIndex contract (created by Engine.createIndex / openIndex) and its types.
export type { VectorIndex } from './index/vector-index.js';
export type { IndexOptions, IndexItem, IndexItemOutcome, IndexItemFailureCode, Hit, OpenIndexOptions, SaveOptions, SearchOptions, SearchOutcome, SearchFailureCode, UpsertOptions, IndexStats, IndexPcaStats, PcaFitSummary } from './index/types.js';
export type { MetadataFilter, FieldCondition, RangeCondition, InCondition } from './index/filter.js';
export type { IndexManifest } from './index/persist.js';
export { SearchCache, kDefaultSearchCacheOptions } from './index/search-cache.js';
export type { SearchCacheOptions, SearchCacheStats } from './index/search-cache.js';
export { kSearchModes, kDefaultLexicalOptions } from './index/lexical/options.js';
export type { SearchMode, FusionOptions, LexicalOptions, LexicalStats } from './index/lexical/options.js';

// PCA: the defaults of an index's projection stage.
export { kDefaultPcaIndexOptions } from './pca/index-options.js';
export type { PcaIndexOptions } from './pca/index-options.js';
export type { FullVectorStorage } from './pca/full-vectors.js';

// Jobs: resumable builds and reindexes from files or iterables; inspection and verification.
export { buildIndex, reindex } from './jobs/api.js';
export type { JobOptions, JobIndexOptions, BuildIndexOptions, ReindexOptions } from './jobs/api.js';
export type { JobSummary, JobProgress, JobStages, JobCounts } from './jobs/types.js';
export type { JobFailureCode } from './jobs/records.js';
export { inspectIndex, verifyIndex } from './jobs/inspect.js';
export type { IndexDescription, VerifyReport, VerifyCheck } from './jobs/inspect.js';
