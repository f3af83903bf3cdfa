/**
 * One shard's job: the ordinary single-machine build (or reindex, once the
 * shard has a published version) of one shard directory from its input
 * file, with its own checkpoints, lock and errors.jsonl. The same function
 * runs in the coordinator's process (`--shards N`) and in queue workers
 * (`vecforge worker`), which pass it the JSON job data.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Engine } from '../../engine.js';
import { VecforgeError } from '../../errors.js';
import { currentVersion } from '../../index/persist.js';
import { kShardedMarkerFile } from '../../index/sharded/layout.js';
import type { LexicalOptions } from '../../index/lexical/options.js';
import type { PcaIndexOptions } from '../../pca/index-options.js';
import { buildIndex, reindex } from '../api.js';
import type { JobProgress, JobSummary } from '../types.js';
import { join } from 'node:path';

/** Everything a shard job needs, as JSON (a BullMQ job's data). */
export interface ShardJobData {
  /** The sharded index directory (absolute). */
  readonly dir: string;
  /** The set this job is part of. */
  readonly version: string;
  readonly shard: number;
  readonly shards: number;
  /** The shard's own index directory (absolute). */
  readonly shardDir: string;
  /** The shard's input file (absolute, JSONL). */
  readonly input: string;
  /** The model the coordinator's engine runs: a worker runs the same. */
  readonly model: string;
  readonly fields: { readonly id: string; readonly text: string; readonly namespace: string; readonly metadata: string };
  readonly chunkSize: number;
  readonly checkpointItems: number;
  readonly checkpointSeconds: number;
  readonly snippetChars: number;
  readonly maxRecordBytes: number;
  readonly embeddingCache: boolean | string;
  /** HNSW (and PCA) parameters of a new shard, or of a full rebuild. */
  readonly index: { readonly space?: 'cosine' | 'ip' | 'l2'; readonly m?: number; readonly efConstruction?: number; readonly efSearch?: number; readonly pca?: PcaIndexOptions | null; readonly lexical?: LexicalOptions | false };
  readonly keepMissing: boolean;
  readonly full: boolean;
}

/** How a shard job is run: its engine, cancellation and progress. */
export interface ShardJobControl {
  readonly engine: Engine;
  /** Stops at the next chunk with a checkpoint (the job resolves `interrupted`). */
  readonly stopSignal?: AbortSignal;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: JobProgress) => void;
}

/**
 * Checks that this process sees the paths of a shard job: the input and
 * the sharded index directory must be on a filesystem every worker shares
 * with the coordinator, at the same paths.
 * @param data - the job.
 * @throws {VecforgeError} ERR_IO naming the path this host cannot see.
 */
export function checkShardPaths(data: ShardJobData): void {
  const missing = [data.input, join(data.dir, kShardedMarkerFile)].find((p) => !existsSync(p));
  if (missing !== undefined) {
    throw new VecforgeError(
      'ERR_IO',
      `worker on ${hostname()} cannot see ${missing}: workers must see the coordinator's input and index directories at the same paths (a shared filesystem such as NFS or a mounted bucket)`,
    );
  }
}

/**
 * Runs a shard's job: a build while the shard has no published version
 * (resuming its checkpoint), a reindex once it has one.
 * @param data - the job.
 * @param control - engine, stop signal, progress.
 * @returns the job's summary.
 * @throws {VecforgeError} as buildIndex and reindex; ERR_IO when this host cannot see the paths; ERR_MODEL when the engine runs another model.
 */
export async function runShardJob(data: ShardJobData, control: ShardJobControl): Promise<JobSummary> {
  checkShardPaths(data);
  const modelId = control.engine.info().model;
  if (modelId !== data.model) throw new VecforgeError('ERR_MODEL', `shard job ${data.shard} needs model ${data.model}, this engine runs ${modelId}`);
  const common = {
    source: data.input,
    engine: control.engine,
    format: 'jsonl' as const,
    idField: data.fields.id,
    textField: data.fields.text,
    namespaceField: data.fields.namespace,
    metadataField: data.fields.metadata,
    chunkSize: data.chunkSize,
    checkpointItems: data.checkpointItems,
    checkpointSeconds: data.checkpointSeconds,
    snippetChars: data.snippetChars,
    maxRecordBytes: data.maxRecordBytes,
    embeddingCache: data.embeddingCache,
    command: `shard ${data.shard} of ${data.dir} (set ${data.version})`,
    ...(control.stopSignal !== undefined ? { stopSignal: control.stopSignal } : {}),
    ...(control.signal !== undefined ? { signal: control.signal } : {}),
    ...(control.onProgress !== undefined ? { onProgress: control.onProgress } : {}),
  };
  if (existsSync(data.shardDir) && currentVersion(data.shardDir) !== undefined) {
    return reindex({ ...common, dir: data.shardDir, keepMissing: data.keepMissing, full: data.full, ...(data.full ? { index: data.index } : {}) });
  }
  return buildIndex({ ...common, out: data.shardDir, index: data.index });
}
