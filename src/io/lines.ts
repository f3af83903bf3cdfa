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
 * The line logic of {@link readLines}, over a file's reads pushed in
 * order: no I/O and no await, so a caller that handles lines by the
 * thousand (the sharded split) pays no promise per line.
 */
class LineCutter {
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  readonly #maxLineBytes: number;
  readonly #startLine: number;
  /** The current line's bytes so far (never more than maxLineBytes + 1, for a trailing CR). */
  readonly #parts: Buffer[] = [];
  #partBytes = 0;
  /** The current line passed the limit: its remaining bytes are dropped up to its line end. */
  #skipping = false;
  #line = 1;
  #bytesRead = 0;

  constructor(maxLineBytes: number, startLine: number) {
    this.#maxLineBytes = maxLineBytes;
    this.#startLine = startLine;
  }

  #tooLarge(): FileLine {
    return { state: 'failed', line: this.#line, code: 'TOO_LARGE', reason: `line is over ${this.#maxLineBytes} bytes`, bytesRead: this.#bytesRead };
  }

  #finish(): FileLine {
    const bytes = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#partBytes);
    this.#parts.length = 0;
    this.#partBytes = 0;
    return this.#decodeLine(bytes);
  }

  #decodeLine(bytes: Buffer): FileLine {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    if (end > this.#maxLineBytes) return this.#tooLarge();
    try {
      return { state: 'ok', line: this.#line, text: this.#decoder.decode(bytes.subarray(0, end)), bytesRead: this.#bytesRead };
    } catch {
      return { state: 'failed', line: this.#line, code: 'INVALID_UTF8', reason: 'line is not valid UTF-8', bytesRead: this.#bytesRead };
    }
  }

  /** Adds a piece of the current line; reports the line once when it passes the limit (+1 for a CR of a CRLF). */
  #add(piece: Buffer): FileLine | undefined {
    if (this.#skipping) return undefined;
    if (this.#partBytes + piece.length > this.#maxLineBytes + 1) {
      this.#parts.length = 0;
      this.#partBytes = 0;
      this.#skipping = true;
      return this.#line >= this.#startLine ? this.#tooLarge() : undefined;
    }
    // A copy: the stream may reuse its chunk's memory.
    if (piece.length > 0) this.#parts.push(Buffer.from(piece));
    this.#partBytes += piece.length;
    return undefined;
  }

  /** The lines one read completes (and a line it takes over the limit), in order; consumed before the next read. */
  *push(chunk: Buffer): Generator<FileLine> {
    const maxLineBytes = this.#maxLineBytes;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.#bytesRead += nl - start + 1;
      if (this.#partBytes === 0 && !this.#skipping && nl - start <= maxLineBytes + 1) {
        // A line whole inside this read: decoded in place, with no copy.
        if (this.#line >= this.#startLine) yield this.#decodeLine(chunk.subarray(start, nl));
        this.#line++;
        start = nl + 1;
        continue;
      }
      const failed = this.#add(chunk.subarray(start, nl));
      if (failed !== undefined) yield failed;
      if (!this.#skipping && this.#line >= this.#startLine) yield this.#finish();
      else {
        this.#parts.length = 0;
        this.#partBytes = 0;
      }
      this.#skipping = false;
      this.#line++;
      start = nl + 1;
    }
    this.#bytesRead += chunk.length - start;
    const failed = this.#add(chunk.subarray(start));
    if (failed !== undefined) yield failed;
  }

  /** The last line, when the file does not end with a line end. */
  *end(): Generator<FileLine> {
    if (this.#partBytes > 0 && !this.#skipping && this.#line >= this.#startLine) yield this.#finish();
  }
}

/**
 * Reads a file, or a byte range of it cut at line starts, line by line
 * (LF or CRLF), with bounded memory, one read at a time: each item is the
 * lines that read completes, to be consumed before the next item is
 * asked for. {@link readLines} yields the same lines one by one.
 * @param path - the file.
 * @param options - signal, first line, longest line, byte range.
 * @returns an async iterable of runs of lines.
 * @throws {RangeError} when maxLineBytes is not a positive integer, or the byte range is not one.
 */
export async function* readLineRuns(path: string, options: ReadLinesOptions = {}): AsyncGenerator<Iterable<FileLine>> {
  const startLine = options.startLine ?? kDefaultReadLinesOptions.startLine;
  const maxLineBytes = options.maxLineBytes ?? kDefaultReadLinesOptions.maxLineBytes;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError(`options.maxLineBytes must be a positive integer, got ${String(maxLineBytes)}`);
  const startByte = options.startByte ?? 0;
  if (!Number.isSafeInteger(startByte) || startByte < 0) throw new RangeError(`options.startByte must be an integer ≥ 0, got ${String(startByte)}`);
  const endByte = options.endByte;
  if (endByte !== undefined && (!Number.isSafeInteger(endByte) || endByte < startByte)) throw new RangeError(`options.endByte must be an integer ≥ options.startByte (${startByte}), got ${String(endByte)}`);
  if (endByte === startByte) return;
  // createReadStream's end is inclusive; a start (even 0) makes every read positional, which a pipe refuses (ESPIPE).
  const range = { ...(startByte > 0 ? { start: startByte } : {}), ...(endByte !== undefined ? { end: endByte - 1 } : {}) };
  const stream = createReadStream(path, { highWaterMark: kReadBytes, ...range, ...(options.signal !== undefined ? { signal: options.signal } : {}) });
  const cutter = new LineCutter(maxLineBytes, startLine);
  for await (const chunk of stream as AsyncIterable<Buffer>) yield cutter.push(chunk);
  yield cutter.end();
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
  for await (const run of readLineRuns(path, options)) yield* run;
}
