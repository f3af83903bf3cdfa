/**
 * vecforge's public API: named re-exports and types only.
 */
export { Engine } from './engine.js';
export type { EngineCreateContext, EmbedOptions, EmbedStreamOptions, EmbedStreamBatch, EngineInfo } from './engine.js';
export type { EngineOptions, ResolvedEngineOptions, OptionSource } from './config/engine-options.js';
export { resolveEngineOptions, resolveEngineSourced, readConfigFile } from './config/resolve.js';
export { VecforgeError, AbortError } from './errors.js';
export type { VecforgeErrorCode } from './errors.js';
export type { EmbedResult } from './scheduler/scheduler.js';
export type { ItemOutcome, ItemOk, ItemFailed, ItemFailureCode } from './scheduler/outcome.js';
export type { EngineMetrics } from './scheduler/metrics.js';
export type { EmbedKernel, ModelDefinition, PreparedModel } from './models/embedder.js';
export { kModels } from './models/registry.js';
export { kBackendNames } from './tensor/backend.js';
export type { BackendName, BackendChoice } from './tensor/backend.js';
export { NpyWriter, readNpy } from './io/npy.js';
export { readLines } from './io/lines.js';
export type { FileLine } from './io/lines.js';
export { contentHash } from './store/record.js';
export type { VectorIndex } from './index/vector-index.js';
export type { IndexOptions, IndexItem, IndexItemOutcome, IndexItemFailureCode, Hit, OpenIndexOptions, SearchOptions, UpsertOptions, IndexStats, IndexPcaStats, PcaFitSummary } from './index/types.js';
export { kDefaultPcaIndexOptions, pcaOptionsFromManifest } from './pca/index-options.js';
export type { PcaIndexOptions } from './pca/index-options.js';
export type { FullVectorStorage } from './pca/full-vectors.js';
export type { MetadataFilter, FieldCondition, RangeCondition, InCondition } from './index/filter.js';
export type { IndexManifest } from './index/persist.js';
export { buildIndex, reindex } from './jobs/api.js';
export type { JobOptions, JobIndexOptions, BuildIndexOptions, ReindexOptions } from './jobs/api.js';
export type { JobSummary, JobProgress, JobStages, JobCounts } from './jobs/types.js';
export type { JobFailureCode } from './jobs/records.js';
export { EmbeddingCache, embeddingCachePath } from './store/embedding-cache.js';
export { resolveConfig, resolveConfigSourced, findConfigFile, envVarName, kConfigSections, kConfigFileNames } from './config/resolve.js';
export type { ResolvedConfig, SourcedConfig, FullConfigSources, SectionName, Sourced } from './config/resolve.js';
export type { IndexSection, JobSection, SearchSection, OutputSection } from './config/job-options.js';
export { inspectIndex, verifyIndex } from './jobs/inspect.js';
export type { IndexDescription, VerifyReport, VerifyCheck } from './jobs/inspect.js';
