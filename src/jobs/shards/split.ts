/**
 * The coordinator's one read of the input: every JSONL line goes, byte for
 * byte, to the input file of its document's shard (`shardOf(id, N)`) in
 * the staging directory of the set being built. A line whose id cannot be
 * read (not JSON, no id, too large, not UTF-8) goes to the sharded index's
 * own errors.jsonl, never to a shard. A `split.json` written last marks the
 * split complete; a rerun with the same input takes it as it is, so the
 * shards' checkpoints (which name their input by path, size and mtime)
 * stay valid.
 */
import { hash, createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError, throwIfAborted } from '../../errors.js';
import { shardName, shardOf } from '../../index/sharded/layout.js';
import { readLines } from '../../io/lines.js';
import { writeFileAtomicSync } from '../../store/atomic.js';
import { readId } from '../records.js';

/** One shard's input as split. */
export interface ShardInput {
  readonly path: string;
  readonly sha256: string;
  readonly records: number;
}

/** A line that reached no shard. */
export interface SplitFailure {
  readonly line: number;
  readonly code: string;
  readonly reason: string;
}

/** What a split produced. */
export interface SplitResult {
  /** Identifies the split (input identity, shard count, id field): part of every shard job's id. */
  readonly key: string;
  readonly shards: readonly ShardInput[];
  readonly failed: readonly SplitFailure[];
  /** Non-blank lines read. */
  readonly read: number;
  /** True when a complete split of a previous run was taken as it is. */
  readonly reused: boolean;
  readonly readMs: number;
}

/** What identifies a split. */
interface SplitIdentity {
  readonly input: string;
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly shards: number;
  readonly idField: string;
  readonly maxRecordBytes: number;
}

const kSplitFile = 'split.json';
const kFlushBytes = 1 << 20;

/** Buffered appends to one shard's input file, hashed as written. */
class ShardWriter {
  readonly #fd: number;
  readonly #hash: Hash = createHash('sha256');
  /** Lines waiting, encoded once per flush (one Buffer a line cost a fifth of the split). */
  #parts: string[] = [];
  /** Their length in UTF-16 units (a UTF-8 byte count at most three times that). */
  #chars = 0;
  records = 0;

  constructor(path: string) {
    this.#fd = openSync(path, 'w');
  }

  add(text: string): void {
    this.#parts.push(text);
    this.#chars += text.length + 1;
    this.records++;
    if (this.#chars >= kFlushBytes) this.flush();
  }

  flush(): void {
    if (this.#parts.length === 0) return;
    this.#parts.push('');
    const all = Buffer.from(this.#parts.join('\n'), 'utf8');
    this.#hash.update(all);
    let off = 0;
    while (off < all.length) off += writeSync(this.#fd, all, off);
    this.#parts = [];
    this.#chars = 0;
  }

  finish(): string {
    this.flush();
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    return this.#hash.digest('hex');
  }

  abandon(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed.
    }
  }
}

/**
 * Splits a JSONL input into per-shard input files under `stagingDir`, or
 * takes the complete split a previous run left there for the same input.
 * @param input - the JSONL file (absolute).
 * @param stagingDir - the staging directory of the set being built.
 * @param o - shard count, id field, the longest line, signal.
 * @returns the shard inputs and the lines that reached no shard.
 * @throws {VecforgeError} ERR_IO when the input cannot be read or a shard file cannot be written.
 */
export async function splitInput(input: string, stagingDir: string, o: { readonly shards: number; readonly idField: string; readonly maxRecordBytes: number; readonly signal?: AbortSignal | undefined }): Promise<SplitResult> {
  throwIfAborted(o.signal);
  const started = performance.now();
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(input);
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read input ${input}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  const identity: SplitIdentity = { input, bytes: st.size, mtimeMs: st.mtimeMs, shards: o.shards, idField: o.idField, maxRecordBytes: o.maxRecordBytes };
  const key = hash('sha256', JSON.stringify(identity), 'hex').slice(0, 12);
  const marker = join(stagingDir, kSplitFile);
  if (existsSync(marker)) {
    try {
      const done = JSON.parse(readFileSync(marker, 'utf8')) as { key?: string; shards?: ShardInput[]; failed?: SplitFailure[]; read?: number };
      if (done.key === key && Array.isArray(done.shards) && done.shards.every((s) => existsSync(s.path))) {
        return { key, shards: done.shards, failed: done.failed ?? [], read: done.read ?? 0, reused: true, readMs: performance.now() - started };
      }
    } catch {
      // A torn marker: split again.
    }
  }
  rmSync(stagingDir, { recursive: true, force: true });
  mkdirSync(stagingDir, { recursive: true });
  const writers: ShardWriter[] = [];
  const failed: SplitFailure[] = [];
  let read = 0;
  try {
    for (let i = 0; i < o.shards; i++) writers.push(new ShardWriter(join(stagingDir, `${shardName(i)}.jsonl`)));
    for await (const l of readLines(input, { maxLineBytes: o.maxRecordBytes, ...(o.signal !== undefined ? { signal: o.signal } : {}) })) {
      if (l.state === 'failed') {
        read++;
        failed.push({ line: l.line, code: l.code, reason: l.reason });
        continue;
      }
      if (l.text.trim() === '') continue;
      read++;
      let value: unknown;
      try {
        value = JSON.parse(l.text);
      } catch {
        failed.push({ line: l.line, code: 'MALFORMED_LINE', reason: 'line is not valid JSON' });
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        failed.push({ line: l.line, code: 'MALFORMED_LINE', reason: 'line is not a JSON object' });
        continue;
      }
      const id = readId(value as Record<string, unknown>, o.idField);
      if (id.id === null) {
        failed.push({ line: l.line, code: id.code, reason: id.reason });
        continue;
      }
      (writers[shardOf(id.id, o.shards)] as ShardWriter).add(l.text);
    }
  } catch (error) {
    for (const w of writers) w.abandon();
    throwIfAborted(o.signal);
    throw new VecforgeError('ERR_IO', `cannot split input ${input} into shards: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  const shards = writers.map((w, i) => ({ path: join(stagingDir, `${shardName(i)}.jsonl`), records: w.records, sha256: w.finish() }));
  writeFileAtomicSync(marker, `${JSON.stringify({ key, identity, shards, failed, read })}\n`);
  return { key, shards, failed, read, reused: false, readMs: performance.now() - started };
}
