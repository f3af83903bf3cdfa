/**
 * One job at a time per index directory: `DIR/.lock` holds the pid of the
 * job that owns the directory. It is created with O_EXCL, so of two jobs
 * starting together exactly one gets it. A lock whose pid is no longer
 * alive on this host (a job killed with SIGKILL, a crash) is taken over.
 */
import { hostname } from 'node:os';
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../errors.js';

/** The lock file name inside an index directory. */
export const kLockFile = '.lock';

/** What a lock file holds. */
export interface LockInfo {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
  readonly command: string;
}

/** A held lock. */
export interface HeldLock {
  /** The lock file. */
  readonly path: string;
  /** Whether a stale lock of a dead process was taken over. */
  readonly tookOver: LockInfo | null;
  /** Removes the lock file (only while it still holds this process's pid). */
  release(): void;
}

/**
 * Whether a process is alive on this host.
 * @param pid - the pid.
 * @returns false only when the process certainly does not exist.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reads a lock file.
 * @param path - the lock file.
 * @returns its content, or null when missing or unreadable.
 */
export function readLock(path: string): LockInfo | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockInfo>;
    if (typeof parsed.pid === 'number') {
      return { pid: parsed.pid, hostname: String(parsed.hostname ?? ''), startedAt: String(parsed.startedAt ?? ''), command: String(parsed.command ?? '') };
    }
  } catch {
    // A lock being written right now, or garbage: treated as held by pid 0.
  }
  return { pid: 0, hostname: '', startedAt: '', command: '' };
}

function tryCreate(path: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new VecforgeError('ERR_IO', `cannot create lock file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  try {
    writeSync(fd, `${JSON.stringify(info)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes the lock of an index directory.
 * @param dir - the index directory (must exist).
 * @param command - what the job is, shown to a job that finds the lock held.
 * @returns the held lock.
 * @throws {VecforgeError} ERR_LOCKED when a live process holds it.
 */
export function acquireLock(dir: string, command: string): HeldLock {
  const path = join(dir, kLockFile);
  const mine: LockInfo = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), command };
  let tookOver: LockInfo | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path, mine)) {
      return {
        path,
        tookOver,
        release: () => {
          if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    }
    const held = readLock(path);
    if (held === null) continue;
    const sameHost = held.hostname === '' || held.hostname === mine.hostname;
    const stale = held.pid !== 0 && sameHost && !processAlive(held.pid) && held.pid !== process.pid;
    if (!stale) {
      if (held.pid === 0 && attempt < 4) {
        // Being written by a job that just created it: look again.
        continue;
      }
      const who = held.pid === process.pid ? 'this process' : `process ${held.pid}${held.hostname !== '' ? ` on ${held.hostname}` : ''}`;
      throw new VecforgeError(
        'ERR_LOCKED',
        `${dir} is locked by ${who} (${held.command || 'a vecforge job'}, started ${held.startedAt || 'at an unknown time'}); wait for it to finish, or remove ${path} if that process is not a vecforge job`,
      );
    }
    // Move the stale lock aside under a name of our own: of two jobs taking
    // it over at once, only one rename succeeds; the other finds the file gone.
    const aside = `${path}.stale.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    const moved = readLock(aside);
    if (moved !== null && moved.pid !== held.pid) {
      // We moved a fresh lock another job created meanwhile: put it back.
      try {
        renameSync(aside, path);
      } catch {
        rmSync(aside, { force: true });
      }
      continue;
    }
    rmSync(aside, { force: true });
    tookOver = held;
  }
  throw new VecforgeError('ERR_LOCKED', `${dir}: could not take the lock ${path} (another job keeps taking it)`);
}
