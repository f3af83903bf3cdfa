/**
 * Atomic file writes for the benchmark data cache: a reader never sees a
 * half-written file, because a file appears under its name only once it is
 * complete and on disk.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VecforgeError } from '../../errors.js';

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
    throw new VecforgeError('ERR_IO', `cannot write ${path}`, { cause: error });
  }
}
