/**
 * The job runner behind `buildIndex` and `reindex`: streams a source in
 * chunks, diffs against the index (reindex), takes vectors from the
 * embedding cache or embeds them on the pool, upserts them into a work
 * index that is checkpointed every N items or T seconds, and publishes the
 * result as one new version of the index directory.
 *
 * Every vector reaches the index by one path: the model's output (fresh
 * from `engine.embed`, or the same bytes from the embedding cache) added as
 * a `vector` item. So a resumed job, a cached run and a clean build store
 * bit-identical vectors.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Engine } from '../engine.js';
import type { EngineOptions } from '../config/engine-options.js';
import { VecforgeError, throwIfAborted } from '../errors.js';
import { currentVersion } from '../index/persist.js';
import type { IndexItem } from '../index/types.js';
import type { VectorIndex } from '../index/vector-index.js';
import { jobIndexHandle, jobOpenOptions } from '../index/internal.js';
import type { DocRecord } from '../store/doc-store.js';
import { pcaOptionsFromManifest, resolvePcaIndexOptions, type PcaIndexOptions } from '../pca/index-options.js';
import { EmbeddingCache, embeddingCachePath } from '../store/embedding-cache.js';
import { acquireLock, type HeldLock } from './lock.js';
import { keepIndex, releaseKeptIndex, takeKeptIndex } from './warm.js';
import { jsonEqual, readId, toItem, type FieldNames, type ItemLimits, type JobFailureCode, type JobItem } from './records.js';
import { detectFormat, inputIdentity, readFileRecordsKnowing, readIterableRecords, restOfRun, type KnownSourceRecord, type RecordPosition, type SameRun, type SourceFormat } from './sources.js';
import {
  clearJob,
  currentManifest,
  encodeLineSnapshot,
  forkIndex,
  jobPaths,
  publishWork,
  readCheckpoint,
  hasLineSnapshot,
  readLineSnapshot,
  resumableProgress,
  workIsPublished,
  writeCheckpoint,
  zeroCounts,
  type JobCounts,
  type JobPaths,
  type KnownLines,
  type LineSnapshot,
  type Progress,
} from './workdir.js';

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
  /** HNSW and PCA parameters for a new index; for a full reindex, unset keys keep the existing index's (`pca: null` drops PCA). */
  readonly index: { readonly space?: 'cosine' | 'ip' | 'l2'; readonly m?: number; readonly efConstruction?: number; readonly efSearch?: number; readonly pca?: PcaIndexOptions | null };
  /** Reindex: refit the PCA model on the index's data and rebuild its graph (implied by `full`); `sample` overrides the index's sample size. */
  readonly refitPca: boolean | { readonly sample?: number };
  readonly embeddingCache: boolean | string;
  readonly engine: Engine | EngineOptions;
  readonly command: string;
  readonly signal: AbortSignal | undefined;
  readonly stopSignal: AbortSignal | undefined;
  readonly onProgress: ((p: JobProgress) => void) | undefined;
}

type Stage = 'read' | 'cache' | 'embed' | 'insert' | 'write';

class StageTimers {
  readonly ms: Record<Stage, number> = { read: 0, cache: 0, embed: 0, insert: 0, write: 0 };

  async time<T>(stage: Stage, fn: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.ms[stage] += performance.now() - t0;
    }
  }

  timeSync<T>(stage: Stage, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.ms[stage] += performance.now() - t0;
    }
  }
}

interface Failure {
  readonly line: number;
  readonly id?: string;
  readonly code: JobFailureCode | string;
  readonly reason: string;
}

const kDeleteBatch = 10_000;
/** A reindex starts upserting changed records once this many gathered, while it reads on. */
const kEagerFlushItems = 64;

/** Appends to errors.jsonl; fsynced at checkpoints. */
class ErrorsFile {
  readonly #fd: number;
  readonly path: string;

