/**
 * The split's one pass over lines, shared by both ways of splitting: the
 * whole input on the main thread (split.ts), or one byte range of it on
 * each split thread (split-parallel.ts, workers/split-worker.ts), whose
 * per-shard parts are then joined in range order (`joinParts`). Both read
 * with `readLineRuns` (the lines `readLines` yields) and route with `routeLine`, so a range yields, line
 * for line, what the whole file yields there.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { shardOf } from '../../index/sharded/layout.js';
import { readLineRuns, type FileLine } from '../../io/lines.js';
import { readId } from '../records.js';

/** A line that reached no shard. */
export interface SplitFailure {
  readonly line: number;
  readonly code: string;
  readonly reason: string;
}

/** Where one line goes. */
export type LineRoute =
  | { readonly state: 'blank' }
  | { readonly state: 'failed'; readonly failure: SplitFailure }
  | { readonly state: 'ok'; readonly shard: number; readonly text: string };

/** What one pass over lines produced. */
export interface LinesSplit {
  /** Lines in the range (blank ones included): the next range's line 1 is this range's line `lines + 1`. */
  readonly lines: number;
  /** Non-blank lines read. */
  readonly read: number;
  /** Lines that reached no shard, numbered from 1 in the range. */
  readonly failed: SplitFailure[];
  /** Lines written, by shard. */
  readonly records: number[];
  /** SHA-256 of each output, when asked for. */
  readonly sha256: string[] | null;
}

