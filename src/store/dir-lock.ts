/**
 * One writer at a time per index directory: `DIR/.lock` holds the pid of
 * the job (or the index `save()`) that owns the directory, for the message
 * another one shows. Jobs hold it for their whole run, a library handle's
 * `save()` for its publish (jobs/lock.ts re-exports this module).
 *
 * Where the native addon is built (POSIX), the job holds a kernel lock
 * (`flock`) on that file for its whole life, through a descriptor kept
 * open: the kernel releases it when the job dies, however it dies, and a
 * zombie holds none (its files are closed before its parent reaps it). A
 * rerun right after a SIGKILL therefore takes the lock over at once.
 *
 * Without the addon the file is created with O_EXCL, so of two jobs starting
 * together exactly one gets it, and a lock whose holder is dead on this host
 * is taken over. Dead means: no such pid, a zombie (`/proc/PID/stat` state
 * Z or X), or a pid reused by a process that started after the lock's
 * `startedAt` (start time from `/proc/PID/stat` field 22 plus the boot time).
 */
import { hostname } from 'node:os';
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../errors.js';
import { nativeAddon } from '../native/addon.js';

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

/** Linux's USER_HZ: /proc reports times in these ticks on every architecture. */
const kClockTicksPerSecond = 100;
/** Slack on the start-time comparison: the boot time in /proc/stat is whole seconds. */
const kStartTimeSlackMs = 2000;

/**
 * `/proc/PID/stat` split after the command name (which may hold spaces and
 * parentheses): element 0 is field 3 (the state), element 19 field 22 (the
 * start time in clock ticks after boot).
 * @param pid - the pid.
 * @returns the fields from the state on, or null where /proc has no such file.
 */
function procStat(pid: number): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  return close < 0 ? null : text.slice(close + 2).split(' ');
}

/**
 * When a process started, from /proc (Linux).
 * @param pid - the pid.
 * @returns milliseconds since the epoch, or null where /proc does not say.
 */
export function processStartMs(pid: number): number | null {
  const ticks = Number(procStat(pid)?.[19]);
  if (!Number.isFinite(ticks)) return null;
  let boot: number;
  try {
    boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
  } catch {
    return null;
  }
  return Number.isFinite(boot) ? boot * 1000 + (ticks * 1000) / kClockTicksPerSecond : null;
}

/**
 * Whether a process is alive on this host. A zombie (killed, not yet reaped
 * by its parent) is dead: `process.kill(pid, 0)` succeeds on it.
 * @param pid - the pid.
 * @returns false only when the process certainly does not exist or is a zombie.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = procStat(pid)?.[0];
  return state !== 'Z' && state !== 'X';
}

/**
 * Whether the process a lock names still holds it: alive, and not a later
 * process that got the same pid (one that started after the lock's `startedAt`).
 * @param info - the lock's content.
 * @returns false only when the holder is certainly gone.
 */
export function lockHolderAlive(info: LockInfo): boolean {
  if (!processAlive(info.pid)) return false;
  const lockedAt = Date.parse(info.startedAt);
  const started = processStartMs(info.pid);
  return !(Number.isFinite(lockedAt) && started !== null && started > lockedAt + kStartTimeSlackMs);
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
 * Takes the kernel lock on `path` (see the module comment), or reports it held.
 * @returns the held lock; 'held' when another open file holds the flock;
 *   null where the addon (or flock) is unavailable.
 */
function tryKernelLock(path: string, dir: string, mine: LockInfo): HeldLock | 'held' | null {
  const addon = nativeAddon();
  if (addon === undefined || process.platform === 'win32') return null;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot create lock file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
    let keep = false;
    try {
      let locked: boolean;
      try {
        locked = addon.lockFile(fd);
      } catch {
        return null;
      }
      if (!locked) return 'held';
      // The holder before us may have removed the file between our open and
      // our flock: then we locked an unlinked file; start again on the path.
      let sameFile = false;
      try {
        const onPath = statSync(path);
        const ours = fstatSync(fd);
        sameFile = onPath.ino === ours.ino && onPath.dev === ours.dev;
      } catch {
        sameFile = false;
      }
      if (!sameFile) continue;
      const held = readLock(path);
      const previous = held !== null && held.pid !== 0 ? held : null;
      // A job without the kernel lock (an older vecforge) that is still alive.
      if (previous !== null && previous.pid !== process.pid && (previous.hostname === '' || previous.hostname === mine.hostname) && lockHolderAlive(previous)) {
        return 'held';
      }
      ftruncateSync(fd, 0);
      writeSync(fd, `${JSON.stringify(mine)}\n`, 0);
      keep = true;
      return {
        path,
        tookOver: previous !== null && previous.pid !== process.pid ? previous : null,
        release: () => {
          if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
          // Closing the descriptor releases the flock (after the unlink, so a
          // job waiting on this inode sees it gone and starts again).
          closeSync(fd);
        },
      };
    } finally {
      if (!keep) closeSync(fd);
    }
  }
  throw new VecforgeError('ERR_LOCKED', `${dir}: could not take the lock ${path} (another job keeps taking it)`);
}

/** How long a lock whose holder is dead to /proc but still holds the flock is waited for. */
const kDyingHolderWaitMs = 5_000;
const kDyingHolderPollMs = 10;
/** Slept on with Atomics.wait (nothing ever notifies it): a synchronous pause. */
const kSleepCell = new Int32Array(new SharedArrayBuffer(4));

function lockedError(dir: string, path: string, held: LockInfo | null): VecforgeError {
  const who = held === null || held.pid === 0 ? 'another process' : held.pid === process.pid ? 'this process' : `process ${held.pid}${held.hostname !== '' ? ` on ${held.hostname}` : ''}`;
  return new VecforgeError(
    'ERR_LOCKED',
    `${dir} is locked by ${who} (${held?.command || 'a vecforge job'}, started ${held?.startedAt || 'at an unknown time'}); wait for it to finish, or remove ${path} if that process is not a vecforge job`,
  );
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
  let kernel = tryKernelLock(path, dir, mine);
  const deadline = Date.now() + kDyingHolderWaitMs;
  while (kernel === 'held') {
    // A holder already dead to /proc (a zombie whose main thread exited) may
    // still hold its flock until its last thread is gone and the kernel
    // closes its files: wait for that, bounded, instead of refusing.
    const held = readLock(path);
    const dying = held !== null && held.pid !== 0 && held.pid !== process.pid && (held.hostname === '' || held.hostname === mine.hostname) && !lockHolderAlive(held);
    if (!dying || Date.now() >= deadline) break;
    Atomics.wait(kSleepCell, 0, 0, kDyingHolderPollMs);
    kernel = tryKernelLock(path, dir, mine);
  }
  if (kernel === 'held') throw lockedError(dir, path, readLock(path));
  if (kernel !== null) return kernel;
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
    const stale = held.pid !== 0 && sameHost && held.pid !== process.pid && !lockHolderAlive(held);
    if (!stale) {
      if (held.pid === 0 && attempt < 4) {
        // Being written by a job that just created it: look again.
        continue;
      }
      throw lockedError(dir, path, held);
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
