/**
 * A sharded build or reindex: the coordinator's side. It takes the
 * sharded index directory's lock, reads the input once into per-shard
 * inputs (split.ts), works out which shards need a job (all of them for a
 * build; for a reindex only those whose input or version changed), hands
 * those jobs to a runner (this process, one after another; or BullMQ
 * workers, see src/queue/), and publishes the shards' versions as one set
 * (publish.ts) once every job has finished.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Engine } from '../../engine.js';
import type { EngineOptions } from '../../config/engine-options.js';
import { VecforgeError, throwIfAborted } from '../../errors.js';
import { isShardedIndex, kMaxShards, kShardedMarkerFile, readCurrentShardSet, readShardedMarker, shardWorkDir } from '../../index/sharded/layout.js';
import { ensureUsableDir } from '../../io/usable-dir.js';
import { writeFileAtomicSync } from '../../store/atomic.js';
import { acquireLock } from '../lock.js';
import type { JobCounts, JobProgress, JobSummary } from '../types.js';
import { zeroCounts } from '../workdir.js';
import { nextSetName, publishShardSet, shardCurrentName } from './publish.js';
import type { ShardJobData } from './shard-job.js';
import { splitInput, type SplitResult } from './split.js';

/** A sharded job, resolved. */
export interface ShardedJobSpec {
  readonly kind: 'build' | 'reindex';
  /** The sharded index directory. */
  readonly dir: string;
  /** The JSONL input. */
  readonly input: string;
  /** The shard count: required for a new index, checked against an existing one. */
  readonly shards: number | undefined;
  /** The model every shard job runs. */
  readonly model: string;
  readonly fields: ShardJobData['fields'];
  readonly chunkSize: number;
  readonly checkpointItems: number;
  readonly checkpointSeconds: number;
  readonly snippetChars: number;
  readonly maxRecordBytes: number;
  readonly embeddingCache: boolean | string;
  readonly index: ShardJobData['index'];
  readonly keepMissing: boolean;
  readonly full: boolean;
  readonly command: string;
  readonly signal?: AbortSignal | undefined;
  /** What the coordinator reports as it goes. */
  readonly onEvent?: ((event: ShardedEvent) => void) | undefined;
}

/** What a sharded job reports as it goes. */
export type ShardedEvent =
  | { readonly event: 'split'; readonly read: number; readonly failed: number; readonly records: readonly number[]; readonly reused: boolean; readonly threads: number; readonly ms: number }
  | { readonly event: 'shard-skipped'; readonly shard: number; readonly reason: string }
  | { readonly event: 'shard-queued'; readonly shard: number; readonly jobId: string }
  | { readonly event: 'shard-progress'; readonly shard: number; readonly read: number; readonly records: number }
  | { readonly event: 'shard-done'; readonly shard: number; readonly state: JobSummary['state']; readonly counts: JobCounts; readonly seconds: number }
  | { readonly event: 'waiting'; readonly reason: string }
  /** Queue runs: ms from the first job queued to the last done, and ms of that span in which some worker ran a job. */
  | { readonly event: 'queue-times'; readonly makespanMs: number; readonly busyMs: number };

/** What a runner returns for one shard job: its summary (state `interrupted` when stopped at a checkpoint). */
export type ShardOutcome = JobSummary;

/** Runs shard jobs somewhere and returns their summaries in the order given. */
export type ShardRunner = (jobs: readonly ShardJobData[], context: ShardRunContext) => Promise<ShardOutcome[]>;

/** What a runner is given besides the jobs. */
export interface ShardRunContext {
  /** Identifies this set's jobs: index directory, set version and split. */
  readonly runKey: string;
  readonly signal: AbortSignal | undefined;
  readonly emit: (event: ShardedEvent) => void;
}

/** One shard in a sharded job's summary. */
export interface ShardReport {
  readonly shard: number;
  /** `ran`: a job built or reindexed it; `skipped`: its input and version were unchanged. */
  readonly state: 'ran' | 'skipped';
  readonly records: number;
  readonly summary: JobSummary | null;
}

