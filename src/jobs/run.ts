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
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { ensureUsableDir } from '../io/usable-dir.js';
import { resolve } from 'node:path';
import { Engine } from '../engine.js';
import { VecforgeError, throwIfAborted } from '../errors.js';
import { currentVersion, readVerifiedVersion } from '../index/persist.js';
import type { VectorIndex } from '../index/vector-index.js';
import { jobIndexHandle, jobOpenOptions } from '../index/internal.js';
import { EmbeddingCache, embeddingCachePath } from '../store/embedding-cache.js';
import { readCheckpoint, resumableProgress, writeCheckpoint, type Progress } from './checkpoint.js';
import { ErrorsFile } from './errors-file.js';
import { jobIdentity } from './fingerprint.js';
import { JobRun } from './job-run.js';
import { hasLineSnapshot, readLineSnapshot, type LineSettings } from './known-lines.js';
import { acquireLock, type HeldLock } from './lock.js';
import { planJob } from './plan.js';
import { jobExtra, publishRun, publishWork, readPublishedJob, workIsPublished } from './publish.js';
import type { RecordPosition } from './source-records.js';
import { detectFormat, inputIdentity } from './sources.js';
import { StageTimers } from './stage-timers.js';
import type { JobCounts, JobSpec, JobSummary } from './types.js';
import { releaseKeptIndex, takeKeptIndex } from './warm.js';
import { noSpaceError } from './write-errors.js';
import { clearJob, currentManifest, forkIndex, jobPaths, zeroCounts } from './workdir.js';

/** What a summary says beyond the job's own fields (see {@link summarize}). */
type Outcome = Pick<JobSummary, 'state' | 'version' | 'published'> & {
  counts: JobCounts;
  resumedFrom: RecordPosition | null;
  discarded: string | null;
  pcaRefit?: JobSummary['pcaRefit'];
};

/**
 * Runs a job end to end: takes the lock, works out what the job is and
 * how it starts (plan.ts), opens its work index, runs it over the input
 * (job-run.ts), refits the PCA when asked, and publishes (publish.ts).
 * @param spec - the resolved job.
 * @returns the summary.
 * @throws {VecforgeError} ERR_LOCKED, ERR_IO, ERR_INDEX, ERR_INDEX_CORRUPT, ERR_INVALID_INPUT when the job fails as a whole; a full disk is ERR_IO naming the file and the directory.
 * @throws {AbortError} when `spec.signal` aborts (the last checkpoint stays resumable).
 */
