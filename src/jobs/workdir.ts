/**
 * A job's working state inside the index directory:
 *
 * ```
 * DIR/.lock                  the pid of the job that owns DIR
 * DIR/errors.jsonl           per-item failures of the latest job
 * DIR/.job/checkpoint.json   what the job is, and how far it got
 * DIR/.job/work/             the index being built: its own versioned index
 *                            directory, saved at every checkpoint
 * ```
 *
 * Checkpoints save into `.job/work`, never into DIR, so DIR's `current`
 * version stays the last published one, searchable and unchanged, until the
 * job publishes its result as a new version in one atomic rename.
 *
 * checkpoint.ts writes checkpoint.json, publish.ts publishes the work
 * index, known-lines.ts the snapshot of the input lines published with it.
 */
import { copyFileSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../errors.js';
import { nextVersionDir, publishVersion, readCurrentManifest, type IndexManifest } from '../index/persist.js';
import type { JobCounts } from './types.js';


/** Paths of a job's state. */
export interface JobPaths {
  readonly dir: string;
  readonly jobDir: string;
  readonly workDir: string;
  readonly checkpoint: string;
  readonly errors: string;
}

/**
 * The paths of a job on an index directory.
 * @param dir - the index directory.
 * @returns the paths.
 */
export function jobPaths(dir: string): JobPaths {
  const jobDir = join(dir, '.job');
  return { dir, jobDir, workDir: join(jobDir, 'work'), checkpoint: join(jobDir, 'checkpoint.json'), errors: join(dir, 'errors.jsonl') };
}

/** The zero counters. */
export function zeroCounts(): JobCounts {
  return { read: 0, added: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0, embedded: 0, cacheHits: 0 };
}

/**
 * Removes a job's working state (not the lock, not errors.jsonl).
 * @param paths - the job paths.
 */
export function clearJob(paths: JobPaths): void {
  rmSync(paths.jobDir, { recursive: true, force: true });
}

/**
 * Hard-links a published file into another version (copies it where the
 * filesystem has no hard links).
 * @param from - the file.
 * @param to - its new path.
 */
export function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    // No hard links here (another filesystem, or a filesystem without them).
    copyFileSync(from, to);
  }
}

/**
 * Reads the manifest of the current version of an index directory (not
 * verified: opening the index verifies it).
 * @param dir - the index directory.
 * @returns the version and its manifest, or undefined when there is none.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when the manifest does not parse or is not valid (a file name outside the version, say); ERR_INDEX_VERSION for a newer format.
 */
export function currentManifest(dir: string): { name: string; path: string; manifest: IndexManifest } | undefined {
  // The one manifest parser: shape and file names are checked before any file operation.
  return readCurrentManifest(dir);
}

/**
 * Copies the current version of `from` into `to` as its first version:
 * files are hard-linked (published files are never written again), so
 * this costs no copy of the data.
 * @param from - a published index directory.
 * @param to - an empty directory for the copy.
 * @returns the version name in `to`.
 * @throws {VecforgeError} ERR_INDEX when `from` holds no index.
 */
export function forkIndex(from: string, to: string): string {
  const source = currentManifest(from);
  if (source === undefined) throw new VecforgeError('ERR_INDEX', `${from} holds no published index (no "current" file)`);
  mkdirSync(to, { recursive: true });
  const version = nextVersionDir(to);
  for (const name of Object.keys(source.manifest.files)) linkOrCopy(join(source.path, name), join(version.path, name));
  publishVersion(to, version, source.manifest);
  return version.name;
}
