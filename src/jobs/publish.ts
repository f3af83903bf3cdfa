/**
 * Publishing a job's work index as a new version of the index directory,
 * with the line snapshot of its input, and keeping the index open for the
 * next job where the caller's engine allows (warm.ts).
 */
import { hash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Engine } from '../engine.js';
import { VecforgeError } from '../errors.js';
import { nextVersionDir, publishVersion } from '../index/persist.js';
import type { VectorIndex } from '../index/vector-index.js';
import { jobIndexHandle } from '../index/internal.js';
import type { JobRun } from './job-run.js';
import { encodeLineSnapshot, kLineSnapshotFile, type LineSnapshotEntry } from './known-lines.js';
import type { PublishedJob } from './plan.js';
import type { StageTimers } from './stage-timers.js';
import type { JobCounts, JobSpec } from './types.js';
import { keepIndex } from './warm.js';
import { currentManifest, linkOrCopy, type JobPaths } from './workdir.js';

/**
 * Publishes the current version of the work index as a new version of the
 * index directory: files hard-linked, manifest (with `extra`) written, then
 * `current` swapped atomically.
 * @param workDir - the work index directory.
 * @param dir - the index directory.
 * @param extra - sections added to the manifest's `extra`.
 * @returns the new version name in `dir`.
 * @throws {VecforgeError} ERR_INDEX when the work index holds no version; ERR_IO when a write fails.
 */
export function publishWork(workDir: string, dir: string, extra: Readonly<Record<string, unknown>>, lines: Buffer | null = null): string {
  const work = currentManifest(workDir);
  if (work === undefined) throw new VecforgeError('ERR_INDEX', `the job's work index ${workDir} holds no saved version`);
  const version = nextVersionDir(dir);
  let more = extra;
  try {
    for (const name of Object.keys(work.manifest.files)) linkOrCopy(join(work.path, name), join(version.path, name));
    if (lines !== null) {
      const bytes = lines;
      // Not fsynced: a snapshot lost or torn by a crash fails its checksum and is not used.
      writeFileSync(join(version.path, kLineSnapshotFile), bytes);
      const job = (extra.job ?? {}) as Readonly<Record<string, unknown>>;
      const entry: LineSnapshotEntry = { file: kLineSnapshotFile, bytes: bytes.length, sha256: hash('sha256', bytes, 'hex') };
      more = { ...extra, job: { ...job, lines: entry } };
    }
  } catch (error) {
    rmSync(version.path, { recursive: true, force: true });
    throw new VecforgeError('ERR_IO', `cannot write ${version.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  publishVersion(dir, version, { ...work.manifest, createdAt: new Date().toISOString(), extra: { ...work.manifest.extra, ...more } });
  return version.name;
}

/**
 * Whether the current version of `dir` holds exactly the files of the
 * current work version (a publish that completed before a crash).
 * @param workDir - the work index directory.
 * @param dir - the index directory.
 * @returns true when their files' checksums are equal.
 */
export function workIsPublished(workDir: string, dir: string): boolean {
  const work = currentManifest(workDir);
  const published = currentManifest(dir);
  if (work === undefined || published === undefined) return false;
  const a = work.manifest.files;
  const b = published.manifest.files;
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((n) => a[n]?.sha256 === b[n]?.sha256);
}

/**
 * The `job` section a job adds to the manifest's `extra`.
 * @param spec - the job.
 * @param fingerprint - what the job is.
 * @param counts - its counters.
 * @returns the section.
 */
export function jobExtra(spec: JobSpec, fingerprint: Readonly<Record<string, unknown>>, counts: JobCounts): Record<string, unknown> {
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

/** What {@link publishRun} publishes, and where. */
export interface PublishContext {
  readonly spec: JobSpec;
  readonly engine: Engine;
  readonly dir: string;
  readonly paths: JobPaths;
  readonly fingerprint: Readonly<Record<string, unknown>>;
  readonly counts: JobCounts;
  readonly timers: StageTimers;
  /** The engine is the caller's (it outlives the job): the index may be kept open for the next job. */
  readonly keepable: boolean;
}

/**
 * Publishes a finished run: its last checkpoint (phase `publishing`), then
 * its work index as a new version of the index directory with the line
 * snapshot; closes the index, or keeps it open (warm.ts).
 * @param run - the run, read to its end.
 * @param index - its work index.
 * @param context - the job.
 * @returns the version published, and whether the index was kept (the caller then must not close it).
 * @throws {VecforgeError} ERR_INDEX, ERR_IO as {@link publishWork}.
 */
export async function publishRun(run: JobRun, index: VectorIndex, context: PublishContext): Promise<{ version: string; kept: boolean }> {
  const { spec, dir, paths, timers } = context;
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
  const keep = context.keepable && jobIndexHandle(index).rebaseable;
  if (!keep) await index.close();
  const version = await timers.time('write', () => publishWork(paths.workDir, dir, jobExtra(spec, context.fingerprint, context.counts), linesBytes ?? null));
  const published = keep ? currentManifest(dir) : undefined;
  if (published !== undefined && published.name === version) {
    await keepIndex(context.engine, dir, published, index);
    return { version, kept: true };
  }
  return { version, kept: false };
}

/**
 * The current version of a build's index directory, as a job left it
 * (what {@link planJob} needs to know).
 * @param dir - the index directory.
 * @returns the version and its manifest's `extra.job`, `none`, or `unreadable` with the error reading it threw.
 */
export function readPublishedJob(dir: string): PublishedJob {
  try {
    const done = currentManifest(dir);
    if (done === undefined) return { state: 'none' };
    return { state: 'version', name: done.name, job: done.manifest.extra.job as { fingerprint?: unknown; counts?: JobCounts } | undefined };
  } catch (error) {
    return { state: 'unreadable', error };
  }
}
