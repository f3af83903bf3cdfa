/**
 * Streams a file as lines of bytes, decoding each as strict UTF-8, so that
 * one line of invalid UTF-8 is reported by line number instead of being
 * silently replaced. Memory stays bounded whatever the input: a line over
 * `maxLineBytes` is reported as soon as it passes the limit and its bytes
 * are dropped as they come (so even `/dev/zero` costs one read buffer).
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';

/** Why a line could not be read. */
export type FileLineCode = 'INVALID_UTF8' | 'TOO_LARGE';

/** One line of a file. */
export type FileLine =
  | { readonly state: 'ok'; readonly line: number; readonly text: string; readonly bytesRead: number }
  | { readonly state: 'failed'; readonly line: number; readonly code: FileLineCode; readonly reason: string; readonly bytesRead: number };

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /** Stops reading. */
  readonly signal?: AbortSignal;
  /** Lines before this one (1-based) are skipped. @default 1 */
  readonly startLine?: number;
  /** The longest line kept, in bytes without its line end, an integer ≥ 1. @default 8388608 (8 MiB) */
  readonly maxLineBytes?: number;
  /**
   * The byte where reading starts, a line start (see {@link lineStartAtOrAfter}):
   * line 1 is the line that starts there. @default 0
   */
  readonly startByte?: number;
  /** The byte where reading stops (exclusive), a line start or the file's size. @default the end of the file */
  readonly endByte?: number;
}

/** Defaults of {@link ReadLinesOptions}. */
export const kDefaultReadLinesOptions = Object.freeze({ startLine: 1, maxLineBytes: 8 * 1024 * 1024 });

const kReadBytes = 1 << 20;
const kScanBytes = 64 * 1024;

/**
 * Where the first line at or after a byte starts: `offset` itself when it
 * is 0 or follows a LF, otherwise the byte after the next LF (or the
 * file's size when none follows). A LF byte never occurs inside a UTF-8
 * sequence, so a cut there splits no character and no CRLF.
 * @param path - the file.
 * @param offset - a byte offset, an integer ≥ 0.
 * @returns the byte offset of a line start, or the file's size.
 * @throws {Error} the file system's error when the file cannot be read.
 */
export function lineStartAtOrAfter(path: string, offset: number): number {
  if (offset === 0) return 0;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(kScanBytes);
    let at = offset - 1;
    for (;;) {
      const n = readSync(fd, buf, 0, kScanBytes, at);
      // At the end of the file (or past it, for an offset beyond it).
      if (n === 0) return Math.min(at, fstatSync(fd).size);
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl !== -1) return at + nl + 1;
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a file, or a byte range of it cut at line starts, line by line
 * (LF or CRLF), with bounded memory. A file read in ranges yields, range
 * after range, the lines the whole file yields, numbered from 1 in each.
 * @param path - the file.
 * @param options - signal, first line, longest line, byte range.
 * @returns an async iterable of lines, 1-based numbers, with bytes consumed so far; a line over `maxLineBytes` comes once, as `TOO_LARGE`, when it passes the limit.
 * @throws {RangeError} when maxLineBytes is not a positive integer, or the byte range is not one.
 */
export async function* readLines(path: string, options: ReadLinesOptions = {}): AsyncGenerator<FileLine> {
  const startLine = options.startLine ?? kDefaultReadLinesOptions.startLine;
  const maxLineBytes = options.maxLineBytes ?? kDefaultReadLinesOptions.maxLineBytes;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError(`options.maxLineBytes must be a positive integer, got ${String(maxLineBytes)}`);
  const startByte = options.startByte ?? 0;
  if (!Number.isSafeInteger(startByte) || startByte < 0) throw new RangeError(`options.startByte must be an integer ≥ 0, got ${String(startByte)}`);
  const endByte = options.endByte;
  if (endByte !== undefined && (!Number.isSafeInteger(endByte) || endByte < startByte)) throw new RangeError(`options.endByte must be an integer ≥ options.startByte (${startByte}), got ${String(endByte)}`);
  if (endByte === startByte) return;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // createReadStream's end is inclusive; a start (even 0) makes every read positional, which a pipe refuses (ESPIPE).
  const range = { ...(startByte > 0 ? { start: startByte } : {}), ...(endByte !== undefined ? { end: endByte - 1 } : {}) };
  const stream = createReadStream(path, { highWaterMark: kReadBytes, ...range, ...(options.signal !== undefined ? { signal: options.signal } : {}) });
  // The current line's bytes so far (never more than maxLineBytes + 1, for a trailing CR).
  const parts: Buffer[] = [];
  let partBytes = 0;
  // The current line passed the limit: its remaining bytes are dropped up to its line end.
  let skipping = false;
  let line = 0;
  let bytesRead = 0;
  const tooLarge = (): FileLine => ({ state: 'failed', line, code: 'TOO_LARGE', reason: `line is over ${maxLineBytes} bytes`, bytesRead });
  const finish = (): FileLine => {
    const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, partBytes);
    parts.length = 0;
    partBytes = 0;
    return decodeLine(bytes);
  };
  const decodeLine = (bytes: Buffer): FileLine => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    if (end > maxLineBytes) return tooLarge();
    try {
      return { state: 'ok', line, text: decoder.decode(bytes.subarray(0, end)), bytesRead };
    } catch {
      return { state: 'failed', line, code: 'INVALID_UTF8', reason: 'line is not valid UTF-8', bytesRead };
    }
  };
  // Adds a piece of the current line; reports the line once when it passes the limit (+1 for a CR of a CRLF).
  const add = (piece: Buffer): FileLine | undefined => {
    if (skipping) return undefined;
    if (partBytes + piece.length > maxLineBytes + 1) {
      parts.length = 0;
      partBytes = 0;
      skipping = true;
      return line >= startLine ? tooLarge() : undefined;
    }
    // A copy: the stream may reuse its chunk's memory.
    if (piece.length > 0) parts.push(Buffer.from(piece));
    partBytes += piece.length;
    return undefined;
  };
  line = 1;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      bytesRead += nl - start + 1;
      if (partBytes === 0 && !skipping && nl - start <= maxLineBytes + 1) {
        // A line whole inside this read: decoded in place, with no copy.
        if (line >= startLine) yield decodeLine(chunk.subarray(start, nl));
        line++;
        start = nl + 1;
        continue;
      }
      const failed = add(chunk.subarray(start, nl));
      if (failed !== undefined) yield failed;
      if (!skipping && line >= startLine) yield finish();
      else {
        parts.length = 0;
        partBytes = 0;
      }
      skipping = false;
      line++;
      start = nl + 1;
    }
    bytesRead += chunk.length - start;
    const failed = add(chunk.subarray(start));
    if (failed !== undefined) yield failed;
  }
  if (partBytes > 0 && !skipping && line >= startLine) yield finish();
}
