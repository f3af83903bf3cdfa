/**
 * Atomic file writes: a reader never sees a half-written file, because a
 * file appears under its name only once it is complete and on disk.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VecforgeError } from '../errors.js';

/**
 * Writes `chunks` to a temporary name next to `path`, fsyncs it and renames
 * it over `path`. On failure the temporary file is removed.
 * @param path - the final file name.
 * @param chunks - the content, as one or more strings (UTF-8) or byte arrays.
 * @throws {VecforgeError} ERR_IO when the write or rename fails.
 */
export function writeFileAtomicSync(path: string, chunks: string | Uint8Array | readonly (string | Uint8Array)[]): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const list = typeof chunks === 'string' || chunks instanceof Uint8Array ? [chunks] : chunks;
  try {
    const fd = openSync(temp, 'w');
    try {
      for (const chunk of list) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        let written = 0;
        while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new VecforgeError('ERR_IO', `cannot write ${path}${code !== undefined ? `: ${code}` : ''}`, { cause: error });
  }
  fsyncDir(dirname(path));
}

/**
 * Fsyncs a directory so that a rename inside it is durable.
 * @param dir - the directory.
 */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}
