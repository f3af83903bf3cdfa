/**
 * Whether a job resumes, starts afresh or finishes what it did before: a
 * pure decision over what the index directory holds, so that every case
 * is a row of a table (test/jobs-plan.test.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Checkpoint, Progress } from './checkpoint.js';
import type { JobCounts } from './types.js';

/** The current version of a build's index directory, as a job left it. */
export type PublishedJob =
  | { readonly state: 'none' }
  | { readonly state: 'version'; readonly name: string; readonly job: { readonly fingerprint?: unknown; readonly counts?: JobCounts } | undefined }
  /** Its pointer or manifest does not parse: fails a build that would start afresh, as reading it then would. */
  | { readonly state: 'unreadable'; readonly error: unknown };

/** What {@link planJob} decides on. */
export interface PlanInput {
  readonly kind: 'build' | 'reindex';
  /** A reindex that is not full: it starts from a copy of the current version. */
  readonly incremental: boolean;
  /** What this job is. */
  readonly fingerprint: Readonly<Record<string, unknown>>;
  /** checkpoint.json, when there is a readable one. */
  readonly checkpoint: Pick<Checkpoint, 'fingerprint' | 'phase'> | undefined;
  /** The progress the checkpoint stands for, or undefined when the work index does not match it. */
  readonly resumable: Progress | undefined;
  /** Whether `.job/` exists. */
  readonly jobDirExists: boolean;
  /** A build's: the index directory's current version (a reindex passes `none`: it is not consulted). */
  readonly published: PublishedJob;
}

/** What a job does, as a union on `action`. */
export type JobPlan =
  /** The job before was killed while publishing: publish its work index (unless that landed) and stop. */
  | { readonly action: 'finish-publish'; readonly progress: Progress }
  /** The same build published already (killed before it exited): nothing to do. */
  | { readonly action: 'already-built'; readonly version: string; readonly counts: JobCounts; readonly discarded: string | null }
  /** A build on a directory that holds an index. */
  | { readonly action: 'refuse' }
  /** The directory's current version cannot be read. */
  | { readonly action: 'fail'; readonly error: unknown }
  /** Go on from the checkpoint. */
  | { readonly action: 'resume'; readonly progress: Progress }
  /** Start from the first record; `fork`: the work index starts as a copy of the current version. */
  | { readonly action: 'start'; readonly fork: boolean; readonly discarded: string | null };

/**
 * Decides how a job starts.
 * @param input - what the index directory holds, and what the job is.
 * @returns the plan; `discarded` says why a checkpoint or job directory found was not used.
 */
export function planJob(input: PlanInput): JobPlan {
  const cp = input.checkpoint;
  let discarded: string | null = null;
  let progress: Progress | undefined;
  if (cp !== undefined) {
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(input.fingerprint)), cp.fingerprint)) discarded = `it belongs to a different job (${describeDifference(cp.fingerprint, input.fingerprint)})`;
    else {
      progress = input.resumable;
      if (progress === undefined) discarded = 'its work index does not match it';
    }
  } else if (input.jobDirExists) discarded = 'the job before stopped before its first checkpoint';

  if (progress !== undefined) return cp?.phase === 'publishing' ? { action: 'finish-publish', progress } : { action: 'resume', progress };
  if (input.kind === 'build') {
    const published = input.published;
    if (published.state === 'unreadable') return { action: 'fail', error: published.error };
    if (published.state === 'version') {
      // A build killed after publishing but before exiting: the same command again is a no-op.
      const job = published.job;
      if (job?.counts !== undefined && isDeepStrictEqual(job.fingerprint, JSON.parse(JSON.stringify(input.fingerprint)))) {
        return { action: 'already-built', version: published.name, counts: job.counts, discarded };
      }
      return { action: 'refuse' };
    }
  }
  return { action: 'start', fork: input.incremental, discarded };
}

/**
 * Names the keys of a job's fingerprint that differ from a checkpoint's.
 * @param saved - the checkpoint's fingerprint.
 * @param now - this job's.
 * @returns a phrase for {@link JobSummary.discardedCheckpoint}.
 */
export function describeDifference(saved: Readonly<Record<string, unknown>>, now: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(now).filter((k) => !isDeepStrictEqual(JSON.parse(JSON.stringify(now[k] ?? null)), saved[k] ?? null));
  return keys.length > 0 ? `${keys.join(', ')} changed` : 'format changed';
}