  constructor(path: string, keepBytes: number) {
    this.path = path;
    try {
      if (existsSync(path)) truncateSync(path, keepBytes);
      this.#fd = openSync(path, 'a');
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  }

  write(failures: readonly Failure[]): void {
    if (failures.length === 0) return;
    const text = failures.map((f) => `${JSON.stringify(f)}\n`).join('');
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(this.#fd, bytes, written, bytes.length - written);
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot write ${this.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  }

  /** Flushes to disk and returns the file size. */
  sync(): number {
    fsyncSync(this.#fd);
    return fstatSync(this.#fd).size;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/**
 * Runs a job end to end.
 * @param spec - the resolved job.
 * @returns the summary.
 * @throws {VecforgeError} ERR_LOCKED, ERR_IO, ERR_INDEX, ERR_INDEX_CORRUPT, ERR_INVALID_INPUT when the job fails as a whole.
 * @throws {AbortError} when `spec.signal` aborts (the last checkpoint stays resumable).
 */
export async function runJob(spec: JobSpec): Promise<JobSummary> {
  throwIfAborted(spec.signal);
  const started = performance.now();
  const timers = new StageTimers();
  const dir = resolve(spec.dir);
  const paths = jobPaths(dir);
  if (spec.kind === 'build') {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot create ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  } else if (!existsSync(dir) || currentVersion(dir) === undefined) {
    throw new VecforgeError('ERR_INDEX', `${dir} holds no published index; build one first with \`vecforge build\``);
  }
  const lock = acquireLock(dir, spec.command);
  let engine: Engine | undefined;
  let cache: EmbeddingCache | null = null;
  let index: VectorIndex | undefined;
  let errors: ErrorsFile | undefined;
  try {
    engine = spec.engine instanceof Engine ? spec.engine : await Engine.create(spec.engine, spec.signal !== undefined ? { signal: spec.signal } : {});
    const info = engine.info();
    if (spec.embeddingCache !== false) cache = EmbeddingCache.open(typeof spec.embeddingCache === 'string' ? spec.embeddingCache : embeddingCachePath(info.cacheDir));
    const file = typeof spec.source === 'string' ? resolve(spec.source) : null;
    const format = file !== null ? await detectFormat(file, spec.format) : null;
    const sourceIdentity = file !== null ? { path: file, format, ...(await inputIdentity(file)) } : { iterable: spec.sourceId };
    const base = spec.kind === 'reindex' ? currentManifest(dir) : undefined;
    const incremental = spec.kind === 'reindex' && !spec.full;
    const params = indexParams(spec, base?.manifest);
    // Checked before anything is written: the pca option against the model's dims, a refit against the index.
    if (params.pca !== null) resolvePcaIndexOptions(params.pca, info.dims);
    const refit = spec.refitPca !== false && incremental;
    const refitSample = typeof spec.refitPca === 'object' ? spec.refitPca.sample : undefined;
    if (refit) {
      const pca = base?.manifest.extra.pca as { rerank?: unknown; outputDims?: unknown } | undefined;
      if (pca === undefined || pca === null) throw new VecforgeError('ERR_PCA', `--refit-pca: index ${dir} has no PCA; rebuild it with PCA: vecforge reindex --full --pca DIMS`);
      if (pca.rerank !== true) throw new VecforgeError('ERR_PCA', `--refit-pca: index ${dir} keeps no full vectors (built with --no-rerank), so the PCA cannot be refitted from it; rebuild it from its source: vecforge reindex --full`);
      const needed = Math.max(2, typeof pca.outputDims === 'number' ? pca.outputDims : 2);
      if (refitSample !== undefined && refitSample < needed) {
        throw new RangeError(`options.refitPca.sample must be at least the index's PCA dims (${needed}) to fit ${needed} components, got ${refitSample}`);
      }
    }
    const fingerprint = {
      kind: spec.kind,
      full: spec.full,
      keepMissing: spec.keepMissing,
      source: sourceIdentity,
      model: info.modelId,
      fields: spec.fields,
      snippetChars: spec.snippetChars,
      maxTextBytes: info.options.maxTextBytes,
      maxRecordBytes: spec.maxRecordBytes,
      index: params,
      refitPca: refit ? { sample: refitSample ?? null } : false,
      base: base?.name ?? null,
    };

    // A JSONL file's lines are remembered with the version a job publishes;
    // the next reindex of it takes the lines it finds there as unchanged.
    const linesKey = JSON.stringify({ model: info.modelId, fields: spec.fields, snippetChars: spec.snippetChars, maxTextBytes: info.options.maxTextBytes, maxRecordBytes: spec.maxRecordBytes });
    const lines: LineSettings = { key: linesKey, collect: file !== null && format === 'jsonl', known: null };

    let discarded: string | null = null;
    let progress: Progress | undefined;
    /** This run forked the current version afresh (not resumed). */
    let forked = false;
    const cp = readCheckpoint(paths);
    if (cp !== undefined) {
      if (!isDeepStrictEqual(JSON.parse(JSON.stringify(fingerprint)), cp.fingerprint)) discarded = `it belongs to a different job (${describeDifference(cp.fingerprint, fingerprint)})`;
      else {
        progress = resumableProgress(paths, cp);
        if (progress === undefined) discarded = 'its work index does not match it';
      }
    } else if (existsSync(paths.jobDir)) discarded = 'the job before stopped before its first checkpoint';

    if (cp !== undefined && progress !== undefined && cp.phase === 'publishing') {
      const counts = progress.counts;
      const version = await timers.time('write', () => (workIsPublished(paths.workDir, dir) ? (currentVersion(dir)?.name ?? null) : publishWork(paths.workDir, dir, jobExtra(spec, fingerprint, counts))));
      clearJob(paths);
      return summarize(spec, dir, { state: progress.counts.failed > 0 ? 'partial' : 'ok', version, published: true, counts: progress.counts, resumedFrom: progress.position, discarded, lock, errorsPath: paths.errors, started, timers });
    }

    if (progress === undefined && spec.kind === 'build') {
      // A build killed after publishing but before exiting: the same command again is a no-op.
      const done = currentManifest(dir);
      const job = done?.manifest.extra.job as { fingerprint?: unknown; counts?: JobCounts } | undefined;
      if (done !== undefined && job?.counts !== undefined && isDeepStrictEqual(job.fingerprint, JSON.parse(JSON.stringify(fingerprint)))) {
        clearJob(paths);
        const counts = job.counts;
        return summarize(spec, dir, { state: counts.failed > 0 ? 'partial' : 'ok', version: done.name, published: false, counts, resumedFrom: null, discarded, lock, errorsPath: paths.errors, started, timers });
      }
    }

    if (progress === undefined) {
      if (spec.kind === 'build' && currentVersion(dir) !== undefined) {
        throw new VecforgeError('ERR_INDEX', `${dir} already holds an index; update it with \`vecforge reindex --index ${spec.dir} --input ...\` (add --full to rebuild it)`);
      }
      clearJob(paths);
      mkdirSync(paths.jobDir, { recursive: true });
      const version = incremental ? await timers.time('write', () => forkIndex(dir, paths.workDir)) : null;
      forked = version !== null;
      progress = { version, position: { item: 0, line: 0, offset: 0 }, errorsBytes: 0, counts: zeroCounts() };
      writeCheckpoint(paths, { fingerprint, phase: 'running', committed: progress, pending: null });
    }
    const resumedFrom = progress.position.item > 0 ? progress.position : null;
    // The work index started as a copy of `base` (a resumed job checked that the base is the same).
    // A fresh reindex starts from the current version: the index this process published as that version, when it kept it, holds it already.
    const warm = forked && base !== undefined ? await takeKeptIndex(engine, dir, base) : await releaseKeptIndex(dir);
    const snapshot = lines.collect && incremental && base !== undefined ? base : undefined;
    if (warm !== undefined) {
      index = warm;
      await timers.time('read', () => jobIndexHandle(warm).rebase(paths.workDir));
    } else {
      // Opened first, with its graph loading on a pool worker while this
      // thread reads the known lines and the input; whatever needs the
      // graph waits for it, and the job checks at the end that it loaded.
      // With known lines, the doc store is decoded only once the changed
      // records' inserts are running on the pool (lazyDocs): records read
      // before then are compared with the index when they are upserted.
      index =
        progress.version === null
          ? await engine.createIndex({ dir: paths.workDir, ...params })
          : await engine.openIndex(paths.workDir, jobOpenOptions({ hugePages: false, lazyGraph: true, lazyDocs: snapshot !== undefined && hasLineSnapshot(snapshot) }));
    }
    if (snapshot !== undefined) lines.known = await timers.time('read', () => readLineSnapshot(snapshot, linesKey));
    // Without known lines every record is compared with the doc store as it is read.
    if (lines.known === null) await timers.time('read', () => (index === undefined ? undefined : jobIndexHandle(index).loadDocs()));
    errors = new ErrorsFile(paths.errors, progress.errorsBytes);
    const run = new JobRun(spec, engine, index, cache, errors, timers, paths, fingerprint, progress, incremental, format, file, lines);
    const outcome = await run.execute(started).finally(async () => {
      await run.settle();
      await run.flushCache();
    });
    if (outcome === 'interrupted') {
      return summarize(spec, dir, { state: 'interrupted', version: null, published: false, counts: run.counts, resumedFrom, discarded, lock, errorsPath: paths.errors, started, timers });
    }
    // A job that changed nothing never needed the graph: it still fails on a graph that does not load, as it did when opening it.
    await jobIndexHandle(index).graphLoaded();
    const counts = run.counts;
    let pcaRefit: JobSummary['pcaRefit'] = null;
    if (refit) {
      const r = await timers.time('insert', () =>
        (index as VectorIndex).refitPca({ ...(refitSample !== undefined ? { sample: refitSample } : {}), ...(spec.signal !== undefined ? { signal: spec.signal } : {}) }),
      );
      pcaRefit = { inputDims: r.inputDims, outputDims: r.outputDims, fittedOn: r.fittedOn, explainedVarianceRatio: r.explainedVarianceRatio, fitMs: r.fitMs, rebuilt: r.inserted };
      run.markChanged();
    }
    const changed = !incremental || refit || counts.added + counts.updated + counts.deleted > 0;
    let version: string | null;
    if (changed) {
      // Encoded while the final save waits for a pool worker to write the graph.
      const lines = run.lineSnapshot();
      const encodedLines = lines === null ? null : new Promise<Buffer>((done, fail) => setImmediate(() => {
        try {
          done(encodeLineSnapshot(lines));
        } catch (error) {
          fail(error);
        }
      }));
      encodedLines?.catch(() => {});
      await run.checkpoint(true, 'publishing');
      const linesBytes = await encodedLines;
      const keep = spec.engine instanceof Engine && jobIndexHandle(index).rebaseable;
      if (!keep) await index.close();
      version = await timers.time('write', () => publishWork(paths.workDir, dir, jobExtra(spec, fingerprint, counts), linesBytes ?? null));
      const published = keep ? currentManifest(dir) : undefined;
      if (published !== undefined && published.name === version) {
        await keepIndex(engine, dir, published, index);
        index = undefined;
      }
    } else version = currentVersion(dir)?.name ?? null;
    clearJob(paths);
    errors.close();
    errors = undefined;
    // An empty errors file would only suggest that something failed.
    if (counts.failed === 0) rmSync(paths.errors, { force: true });
    return summarize(spec, dir, { state: counts.failed > 0 ? 'partial' : 'ok', version, published: changed, counts, resumedFrom, discarded, lock, errorsPath: paths.errors, started, timers, pcaRefit });
  } finally {
    await index?.close().catch(() => {});
    errors?.close();
    await cache?.close().catch(() => {});
    if (engine !== undefined && !(spec.engine instanceof Engine)) await engine.close();
    lock.release();
  }
}

function indexParams(
  spec: JobSpec,
  base: import('../index/persist.js').IndexManifest | undefined,
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

function describeDifference(saved: Readonly<Record<string, unknown>>, now: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(now).filter((k) => !isDeepStrictEqual(JSON.parse(JSON.stringify(now[k] ?? null)), saved[k] ?? null));
  return keys.length > 0 ? `${keys.join(', ')} changed` : 'format changed';
}

function jobExtra(spec: JobSpec, fingerprint: Readonly<Record<string, unknown>>, counts: JobCounts): Record<string, unknown> {
  return {
    job: {
      kind: spec.kind,
      full: spec.full,
      source: typeof spec.source === 'string' ? resolve(spec.source) : spec.sourceId,
      finishedAt: new Date().toISOString(),
      counts,
      fingerprint: JSON.parse(JSON.stringify(fingerprint)) as unknown,
    },
  };
}

function summarize(
  spec: JobSpec,
  dir: string,
  r: {
    state: JobSummary['state'];
    version: string | null;
    published: boolean;
    counts: JobCounts;
    resumedFrom: RecordPosition | null;
    discarded: string | null;
    lock: HeldLock;
    errorsPath: string;
    started: number;
    timers: StageTimers;
    pcaRefit?: JobSummary['pcaRefit'];
  },
): JobSummary {
  const totalMs = performance.now() - r.started;
  const t = r.timers.ms;
  const known = t.read + t.cache + t.embed + t.insert + t.write;
  const seconds = totalMs / 1000;
  return {
    state: r.state,
    kind: spec.kind,
    full: spec.full,
    dir,
    version: r.version,
    published: r.published,
    counts: { ...r.counts },
    resumedFrom: r.resumedFrom !== null ? { item: r.resumedFrom.item, line: r.resumedFrom.line } : null,
    discardedCheckpoint: r.discarded,
    tookOverLockOf: r.lock.tookOver?.pid ?? null,
    errorsFile: r.counts.failed > 0 ? r.errorsPath : null,
    seconds,
    itemsPerSecond: seconds > 0 ? Math.max(0, r.counts.read - (r.resumedFrom?.item ?? 0)) / seconds : 0,
    stages: { readMs: t.read, cacheMs: t.cache, embedMs: t.embed, insertMs: t.insert, writeMs: t.write, otherMs: Math.max(0, totalMs - known) },
    pcaRefit: r.pcaRefit ?? null,
  };
}

/** How a job uses and keeps the line snapshot (see workdir.ts). */
interface LineSettings {
  /** The reading settings that the snapshot is valid under. */
  readonly key: string;
  /** Read line digests and collect the snapshot to publish. */
  readonly collect: boolean;
  /** The base version's snapshot (incremental jobs). */
  known: KnownLines | null;
}

const kNoDigest = new Uint8Array(0);

/**
 * Lines kept for the snapshot, in line order: runs of the base version's
 * known lines (by place, their digests and ids copied from it when the
 * snapshot is made), and single lines with their own digest and id.
 */
class KeptLines {
  /** First line of each entry. */
  readonly lines: number[] = [];
  /** Lines of each entry. */
  readonly counts: number[] = [];
  /** Each entry's first place among the known lines, or -1 for a single line. */
  readonly positions: number[] = [];
  /** Digest and id of each single line (empty for runs). */
  readonly digests: Uint8Array[] = [];
  readonly ids: string[] = [];

  /** Adds a single line. */
  push(line: number, digest: Uint8Array, id: string): void {
    this.#add(line, 1, -1, digest, id);
  }

  /** Adds lines `line`… that are the known lines at places `position`…. */
  pushRun(line: number, position: number, count: number): void {
    if (count > 0) this.#add(line, count, position, kNoDigest, '');
  }

  #add(line: number, count: number, position: number, digest: Uint8Array, id: string): void {
    this.lines.push(line);
    this.counts.push(count);
    this.positions.push(position);
    this.digests.push(digest);
    this.ids.push(id);
  }

  /**
   * Merges two lists, each in line order (no line in both), into the
   * digests and ids of their lines in line order.
   * @param a - one list.
   * @param b - the other.
   * @param known - the known lines the runs refer to.
   * @returns the digests, concatenated, and the ids.
   */
  static merge(a: KeptLines, b: KeptLines, known: KnownLines | null): { digests: Uint8Array; ids: string[] } {
    const digests: Uint8Array[] = [];
    const ids: string[] = [];
    let i = 0;
    let j = 0;
    while (i < a.lines.length || j < b.lines.length) {
      const fromA = j >= b.lines.length || (i < a.lines.length && (a.lines[i] ?? 0) < (b.lines[j] ?? 0));
      const from = fromA ? a : b;
      const k = fromA ? i++ : j++;
      const position = from.positions[k] ?? -1;
      if (position < 0) {
        digests.push(from.digests[k] ?? kNoDigest);
        ids.push(from.ids[k] ?? '');
        continue;
      }
      if (known === null) throw new Error('KeptLines.merge: a run of known lines without the known lines');
      const count = from.counts[k] ?? 0;
      digests.push(known.digestsOf(position, count));
      for (let p = position; p < position + count; p++) ids.push(known.idAt(p));
    }
    return { digests: Buffer.concat(digests), ids };
  }
}

/** Whether an item is what the index holds for its id: same content hash, namespace and metadata. */
function unchanged(existing: DocRecord, item: JobItem): boolean {
  if (existing.hash !== item.hash || existing.namespace !== item.namespace) return false;
  return jsonEqual(existing.metadata ?? {}, item.metadata);
}

/** The state of one running job. */
class JobRun {
  readonly counts: JobCounts;
  readonly #spec: JobSpec;
  readonly #engine: Engine;
  readonly #index: VectorIndex;
  readonly #cache: EmbeddingCache | null;
  readonly #errors: ErrorsFile;
  readonly #timers: StageTimers;
  readonly #paths: JobPaths;
  readonly #fingerprint: Readonly<Record<string, unknown>>;
  readonly #incremental: boolean;
  readonly #format: SourceFormat | null;
  readonly #file: string | null;
  readonly #limits: ItemLimits;
  readonly #modelId: string;
  readonly #dims: number;
  /** First line of every id read so far (duplicates and, in a reindex, deletions), but those of known lines (#knownFirst). */
  readonly #seen = new Map<string, number>();
  /**
   * First line of every known line read so far, by its place among the
   * base version's known lines (0: not read), or of the line that read
   * that line's id first; ids read only on known lines are not in #seen.
   */
  readonly #knownFirst: Int32Array | null;
  /** The known place after the last run of known lines read (at first 0): where the next line is expected. */
  #nextKnown = 0;
  /** Ids read that the index held when they were first read (past the resume point). */
  #seenInIndex = 0;
  #committed: Progress;
  #position: RecordPosition;
  #dirty = false;
  #sinceCheckpoint = 0;
  #lastCheckpointAt = performance.now();
  #totalBytes: number | null = null;
  #cacheWrites: Array<Promise<void>> = [];
  /** New or changed items read, waiting to be embedded and upserted together. */
  #waiting: JobItem[] = [];
  /** Failures of the records read since the last flush. */
  #failuresWaiting: Failure[] = [];
  /** Upserts running alongside the reading (a reindex), at most one at a time. */
  #inflight: Promise<void> | null = null;
  /** Stage times of work that overlaps the reading: not the job's. */
  readonly #overlapped = new StageTimers();
  readonly #committedAtStart: number;
  readonly #lines: LineSettings;
  /**
   * The snapshot this run publishes: lines read by this run whose record
   * the index holds as they make it. Unchanged lines, and upserted ones,
   * each in line order; merged at the end.
   */
  readonly #keptLines = { unchanged: new KeptLines(), upserted: new KeptLines() };
  /** Lines of the items waiting or being upserted that were read before the doc store was decoded (lazyDocs). */
  readonly #heldUnknown = new Set<number>();
  /** Ids of such items that failed before the index was asked about them: resolved before the deletions. */
  #unresolved: string[] = [];
  /** Line digests of the items waiting or being upserted, by line. */
  readonly #pendingDigests = new Map<number, Uint8Array>();

  constructor(
    spec: JobSpec,
    engine: Engine,
    index: VectorIndex,
    cache: EmbeddingCache | null,
    errors: ErrorsFile,
    timers: StageTimers,
    paths: JobPaths,
    fingerprint: Readonly<Record<string, unknown>>,
    progress: Progress,
    incremental: boolean,
    format: SourceFormat | null,
    file: string | null,
    lines: LineSettings,
  ) {
    this.#spec = spec;
    this.#engine = engine;
    this.#index = index;
    this.#cache = cache;
    this.#errors = errors;
    this.#timers = timers;
    this.#paths = paths;
    this.#fingerprint = fingerprint;
    this.#committed = progress;
    this.#position = progress.position;
    this.#committedAtStart = progress.position.item;
    this.counts = { ...progress.counts };
    this.#incremental = incremental;
    this.#format = format;
    this.#file = file;
    this.#lines = lines;
    this.#knownFirst = lines.known === null ? null : new Int32Array(lines.known.size);
    const info = engine.info();
    this.#limits = { maxTextBytes: info.options.maxTextBytes, snippetChars: spec.snippetChars };
    this.#modelId = info.modelId;
    this.#dims = info.dims;
    if (fingerprint.source !== null && typeof fingerprint.source === 'object' && 'sizeBytes' in fingerprint.source) this.#totalBytes = Number(fingerprint.source.sizeBytes);
  }

  /**
   * Reads the whole source, processing records past the resume point.
   * @param started - when the job started (performance.now()).
   * @returns whether the input was finished or the job was stopped.
   */
  async execute(started: number): Promise<'done' | 'interrupted'> {
    const spec = this.#spec;
    const known = this.#lines.known;
    const records: AsyncGenerator<KnownSourceRecord[]> =
      this.#file !== null
        ? readFileRecordsKnowing(this.#file, { format: this.#format ?? 'jsonl', maxRecordBytes: spec.maxRecordBytes, signal: spec.signal, lineDigests: this.#lines.collect, known: known ?? undefined })
        : readIterableRecords(spec.source as AsyncIterable<unknown>, spec.signal);
    const resumeItem = this.#committed.position.item;
    let chunk: KnownSourceRecord[] = [];
    /** Lines in `chunk` (a run of known lines counts its lines). */
    let weight = 0;
    try {
      for (;;) {
        const t0 = performance.now();
        const next = await records.next();
        if (next.done) break;
        const batch = next.value;
        // Records before the resume point only rebuild the set of ids seen: that time is not a stage's.
        if ((batch[batch.length - 1]?.at.item ?? 0) > resumeItem) this.#timers.ms.read += performance.now() - t0;
        for (let record of batch) {
          if (record.state === 'same') {
            const first = record.at.item - record.count + 1;
            if (first <= resumeItem) {
              const skip = Math.min(record.count, resumeItem - first + 1);
              this.#replayRun(record, skip);
              if (skip === record.count) continue;
              record = restOfRun(record, skip);
            }
          } else if (record.at.item <= resumeItem) {
            if (record.state === 'ok') {
              const r = readId(record.value, spec.fields.id);
              const held = r.id !== null && this.#incremental && (!jobIndexHandle(this.#index).docsLoaded || this.#index.get(r.id) !== undefined);
              if (r.id !== null && this.#firstLine(r.id, held) === undefined) this.#markRead(r.id, record.line, held);
            }
            continue;
          }
          chunk.push(record);
          weight += record.state === 'same' ? record.count : 1;
          if (weight < spec.chunkSize) continue;
          const full = chunk;
          const lines = weight;
          chunk = [];
          weight = 0;
          if ((await this.#chunkDone(full, lines, started)) === 'stop') return 'interrupted';
        }
      }
      if (chunk.length > 0 && (await this.#chunkDone(chunk, weight, started)) === 'stop') return 'interrupted';
    } finally {
      await records.return(undefined);
    }
    await this.#flushUpserts();
    if (this.#incremental && !spec.keepMissing) await this.#deleteMissing();
    return 'done';
  }

  async #chunkDone(chunk: KnownSourceRecord[], lines: number, started: number): Promise<'go' | 'stop'> {
    throwIfAborted(this.#spec.signal);
    const unchangedBefore = this.counts.unchanged;
    await this.#process(chunk);
    // Unchanged records cost next to nothing to read again after a crash;
    // only records that needed work count towards a checkpoint, which saves
    // the whole work index.
    this.#sinceCheckpoint += lines - (this.counts.unchanged - unchangedBefore);
    const stop = this.#spec.stopSignal?.aborted === true;
    const due = stop || this.#sinceCheckpoint >= this.#spec.checkpointItems || performance.now() - this.#lastCheckpointAt >= this.#spec.checkpointSeconds * 1000;
    if (due) await this.checkpoint(false, 'running');
    const elapsedMs = performance.now() - started;
    this.#spec.onProgress?.({
      counts: { ...this.counts },
      position: this.#position,
      totalBytes: this.#totalBytes,
      elapsedMs,
      itemsPerSecond: elapsedMs > 0 ? (Math.max(0, this.counts.read - this.#committedAtStart) * 1000) / elapsedMs : 0,
      checkpoint: due,
    });
    return stop ? 'stop' : 'go';
  }

  async #process(chunk: readonly KnownSourceRecord[]): Promise<void> {
    const spec = this.#spec;
    const failures: Failure[] = [];
    const pending: JobItem[] = [];
    this.#timers.timeSync('read', () => {
      for (const record of chunk) {
        if (record.state === 'same') {
          this.counts.read += record.count;
          this.#sameRun(record, failures);
          continue;
        }
        this.counts.read++;
        if (record.state === 'failed') {
          failures.push({ line: record.line, code: record.code, reason: record.reason });
          continue;
        }
        const r = readId(record.value, spec.fields.id);
        if (r.id === null) {
          failures.push({ line: record.line, code: r.code, reason: r.reason });
          continue;
        }
        // Looked up first: an id the index does not hold is no known line's.
        // Before the doc store is decoded (lazyDocs) that is not known yet:
        // the record is compared with the index when it is upserted.
        let docs = !this.#incremental || jobIndexHandle(this.#index).docsLoaded;
        // Only a changed line in its known place, or an id no known line
        // has, is sent on unread: an id whose known line is elsewhere (a
        // moved line) most likely holds the same record, and is compared
        // now, so that an unchanged text is not embedded again.
        if (!docs && !this.#inPlaceOrNew(r.id)) {
          jobIndexHandle(this.#index).loadDocs();
          docs = true;
        }
        const existing = this.#incremental && docs ? this.#index.get(r.id) : undefined;
        const held = !docs || existing !== undefined;
        const first = this.#firstLine(r.id, held);
        if (first !== undefined) {
          failures.push({ line: record.line, id: r.id, code: 'DUPLICATE_ID', reason: `id already appears on line ${first}; the first occurrence is kept` });
          continue;
        }
        if (existing !== undefined) this.#seenInIndex++;
        // The index's own copy of an id it holds: the one just parsed dies young.
        this.#markRead(existing?.id ?? r.id, record.line, held);
        const c = toItem(record.value, r.id, record.line, spec.fields, this.#limits, this.#format === 'csv');
        if (c.state === 'failed') {
          failures.push({ line: record.line, id: r.id, code: c.code, reason: c.reason });
          continue;
        }
        if (existing !== undefined && unchanged(existing, c.item)) {
          this.counts.unchanged++;
          if (record.state === 'ok' && record.digest !== undefined) this.#keptLines.unchanged.push(record.line, record.digest, existing.id);
          continue;
        }
        if (record.state === 'ok' && record.digest !== undefined) this.#pendingDigests.set(c.item.line, record.digest);
        if (!docs) this.#heldUnknown.add(c.item.line);
        pending.push(c.item);
      }
    });
    for (const f of failures) this.#failuresWaiting.push(f);
    // Changed items wait until a chunk's worth gathered (or a checkpoint,
    // or the end): a few per chunk, embedded and inserted on their own,
    // would keep all but one pool worker idle.
    for (const item of pending) this.#waiting.push(item);
    if (this.#waiting.length >= this.#spec.chunkSize) {
      await this.#drain();
      await this.#flushUpserts(this.#timers);
    } else if (this.#incremental && this.#waiting.length >= kEagerFlushItems && this.#inflight === null && jobIndexHandle(this.#index).docsLoaded) {
      // (Held back while the doc store is not decoded: the flush after the
      // reading decodes it while the pool inserts everything gathered.)
      // A reindex finds few changed records per chunk: they are embedded and
      // upserted on the pool while this thread goes on reading and diffing.
      const flush = this.#flushUpserts(this.#overlapped);
      this.#inflight = flush;
      // Once it is done the next one may start; a failed one stays, for #drain to throw.
      flush.then(
        () => {
          if (this.#inflight === flush) this.#inflight = null;
        },
        () => {},
      );
    }
    const last = chunk[chunk.length - 1];
    if (last !== undefined) this.#position = last.at;
  }

  /**
   * Lines the base version's snapshot knows. The work index started as the
   * base version, and changed since only for ids this run read, so each
   * line's record is in it exactly as the line makes it, unless this run
   * already read its id (its known place is marked): then the line is a
   * duplicate.
   */
  #sameRun(run: SameRun, failures: Failure[]): void {
    const knownFirst = this.#knownFirst;
    const known = this.#lines.known;
    if (knownFirst === null || known === null) throw new Error('a run of known lines in a job without known lines');
    const kept = this.#keptLines.unchanged;
    let from = 0;
    let duplicates = 0;
    for (let k = 0; k < run.count; k++) {
      const first = knownFirst[run.position + k] ?? 0;
      if (first === 0) {
        knownFirst[run.position + k] = run.line + k;
        continue;
      }
      kept.pushRun(run.line + from, run.position + from, k - from);
      failures.push({ line: run.line + k, id: known.idAt(run.position + k), code: 'DUPLICATE_ID', reason: `id already appears on line ${first}; the first occurrence is kept` });
      duplicates++;
      from = k + 1;
    }
    kept.pushRun(run.line + from, run.position + from, run.count - from);
    this.#seenInIndex += run.count - duplicates;
    this.counts.unchanged += run.count - duplicates;
    this.#nextKnown = run.position + run.count;
  }

  /** Re-reads the first `lines` lines of a run before the resume point: only marks their ids read. */
  #replayRun(run: SameRun, lines: number): void {
    const knownFirst = this.#knownFirst;
    if (knownFirst === null) throw new Error('a run of known lines in a job without known lines');
    for (let k = 0; k < lines; k++) if (knownFirst[run.position + k] === 0) knownFirst[run.position + k] = run.line + k;
    this.#nextKnown = run.position + lines;
  }

  /** Whether an id's known line is where the next line was expected, or no known line has it. */
  #inPlaceOrNew(id: string): boolean {
    const known = this.#lines.known;
    if (known === null) return false;
    const at = known.positionOf(id, this.#nextKnown);
    return at === undefined || known.isNear(at, this.#nextKnown);
  }

  /**
   * Marks an id read on a line that is not a known line: in #seen, and
   * the known line of that id, if any, as read (a later copy of it is a
   * duplicate).
   * @param id - the id.
   * @param line - the line.
   * @param held - whether the index holds the id (else it is no known line's: known lines are records of the base version, and no id is deleted before the input is read).
   */
  #markRead(id: string, line: number, held: boolean): void {
    this.#seen.set(id, line);
    const known = this.#lines.known;
    if (!held || known === null || this.#knownFirst === null) return;
    const at = known.positionOf(id, this.#nextKnown);
    if (at !== undefined && this.#knownFirst[at] === 0) this.#knownFirst[at] = line;
  }

  /**
   * The first line of an id read so far: in #seen, or a known line's.
   * @param id - the id.
   * @param held - whether the index holds the id (see #markRead).
   * @returns the line, or undefined when not read yet.
   */
  #firstLine(id: string, held = true): number | undefined {
    const first = this.#seen.get(id);
    const known = this.#lines.known;
    if (first !== undefined || !held || known === null || this.#knownFirst === null) return first;
    const at = known.positionOf(id, this.#nextKnown);
    const line = at === undefined ? 0 : (this.#knownFirst[at] ?? 0);
    return line > 0 ? line : undefined;
  }

  /**
   * The line snapshot to publish with this run's version, or null (not a
   * JSONL file).
   * @returns the snapshot.
   */
  lineSnapshot(): LineSnapshot | null {
    if (!this.#lines.collect) return null;
    return { key: this.#lines.key, ...KeptLines.merge(this.#keptLines.unchanged, this.#keptLines.upserted, this.#lines.known) };
  }

  #writeFailures(failures: Failure[]): void {
    if (failures.length === 0) return;
    failures.sort((a, b) => a.line - b.line);
    this.counts.failed += failures.length;
    this.#timers.timeSync('write', () => this.#errors.write(failures));
  }

  /**
   * Waits for the upserts running alongside the reading; only the wait
   * counts, as insert time.
   */
  async #drain(): Promise<void> {
    const flush = this.#inflight;
    if (flush === null) return;
    this.#inflight = null;
    await this.#timers.time('insert', () => flush);
  }

  /** Waits for upserts still running, whatever their outcome (the job is ending). */
  async settle(): Promise<void> {
    await this.#inflight?.catch(() => {});
    this.#inflight = null;
  }

  /**
   * Embeds (or takes from the cache) and upserts the gathered items;
   * checkpoints and the end of the input call it before they save.
   * @param timers - where the stages' time goes (not the job's when it runs alongside the reading).
   */
  async #flushUpserts(timers: StageTimers = this.#timers): Promise<void> {
    const pending = this.#waiting;
    // Failures are written with the items of their chunks, sorted by line:
    // errors.jsonl reads the same whichever chunks were flushed together.
    const failures = this.#failuresWaiting;
    this.#waiting = [];
    this.#failuresWaiting = [];
    // One flush at a time, in order: an earlier one writes its failures first.
    await this.#drain();
    if (pending.length === 0) {
      this.#writeFailures(failures);
      return;
    }
    const vectors = await this.#vectors(pending, failures, timers);
    const items: IndexItem[] = [];
    const lines: number[] = [];
    for (const item of pending) {
      const vector = vectors.get(item.hash);
      if (vector === undefined) {
        // Failed (embedding): whether the index holds its id is worked out before the deletions.
        if (this.#heldUnknown.delete(item.line)) this.#unresolved.push(item.id);
        continue;
      }
      items.push({ id: item.id, vector, hash: item.hash, namespace: item.namespace, metadata: item.metadata });
      lines.push(item.line);
    }
    if (items.length === 0) {
      for (const item of pending) this.#pendingDigests.delete(item.line);
      this.#writeFailures(failures);
      return;
    }
    // Unchanged records are left as they are: read before the doc store
    // was decoded, they were not compared with it then.
    const options = { skipUnchanged: true, ...(this.#spec.signal !== undefined ? { signal: this.#spec.signal } : {}) };
    const outcomes = await timers.time('insert', () => this.#index.upsert(items, options));
    outcomes.forEach((o, i) => {
      const line = lines[i] ?? 0;
      const digest = this.#pendingDigests.get(line);
      const unknown = this.#heldUnknown.delete(line);
      if (o.state !== 'ok') {
        if (unknown) this.#unresolved.push(items[i]?.id ?? '');
        failures.push({ line, id: items[i]?.id ?? '', code: o.code, reason: o.reason });
        return;
      }
      if (unknown && o.change !== 'added') this.#seenInIndex++;
      if (o.change === 'unchanged') this.counts.unchanged++;
      else {
        if (o.change === 'updated') this.counts.updated++;
        else this.counts.added++;
        this.#dirty = true;
      }
      // Kept lines, in line order (the flushes are): upserted or found unchanged only now.
      if (digest !== undefined) this.#keptLines.upserted.push(line, digest, items[i]?.id ?? '');
    });
    for (const item of pending) this.#pendingDigests.delete(item.line);
    this.#writeFailures(failures);
  }

  /** Vectors by content hash: from the cache, else embedded (and cached). Failed texts become failures. */
  async #vectors(pending: readonly JobItem[], failures: Failure[], timers: StageTimers): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    if (pending.length === 0) return out;
    const unique: JobItem[] = [];
    const seen = new Set<string>();
    for (const item of pending) {
      if (seen.has(item.hash)) continue;
      seen.add(item.hash);
      unique.push(item);
    }
    let misses = unique;
    if (this.#cache !== null) {
      const cache = this.#cache;
      const found = await timers.time('cache', () => cache.getMany(this.#modelId, unique.map((u) => u.hash), this.#dims));
      misses = [];
      found.forEach((v, i) => {
        const u = unique[i] as JobItem;
        if (v === undefined) misses.push(u);
        else out.set(u.hash, v);
      });
    }
    this.counts.cacheHits += unique.length - misses.length;
    if (misses.length === 0) return out;
    const result = await timers.time('embed', () => this.#engine.embed(misses.map((m) => m.text), this.#spec.signal !== undefined ? { signal: this.#spec.signal } : {}));
    const fresh: Array<readonly [string, Float32Array]> = [];
    const failedHashes = new Map<string, { code: string; reason: string }>();
    const dims = result.dims;
    result.items.forEach((o, i) => {
      const m = misses[i] as JobItem;
      if (o.state === 'ok') {
        const v = result.vectors.slice(i * dims, (i + 1) * dims);
        out.set(m.hash, v);
        fresh.push([m.hash, v]);
      } else failedHashes.set(m.hash, { code: o.code, reason: o.reason });
    });
    this.counts.embedded += fresh.length;
    if (this.#cache !== null && fresh.length > 0) {
      const cache = this.#cache;
      // lmdb commits (and fsyncs) on its own thread: the job does not wait for
      // it, except at checkpoints. The cache is only an optimisation, so a
      // failed write costs a later re-embedding, never the job.
      const write = timers.timeSync('cache', () => cache.putMany(this.#modelId, fresh)).catch(() => {});
      this.#cacheWrites.push(write);
    }
    if (failedHashes.size > 0) {
      for (const item of pending) {
        const f = failedHashes.get(item.hash);
        if (f !== undefined) failures.push({ line: item.line, id: item.id, code: f.code, reason: f.reason });
      }
    }
    return out;
  }

  async #deleteMissing(): Promise<void> {
    // Ids of records that failed before the index was asked about them.
    for (const id of this.#unresolved) if (this.#index.get(id) !== undefined) this.#seenInIndex++;
    this.#unresolved = [];
    // Every id the index holds was either there when it was first read, or
    // added by this run: when those account for all of them, none is missing.
    if (this.#committedAtStart === 0 && this.#seenInIndex + this.counts.added === this.#index.count) return;
    const gone = this.#index.ids().filter((id) => this.#firstLine(id) === undefined);
    for (let i = 0; i < gone.length; i += kDeleteBatch) {
      throwIfAborted(this.#spec.signal);
      const outcomes = await this.#timers.time('insert', () => this.#index.delete(gone.slice(i, i + kDeleteBatch)));
      for (const o of outcomes) if (o.state === 'ok') this.counts.deleted++;
      if (outcomes.length > 0) this.#dirty = true;
    }
  }

  /** Makes the next checkpoint save the work index (it changed outside the records: a PCA refit). */
  markChanged(): void {
    this.#dirty = true;
  }

  /** Waits for the embedding cache writes started so far. */
  async flushCache(): Promise<void> {
    const writes = this.#cacheWrites;
    this.#cacheWrites = [];
    if (writes.length > 0) await this.#timers.time('cache', () => Promise.all(writes));
  }

  /**
   * Saves progress: the work index (when it changed) and checkpoint.json,
   * in the two-step order described in workdir.ts.
   * @param force - save the work index even when nothing changed since the last save.
   * @param phase - `publishing` for the last checkpoint before publishing.
   */
  async checkpoint(force: boolean, phase: 'running' | 'publishing'): Promise<void> {
    await this.#flushUpserts();
    await this.flushCache();
    await this.#timers.time('write', async () => {
      const errorsBytes = this.#errors.sync();
      let version = this.#committed.version;
      if (this.#dirty || (force && version === null)) {
        writeCheckpoint(this.#paths, {
          fingerprint: this.#fingerprint,
          phase: 'running',
          committed: this.#committed,
          pending: { afterVersion: this.#committed.version, version: null, position: this.#position, errorsBytes, counts: { ...this.counts } },
        });
        version = await this.#index.save();
        this.#dirty = false;
      }
      this.#committed = { version, position: this.#position, errorsBytes, counts: { ...this.counts } };
      writeCheckpoint(this.#paths, { fingerprint: this.#fingerprint, phase, committed: this.#committed, pending: null });
      this.#sinceCheckpoint = 0;
      this.#lastCheckpointAt = performance.now();
    });
  }
}