/** What a sharded job returns: the totals, as one job's summary, and every shard. */
export interface ShardedJobSummary extends JobSummary {
  readonly shards: readonly ShardReport[];
  /** Reading and splitting the input, ms. */
  readonly splitMs: number;
  /** From the first job handed to the runner to the last one done, ms. */
  readonly jobsMs: number;
}

type Stages = { -readonly [K in keyof JobSummary['stages']]: number };

function emptyStages(): Stages {
  return { readMs: 0, cacheMs: 0, embedMs: 0, insertMs: 0, writeMs: 0, otherMs: 0 };
}

function addCounts(into: JobCounts, c: Readonly<JobCounts>): void {
  for (const k of Object.keys(into) as (keyof JobCounts)[]) into[k] += c[k];
}

/** Opens (or creates) the sharded directory and returns its shard count. */
function prepareDir(spec: ShardedJobSpec, dir: string): number {
  if (spec.shards !== undefined && (!Number.isInteger(spec.shards) || spec.shards < 1 || spec.shards > kMaxShards)) {
    throw new RangeError(`shards must be an integer in [1, ${kMaxShards}], got ${String(spec.shards)}`);
  }
  if (isShardedIndex(dir)) {
    const n = readShardedMarker(dir).shards;
    if (spec.shards !== undefined && spec.shards !== n) throw new VecforgeError('ERR_INDEX', `${dir} holds ${n} shards, not ${spec.shards}; changing the shard count means building a new index directory`);
    return n;
  }
  if (spec.kind === 'reindex') throw new VecforgeError('ERR_INDEX', `${dir} holds no sharded index; build one first with \`vecforge build --shards N\``);
  if (spec.shards === undefined) throw new RangeError('a new sharded index needs a shard count (--shards N)');
  ensureUsableDir(dir, { what: 'index directory' });
  if (existsSync(join(dir, 'current')) || (existsSync(dir) && readdirSync(dir).some((n) => n === 'versions' || n === '.job'))) {
    throw new VecforgeError('ERR_INDEX', `${dir} already holds an unsharded index (or a job on one); build the sharded index into a new directory`);
  }
  writeFileAtomicSync(join(dir, kShardedMarkerFile), `${JSON.stringify({ format: 'vecforge-sharded', formatVersion: 1, shards: spec.shards })}\n`);
  return spec.shards;
}

/** Writes the lines the split could route to no shard to DIR/errors.jsonl (or removes a stale one). */
function writeSplitErrors(dir: string, split: SplitResult): string | null {
  const path = join(dir, 'errors.jsonl');
  if (split.failed.length === 0) {
    rmSync(path, { force: true });
    return null;
  }
  writeFileSync(path, split.failed.map((f) => `${JSON.stringify({ line: f.line, code: f.code, reason: f.reason })}\n`).join(''));
  return path;
}

/**
 * Runs a sharded build or reindex through a runner and publishes the set.
 * The runner may come as a promise (the queue's, while it connects): the
 * input is split meanwhile, and the runner is awaited before anything
 * else happens; when it fails, the split stops and its error is thrown.
 * @param spec - the job.
 * @param runner - where the shard jobs run ({@link localShardRunner}, or the queue's), or a promise of it.
 * @returns the summary: totals, and every shard's report.
 * @throws {TypeError | RangeError} for an invalid shard count.
 * @throws {VecforgeError} ERR_LOCKED when another job holds the directory; ERR_INDEX for a directory that holds another kind of index; the runner promise's error when it rejects (no job queued, nothing published; a directory the job would have made a sharded index is left as it was); the first shard job's error when one failed (nothing is published; the previous set stays current).
 */
