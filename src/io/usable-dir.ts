/**
 * Checks, with a bounded number of system calls, that a directory can hold
 * files, before long work starts there. Node's recursive mkdir never
 * returns on some pseudo filesystems (`mkdirSync('/proc/self/x', { recursive:
 * true })` spins at 100% CPU), and /proc or /sys accept a path only to fail
 * its writes much later; both are caught here, in a few calls.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmdirSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { VecforgeError, type VecforgeErrorCode } from '../errors.js';

/** statfs magic numbers of filesystems that hold no files (linux/magic.h). */
const kPseudoFilesystems: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [0x6e736673, 'nsfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0x67596969, 'configfs'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
]);

/** Options of {@link ensureUsableDir}. */
export interface UsableDirOptions {
  /** How the directory is named in messages, e.g. `cache directory`. */
  readonly what: string;
  /** The code of the error thrown. @default 'ERR_IO' */
  readonly code?: VecforgeErrorCode;
  /**
   * An existing directory that refuses the probe file for lack of rights
   * (EACCES, EPERM, EROFS) is accepted: a prepared, read-only cache. A
   * directory created now must always take the probe. @default false
   */
  readonly allowReadOnly?: boolean;
}

function errno(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/**
 * Makes sure `dir` exists (creating missing components one at a time, not
 * with a recursive mkdir) and can hold a file: a small probe is written,
 * renamed and removed. Refuses /proc, /sys and other pseudo filesystems.
 * @param dir - the directory.
 * @param options - how it is named and the error code.
 * @throws {VecforgeError} with `options.code` (ERR_IO) naming the directory and why.
 */
export function ensureUsableDir(dir: string, options: UsableDirOptions): void {
  const code = options.code ?? 'ERR_IO';
  const fail: (why: string, cause?: unknown) => never = (why, cause) => {
    throw new VecforgeError(code, `${options.what} ${dir} cannot be used: ${why}`, cause !== undefined ? { cause } : undefined);
  };
  const path = resolve(dir);
  const missing: string[] = [];
  let existing = path;
  for (;;) {
    try {
      if (!statSync(existing).isDirectory()) fail(`${existing} is not a directory`);
      break;
    } catch (error) {
      if (error instanceof VecforgeError) throw error;
      if (errno(error) !== 'ENOENT') fail(`${existing}: ${errno(error)}`, error);
      const parent = dirname(existing);
      if (parent === existing) fail(`${existing}: ENOENT`, error);
      missing.unshift(existing);
      existing = parent;
    }
  }
  let type: number;
  try {
    type = Number(statfsSync(existing).type);
  } catch (error) {
    fail(`${existing}: ${errno(error)}`, error);
  }
  const pseudo = kPseudoFilesystems.get(type);
  if (pseudo !== undefined) fail(`${existing} is on a ${pseudo} filesystem, which holds no files; choose a directory on a disk`);
  const created: string[] = [];
  try {
    for (const component of missing) {
      try {
        mkdirSync(component);
      } catch (error) {
        fail(`cannot create ${component}: ${errno(error)}`, error);
      }
      created.push(component);
    }
    probe(path, created.length > 0 ? false : (options.allowReadOnly ?? false), fail);
  } catch (error) {
    for (const component of created.reverse()) {
      try {
        rmdirSync(component);
      } catch {
        // Someone else put something there meanwhile: leave it.
      }
    }
    throw error;
  }
}

function probe(path: string, allowReadOnly: boolean, fail: (why: string, cause?: unknown) => never): void {
  const name = join(path, `.vecforge-probe-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const payload = Buffer.from('vecforge probe\n');
  let fd: number;
  try {
    fd = openSync(name, 'wx');
  } catch (error) {
    if (allowReadOnly && ['EACCES', 'EPERM', 'EROFS'].includes(errno(error))) return;
    fail(`cannot write a file there: ${errno(error)}`, error);
  }
  try {
    try {
      // One write of a few bytes: a filesystem that takes none of them holds no files.
      if (writeSync(fd, payload) !== payload.length) fail('a small write was cut short');
    } finally {
      closeSync(fd);
    }
    renameSync(name, `${name}.renamed`);
    rmSync(`${name}.renamed`);
  } catch (error) {
    rmSync(name, { force: true });
    rmSync(`${name}.renamed`, { force: true });
    if (error instanceof VecforgeError) throw error;
    fail(`cannot write a file there: ${errno(error)}`, error);
  }
}
