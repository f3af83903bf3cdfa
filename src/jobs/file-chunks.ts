/**
 * Reading an input file in fresh 1 MiB buffers, shared by the JSONL and
 * CSV readers.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { VecforgeError, throwIfAborted } from '../errors.js';

const kChunkBytes = 1 << 20;
const kBom = [0xef, 0xbb, 0xbf] as const;

/**
 * Opens an input file for reading.
 * @param path - the file.
 * @returns its handle.
 * @throws {VecforgeError} ERR_IO when the file cannot be opened.
 */
export async function openInput(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read input ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

/**
 * The bytes of a file, read after read, each in a fresh buffer.
 * @param path - the file.
 * @param signal - stops reading.
 * @returns an async iterable of the reads.
 * @throws {VecforgeError} ERR_IO when the file cannot be read.
 */
export async function* chunks(path: string, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const handle = await openInput(path);
  try {
    let position = 0;
    for (;;) {
      throwIfAborted(signal);
      const buf = Buffer.allocUnsafe(kChunkBytes);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buf, 0, kChunkBytes, position));
      } catch (error) {
        throw new VecforgeError('ERR_IO', `cannot read input ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
      }
      if (bytesRead === 0) return;
      position += bytesRead;
      // Each read gets a fresh buffer: records may keep subarrays of it.
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Whether a read starts with the UTF-8 byte order mark.
 * @param chunk - the first read of a file.
 * @returns true when it does.
 */
export function startsWithBom(chunk: Uint8Array): boolean {
  return chunk.length >= 3 && chunk[0] === kBom[0] && chunk[1] === kBom[1] && chunk[2] === kBom[2];
}