export async function runJob(spec: JobSpec): Promise<JobSummary> {
  throwIfAborted(spec.signal);
  const started = performance.now();
  const timers = new StageTimers();
  const dir = resolve(spec.dir);
  const paths = jobPaths(dir);
  if (spec.kind === 'build') {
    // Checked with a bounded number of calls: a recursive mkdir never returns on /proc.
    ensureUsableDir(dir, { what: 'index directory' });
  } else if (!existsSync(dir) || currentVersion(dir) === undefined) {
    throw new VecforgeError('ERR_INDEX', `${dir} holds no published index; build one first with \`vecforge build\``);
  }
  const lock = acquireLock(dir, spec.command);
  let engine: Engine | undefined;
  const done = (outcome: Outcome): JobSummary => summarize(spec, dir, { ...outcome, lock, errorsPath: paths.errors, started, timers, provider: engine?.metrics().provider ?? null });
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
    const { params, refit, refitSample, fingerprint, linesKey } = jobIdentity(spec, dir, { modelId: info.modelId, dims: info.dims, maxTextBytes: info.options.maxTextBytes }, sourceIdentity, base);
    const lines: LineSettings = { key: linesKey, collect: file !== null && format === 'jsonl', known: null };

    const cp = readCheckpoint(paths);
    const plan = planJob({
      kind: spec.kind,
      incremental,
      fingerprint,
      checkpoint: cp,
      resumable: cp !== undefined ? resumableProgress(paths, cp) : undefined,
      jobDirExists: existsSync(paths.jobDir),
      published: spec.kind === 'build' ? readPublishedJob(dir) : { state: 'none' },
    });
    let progress: Progress;
    let discarded: string | null = null;
    /** This run forked the current version afresh (not resumed). */
    let forked = false;
    switch (plan.action) {
      case 'finish-publish': {
        const counts = plan.progress.counts;
        const version = await timers.time('write', () => (workIsPublished(paths.workDir, dir) ? (currentVersion(dir)?.name ?? null) : publishWork(paths.workDir, dir, jobExtra(spec, fingerprint, counts))));
        clearJob(paths);
        return done({ state: counts.failed > 0 ? 'partial' : 'ok', version, published: true, counts, resumedFrom: plan.progress.position, discarded: null });
      }
      case 'already-built':
        clearJob(paths);
        return done({ state: plan.counts.failed > 0 ? 'partial' : 'ok', version: plan.version, published: false, counts: plan.counts, resumedFrom: null, discarded: plan.discarded });
      case 'refuse':
        throw new VecforgeError('ERR_INDEX', `${dir} already holds an index; update it with \`vecforge reindex --index ${spec.dir} --input ...\` (add --full to rebuild it)`);
      case 'fail':
        throw plan.error;
      case 'resume':
        progress = plan.progress;
        break;
      case 'start': {
        discarded = plan.discarded;
        clearJob(paths);
        mkdirSync(paths.jobDir, { recursive: true });
        const version = plan.fork ? await timers.time('write', () => forkIndex(dir, paths.workDir)) : null;
        forked = version !== null;
        progress = { version, position: { item: 0, line: 0, offset: 0 }, errorsBytes: 0, counts: zeroCounts() };
        writeCheckpoint(paths, { fingerprint, phase: 'running', committed: progress, pending: null });
        break;
      }
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
    const run = new JobRun({ spec, engine, index, cache, errors, timers, paths, fingerprint, progress, incremental, format, file, lines });
    const outcome = await run.execute(started).finally(async () => {
      await run.settle();
      await run.flushCache();
    });
    if (outcome === 'interrupted') return done({ state: 'interrupted', version: null, published: false, counts: run.counts, resumedFrom, discarded });
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
      const published = await publishRun(run, index, { spec, engine, dir, paths, fingerprint, counts, timers, keepable: spec.engine instanceof Engine });
      version = published.version;
      if (published.kept) index = undefined;
    } else {
      // Nothing to publish: what stays current is still checked, file by
      // file against its manifest, as a publish would have been. A reindex
      // that reads only known lines never opens the doc store, so a damaged
      // one would otherwise pass as "nothing changed".
      version = await timers.time('read', () => readVerifiedVersion(dir).name);
    }
    clearJob(paths);
    errors.close();
    errors = undefined;
    // An empty errors file would only suggest that something failed.
    if (counts.failed === 0) rmSync(paths.errors, { force: true });
    return done({ state: counts.failed > 0 ? 'partial' : 'ok', version, published: changed, counts, resumedFrom, discarded, pcaRefit });
  } catch (error) {
    throw noSpaceError(error, dir) ?? error;
  } finally {
    await index?.close().catch(() => {});
    errors?.close();
    await cache?.close().catch(() => {});
    if (engine !== undefined && !(spec.engine instanceof Engine)) await engine.close();
    lock.release();
  }
}

/**
 * The summary of a job.
 * @param spec - the job.
 * @param dir - the index directory (resolved).
 * @param r - how it ended, and the lock, errors file, start time and stage times.
 * @returns the summary.
 */
function summarize(
  spec: JobSpec,
  dir: string,
  r: Outcome & { lock: HeldLock; errorsPath: string; started: number; timers: StageTimers; provider: JobSummary['provider'] },
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
    provider: r.provider,
  };
}
