/**
 * checkpoint.json: what a job is and how far it got.
 *
 * A checkpoint is written in two steps so that a kill between any two
 * instructions leaves a state that resumes correctly: checkpoint.json first
 * records the progress as `pending` (with the work version it follows),
 * then the work index is saved, then checkpoint.json records it as
 * `committed`. On resume, the work index's `current` tells which of the two
 * the last save reached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { currentVersion } from '../index/persist.js';
import { writeFileAtomicSync } from '../store/atomic.js';
import type { RecordPosition } from './source-records.js';
import type { JobCounts } from './types.js';
import type { JobPaths } from './workdir.js';

/** Bumped whenever checkpoint.json changes shape. */
export const kCheckpointFormatVersion = 1;

/** How far a job got, as saved by a checkpoint. */
export interface Progress {
  /** The work index version holding this progress; null before the first save of a build. */
  readonly version: string | null;
  /** The last record processed. */
  readonly position: RecordPosition;
  /** Bytes of errors.jsonl belonging to this progress. */
  readonly errorsBytes: number;
  readonly counts: JobCounts;
}

/** checkpoint.json. */
export interface Checkpoint {
  readonly format: 'vecforge-checkpoint';
  readonly formatVersion: number;
  /** What the job is: a resume must match it exactly. */
  readonly fingerprint: Readonly<Record<string, unknown>>;
  readonly phase: 'running' | 'publishing';
  readonly committed: Progress;
  readonly pending: (Progress & { readonly afterVersion: string | null }) | null;
  readonly updatedAt: string;
}

/**
 * Reads checkpoint.json.
 * @param paths - the job paths.
 * @returns the checkpoint, or undefined when missing or unreadable.
 */
export function readCheckpoint(paths: JobPaths): Checkpoint | undefined {
  if (!existsSync(paths.checkpoint)) return undefined;
  try {
    const cp = JSON.parse(readFileSync(paths.checkpoint, 'utf8')) as Checkpoint;
    if (cp.format !== 'vecforge-checkpoint' || cp.formatVersion !== kCheckpointFormatVersion) return undefined;
    return cp;
  } catch {
    return undefined;
  }
}

/**
 * Writes checkpoint.json atomically (temporary file, fsync, rename).
 * @param paths - the job paths.
 * @param cp - the checkpoint.
 */
export function writeCheckpoint(paths: JobPaths, cp: Omit<Checkpoint, 'format' | 'formatVersion' | 'updatedAt'>): void {
  const full: Checkpoint = { format: 'vecforge-checkpoint', formatVersion: kCheckpointFormatVersion, ...cp, updatedAt: new Date().toISOString() };
  writeFileAtomicSync(paths.checkpoint, `${JSON.stringify(full, null, 2)}\n`);
}

/**
 * The progress a checkpoint stands for, given where the work index's
 * `current` points.
 * @param paths - the job paths.
 * @param cp - the checkpoint.
 * @returns the progress to resume from, or undefined when the work
 *   directory does not match the checkpoint (start over).
 */
export function resumableProgress(paths: JobPaths, cp: Checkpoint): Progress | undefined {
  let current: string | null;
  try {
    current = currentVersion(paths.workDir)?.name ?? null;
  } catch {
    return undefined;
  }
  if (current === cp.committed.version) return cp.committed;
  // The save of the pending checkpoint landed; checkpoint.json was not yet rewritten.
  if (cp.pending !== null && current !== null && cp.pending.afterVersion === cp.committed.version) {
    const { afterVersion: _after, ...progress } = cp.pending;
    return { ...progress, version: current };
  }
  return undefined;
}

/**
 * Commits a job's progress in the two steps described above: when the work
 * index is saved, checkpoint.json first records the progress as `pending`,
 * then the index is saved, then the progress is recorded as `committed`.
 * @param paths - the job paths.
 * @param fingerprint - what the job is.
 * @param committed - the progress committed last.
 * @param now - the progress to commit (`counts` is copied as it is at each write).
 * @param save - saves the work index and returns its new version; null when it need not be saved.
 * @param phase - `publishing` for the last checkpoint before publishing.
 * @returns the progress now committed.
 */
export async function commitProgress(
  paths: JobPaths,
  fingerprint: Readonly<Record<string, unknown>>,
  committed: Progress,
  now: { readonly position: RecordPosition; readonly errorsBytes: number; readonly counts: JobCounts },
  save: (() => Promise<string>) | null,
  phase: 'running' | 'publishing',
): Promise<Progress> {
  let version = committed.version;
  if (save !== null) {
    writeCheckpoint(paths, {
      fingerprint,
      phase: 'running',
      committed,
      pending: { afterVersion: committed.version, version: null, position: now.position, errorsBytes: now.errorsBytes, counts: { ...now.counts } },
    });
    version = await save();
  }
  const progress: Progress = { version, position: now.position, errorsBytes: now.errorsBytes, counts: { ...now.counts } };
  writeCheckpoint(paths, { fingerprint, phase, committed: progress, pending: null });
  return progress;
}