/** Options of {@link splitLines}. */
export interface SplitLinesOptions {
  readonly shards: number;
  readonly idField: string;
  readonly maxRecordBytes: number;
  /** Hash each output as written. */
  readonly hash: boolean;
  /** fsync each output (all at once) before returning. */
  readonly sync: boolean;
  /** The range read: line starts (see `lineStartAtOrAfter`); the whole file when absent. */
  readonly startByte?: number | undefined;
  readonly endByte?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

const kFlushBytes = 256 * 1024;
const kCopyBytes = 1 << 20;
const fsyncAsync = promisify(fsync);

/**
 * Where one line of the input goes: nowhere (blank), to the failures, or
 * to a shard by its id.
 * @param l - the line as read.
 * @param shards - the shard count.
 * @param idField - the id field.
 * @returns its route.
 */
export function routeLine(l: FileLine, shards: number, idField: string): LineRoute {
  if (l.state === 'failed') return { state: 'failed', failure: { line: l.line, code: l.code, reason: l.reason } };
  if (l.text.trim() === '') return { state: 'blank' };
  let value: unknown;
  try {
    value = JSON.parse(l.text);
  } catch {
    return { state: 'failed', failure: { line: l.line, code: 'MALFORMED_LINE', reason: 'line is not valid JSON' } };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { state: 'failed', failure: { line: l.line, code: 'MALFORMED_LINE', reason: 'line is not a JSON object' } };
  const id = readId(value as Record<string, unknown>, idField);
  if (id.id === null) return { state: 'failed', failure: { line: l.line, code: id.code, reason: id.reason } };
  return { state: 'ok', shard: shardOf(id.id, shards), text: l.text };
}

/** Buffered appends to one output file, hashed as written when asked. */
class ShardWriter {
  readonly #fd: number;
  readonly #hash: Hash | null;
  /** Lines encoded straight into one buffer: no string is kept between lines, so the young generation stays empty. */
  readonly #buf = Buffer.allocUnsafe(kFlushBytes);
  #used = 0;
  #closed = false;
  records = 0;

  constructor(path: string, hash: boolean) {
    this.#fd = openSync(path, 'w');
    this.#hash = hash ? createHash('sha256') : null;
  }

  add(text: string): void {
    this.records++;
    // A UTF-16 unit is at most three UTF-8 bytes; +1 for the LF.
    if (this.#used + text.length * 3 + 1 > kFlushBytes) {
      this.flush();
      if (text.length * 3 + 1 > kFlushBytes) {
        this.#write(Buffer.from(`${text}\n`, 'utf8'));
        return;
      }
    }
    this.#used += this.#buf.write(text, this.#used, 'utf8');
    this.#buf[this.#used++] = 0x0a;
  }

  #write(bytes: Buffer): void {
    this.#hash?.update(bytes);
    let off = 0;
    while (off < bytes.length) off += writeSync(this.#fd, bytes, off);
  }

  flush(): void {
    if (this.#used === 0) return;
    this.#write(this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }

  /** Flushes; returns the hash when kept. */
  finish(): string | null {
    this.flush();
    return this.#hash?.digest('hex') ?? null;
  }

  sync(): Promise<void> {
    return fsyncAsync(this.#fd);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      closeSync(this.#fd);
    } catch {
      // Closing after a failed write: the error that matters is already thrown.
    }
  }
}

/**
 * Reads the lines of a file (or of a byte range of it) and writes each to
 * the output of its shard, byte for byte as decoded (a CRLF becomes LF, a
 * BOM is dropped, as `readLines` yields them).
 * @param input - the JSONL file.
 * @param outputs - one output file per shard, created or truncated.
 * @param o - shard count, id field, the longest line, hashing, fsync, range, signal.
 * @returns lines, non-blank lines, failures (numbered from 1 in the range), records and hashes by shard.
 * @throws {Error} the file system's error when the input cannot be read or an output written; AbortError when `signal` fires.
 */
export async function splitLines(input: string, outputs: readonly string[], o: SplitLinesOptions): Promise<LinesSplit> {
  const writers: ShardWriter[] = [];
  const failed: SplitFailure[] = [];
  let read = 0;
  let lines = 0;
  try {
    for (const path of outputs) writers.push(new ShardWriter(path, o.hash));
    const options = { maxLineBytes: o.maxRecordBytes, startByte: o.startByte ?? 0, ...(o.endByte !== undefined ? { endByte: o.endByte } : {}), ...(o.signal !== undefined ? { signal: o.signal } : {}) };
    // A run of lines per read, routed without an await each (a promise per line was a third of the split).
    for await (const run of readLineRuns(input, options)) {
      for (const l of run) {
        lines = l.line;
        const r = routeLine(l, o.shards, o.idField);
        if (r.state === 'blank') continue;
        read++;
        if (r.state === 'failed') failed.push(r.failure);
        else (writers[r.shard] as ShardWriter).add(r.text);
      }
    }
    const hashes = writers.map((w) => w.finish());
    // All at once: four sequential fsyncs were a third of a 100,000-line split's wall time.
    if (o.sync) await Promise.all(writers.map((w) => w.sync()));
    return { lines, read, failed, records: writers.map((w) => w.records), sha256: o.hash ? (hashes as string[]) : null };
  } finally {
    for (const w of writers) w.close();
  }
}

/**
 * Joins one shard's parts, in range order, into its file: the first part
 * is renamed to it, the others appended and removed; every byte is hashed
 * in order. Not fsynced (the caller syncs every shard file at once).
 * @param parts - the part files, in range order (at least one).
 * @param out - the shard file.
 * @returns the shard file's SHA-256.
 * @throws {Error} the file system's error.
 */
export function joinParts(parts: readonly string[], out: string): string {
  const [first, ...rest] = parts;
  if (first === undefined) throw new RangeError('joinParts needs at least one part');
  renameSync(first, out);
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(kCopyBytes);
  const fd = openSync(out, 'r+');
  try {
    let end = 0;
    for (let n = readSync(fd, buf, 0, kCopyBytes, end); n > 0; n = readSync(fd, buf, 0, kCopyBytes, end)) {
      hash.update(buf.subarray(0, n));
      end += n;
    }
    for (const part of rest) {
      const from = openSync(part, 'r');
      try {
        for (let n = readSync(from, buf, 0, kCopyBytes, null); n > 0; n = readSync(from, buf, 0, kCopyBytes, null)) {
          hash.update(buf.subarray(0, n));
          let off = 0;
          while (off < n) off += writeSync(fd, buf, off, n - off, end + off);
          end += n;
        }
      } finally {
        closeSync(from);
      }
      rmSync(part);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Why a split failed, as its error message says it: the file system's
 * code (ENOENT, EIO, …), or the error itself.
 * @param error - what was thrown.
 * @returns the reason.
 */
export function splitFailureReason(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}
