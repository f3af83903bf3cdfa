/**
 * Whether a job resumes, starts afresh or finishes what it did before.
 */
import { isDeepStrictEqual } from 'node:util';

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