export async function runShardedJob(spec: ShardedJobSpec, runner: ShardRunner | Promise<ShardRunner>): Promise<ShardedJobSummary> {
  const ready = Promise.resolve(runner);
  // A runner that fails while the input is split stops the split; its rejection is also handled when the job fails first.
  const runnerFailed = new AbortController();
  ready.catch(() => runnerFailed.abort());
  throwIfAborted(spec.signal);
  const started = performance.now();
  const dir = resolve(spec.dir);
  const input = resolve(spec.input);
  const existed = existsSync(dir);
  const fresh = !isShardedIndex(dir);
  const n = prepareDir(spec, dir);
  const lock = acquireLock(dir, spec.command);
  const emit = (e: ShardedEvent): void => spec.onEvent?.(e);
  let runnerMissing = false;
  try {
    const current = readCurrentShardSet(dir);
    const version = nextSetName(dir);
    const stagingRoot = join(dir, '.staging');
    mkdirSync(stagingRoot, { recursive: true });
    // Staging of sets that were never (or already) published.
    for (const old of readdirSync(stagingRoot)) if (old !== version) rmSync(join(stagingRoot, old), { recursive: true, force: true });
    const splitSignal = spec.signal === undefined ? runnerFailed.signal : AbortSignal.any([spec.signal, runnerFailed.signal]);
    let split: SplitResult;
    try {
      split = await splitInput(input, join(stagingRoot, version), { shards: n, idField: spec.fields.id, maxRecordBytes: spec.maxRecordBytes, signal: splitSignal });
    } catch (error) {
      // Stopped by the runner's failure (not by the caller): that failure is the error.
      runnerMissing = runnerFailed.signal.aborted && spec.signal?.aborted !== true;
      if (runnerMissing) await ready;
      throw error;
    }
    runnerMissing = true;
    const run = await ready;
    runnerMissing = false;
    emit({ event: 'split', read: split.read, failed: split.failed.length, records: split.shards.map((s) => s.records), reused: split.reused, threads: split.threads, ms: split.readMs });
    const errorsFile = writeSplitErrors(dir, split);
    const needed: number[] = [];
    for (let i = 0; i < n; i++) {
      const before = current?.set.shards[i];
      const now = split.shards[i];
      let reason: string | null = null;
      if (before === undefined || now === undefined) reason = 'new';
      else if (spec.full) reason = 'full';
      else if (before.inputSha256 !== now.sha256) reason = 'input changed';
      else if (shardCurrentName(dir, i) !== before.shardVersion) reason = 'shard version differs from the set';
      if (reason !== null) needed.push(i);
      else emit({ event: 'shard-skipped', shard: i, reason: 'input unchanged' });
    }
    if (spec.kind === 'build' && current !== undefined) {
      if (needed.length > 0) throw new VecforgeError('ERR_INDEX', `${dir} already holds a sharded index; update it with \`vecforge reindex --index ${spec.dir} --input ...\``);
    }
    const jobs: ShardJobData[] = needed.map((i) => ({
      dir,
      version,
      shard: i,
      shards: n,
      shardDir: shardWorkDir(dir, i),
      input: (split.shards[i] as { path: string }).path,
      model: spec.model,
      fields: spec.fields,
      chunkSize: spec.chunkSize,
      checkpointItems: spec.checkpointItems,
      checkpointSeconds: spec.checkpointSeconds,
      snippetChars: spec.snippetChars,
      maxRecordBytes: spec.maxRecordBytes,
      embeddingCache: spec.embeddingCache,
      index: spec.index,
      keepMissing: spec.keepMissing,
      full: spec.full,
    }));
    mkdirSync(join(dir, 'shards'), { recursive: true });
    const jobsStarted = performance.now();
    const outcomes = jobs.length === 0 ? [] : await run(jobs, { runKey: `${version}-${split.key}`, signal: spec.signal, emit });
    const jobsMs = jobs.length === 0 ? 0 : performance.now() - jobsStarted;
    const counts = zeroCounts();
    counts.failed += split.failed.length;
    const stages = emptyStages();
    const reports: ShardReport[] = [];
    const byShard = new Map<number, JobSummary>();
    for (const [j, o] of outcomes.entries()) byShard.set((jobs[j] as ShardJobData).shard, o);
    for (let i = 0; i < n; i++) {
      const s = byShard.get(i) ?? null;
      const records = split.shards[i]?.records ?? 0;
      if (s !== null) {
        addCounts(counts, s.counts);
        for (const k of Object.keys(stages) as (keyof Stages)[]) stages[k] += s.stages[k];
      } else {
        counts.read += records;
        counts.unchanged += records;
      }
      reports.push({ shard: i, state: s !== null ? 'ran' : 'skipped', records, summary: s });
    }
    counts.read += split.failed.length;
    const interrupted = outcomes.some((o) => o.state === 'interrupted');
    let published = false;
    let setVersion: string | null = null;
    if (!interrupted) {
      if (jobs.length > 0 || current === undefined) {
        const job = { kind: spec.kind, full: spec.full, source: input, finishedAt: new Date().toISOString(), counts };
        publishShardSet(dir, version, split.shards.map((s) => ({ inputSha256: s.sha256, inputRecords: s.records })), job);
        published = true;
        setVersion = version;
      } else setVersion = current.name;
      rmSync(join(stagingRoot, version), { recursive: true, force: true });
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      state: interrupted ? 'interrupted' : counts.failed > 0 ? 'partial' : 'ok',
      kind: spec.kind,
      full: spec.full,
      dir,
      version: setVersion,
      published,
      counts,
      // Each shard's job runs on its runner's engine (here or on a queue worker); its provider counters stay with it.
      provider: null,
      resumedFrom: null,
      discardedCheckpoint: null,
      tookOverLockOf: lock.tookOver?.pid ?? null,
      errorsFile,
      seconds,
      itemsPerSecond: seconds > 0 ? counts.read / seconds : 0,
      stages,
      pcaRefit: null,
      shards: reports,
      splitMs: split.readMs,
      jobsMs,
    };
  } finally {
    lock.release();
    // No runner (Redis unreachable): a directory this job made a sharded index is left as it was found, as when Redis was checked first.
    if (runnerMissing && fresh) forgetNewIndex(dir, existed);
  }
}

