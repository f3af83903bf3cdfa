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
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Engine } from '../engine.js';
import { VecforgeError, throwIfAborted } from '../errors.js';
import { currentVersion } from '../index/persist.js';
import type { VectorIndex } from '../index/vector-index.js';
import { resolvePcaIndexOptions } from '../pca/index-options.js';
import { EmbeddingCache, embeddingCachePath } from '../store/embedding-cache.js';
import { readCheckpoint, resumableProgress, writeCheckpoint, type Progress } from './checkpoint.js';
import { ErrorsFile } from './errors-file.js';
import { indexParams } from './fingerprint.js';
import { JobRun } from './job-run.js';
import { encodeLineSnapshot, hasLineSnapshot, readLineSnapshot, type LineSettings } from './known-lines.js';
import { acquireLock, type HeldLock } from './lock.js';
import { describeDifference } from './plan.js';
import { jobExtra, publishWork, workIsPublished } from './publish.js';
import type { RecordPosition } from './source-records.js';
import { detectFormat, inputIdentity } from './sources.js';
import { StageTimers } from './stage-timers.js';
import type { JobCounts, JobSpec, JobSummary } from './types.js';
import { keepIndex, releaseKeptIndex, takeKeptIndex } from './warm.js';
import { clearJob, currentManifest, forkIndex, jobPaths, zeroCounts } from './workdir.js';

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
      await timers.time('read', () => warm.rebase(paths.workDir));
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
          : await engine.openIndex(paths.workDir, { hugePages: false, lazyGraph: true, lazyDocs: snapshot !== undefined && hasLineSnapshot(snapshot) });
    }
    if (snapshot !== undefined) lines.known = await timers.time('read', () => readLineSnapshot(snapshot, linesKey));
    // Without known lines every record is compared with the doc store as it is read.
    if (lines.known === null) await timers.time('read', () => index?.loadDocs());
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
    await index.graphLoaded();
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
      const keep = spec.engine instanceof Engine && index.rebaseable;
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