/** Removes what a job that never ran wrote into a directory it found without a sharded index (and the directory, when it made it). */
function forgetNewIndex(dir: string, existed: boolean): void {
  rmSync(join(dir, '.staging'), { recursive: true, force: true });
  rmSync(join(dir, kShardedMarkerFile), { force: true });
  if (existed) return;
  try {
    rmdirSync(dir);
  } catch {
    // Not empty: something else was put there meanwhile; it stays.
  }
}

/**
 * A runner that runs shard jobs in this process, one after another, on one
 * engine (the pool's workers build each shard's graph together).
 * @param engine - an engine (left open) or options to create one (closed at the end).
 * @param control - stop signal (the running shard stops at its next checkpoint) and progress.
 * @returns the runner.
 */
export function localShardRunner(engine: Engine | EngineOptions, control: { readonly stopSignal?: AbortSignal | undefined } = {}): ShardRunner {
  return async (jobs, context) => {
    // Loaded here, not at the top: a coordinator that only queues jobs never starts an engine (and starts 0.25 s sooner).
    const [{ Engine }, { runShardJob }] = await Promise.all([import('../../engine.js'), import('./shard-job.js')]);
    const own = !(engine instanceof Engine);
    const e = engine instanceof Engine ? engine : await Engine.create(engine);
    const out: ShardOutcome[] = [];
    try {
      for (const job of jobs) {
        throwIfAborted(context.signal);
        const onProgress = (p: JobProgress): void => context.emit({ event: 'shard-progress', shard: job.shard, read: p.counts.read, records: 0 });
        const summary = await runShardJob(job, {
          engine: e,
          onProgress,
          ...(control.stopSignal !== undefined ? { stopSignal: control.stopSignal } : {}),
          ...(context.signal !== undefined ? { signal: context.signal } : {}),
        });
        context.emit({ event: 'shard-done', shard: job.shard, state: summary.state, counts: summary.counts, seconds: summary.seconds });
        out.push(summary);
        if (summary.state === 'interrupted') break;
      }
    } finally {
      if (own) await e.close();
    }
    return out;
  };
}

/**
 * Whether `dir` is a sharded index directory whose set names a shard
 * version (for commands that treat sharded and plain indexes alike).
 * @param dir - a directory.
 * @returns true when it is sharded.
 */
export function isSharded(dir: string): boolean {
  return isShardedIndex(resolve(dir));
}

