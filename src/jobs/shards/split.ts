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
import { hash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { VecforgeError, throwIfAborted } from '../../errors.js';
import { shardName } from '../../index/sharded/layout.js';
import { writeFileAtomicSync } from '../../store/atomic.js';
import { splitFailureReason, splitLines, type SplitFailure } from './split-lines.js';
import { SplitThreadError, splitParallel } from './split-parallel.js';

export type { SplitFailure } from './split-lines.js';

/** One shard's input as split. */
export interface ShardInput {
  readonly path: string;
  readonly sha256: string;
  readonly records: number;
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
  /** Threads that read the input: 1 on this thread, more on worker threads, 0 when a previous split was reused. */
  readonly threads: number;
  readonly readMs: number;
}

/** Options of {@link splitInput}. */
export interface SplitOptions {
  readonly shards: number;
  readonly idField: string;
  /** The longest line kept, in bytes. */
  readonly maxRecordBytes: number;
  readonly signal?: AbortSignal | undefined;
  /** Most threads that read an input of at least `parallelMinBytes`. @default min(4, os.availableParallelism()) */
  readonly threads?: number | undefined;
  /** The smallest input read on worker threads; a smaller one is read on this thread. @default 16777216 (16 MiB) */
  readonly parallelMinBytes?: number | undefined;
}

/**
 * Defaults of {@link SplitOptions}. The threshold is where two threads
 * started beating one on a 2-core machine (WordNet definitions, JSONL,
 * 4 shards, medians of 5): one thread took 0.92 of two's time at 11 MB,
 * 1.06 times at 23 MB, 1.30 times at 58 MB. Each thread costs ~55 ms of start-up
 * (isolate, module loading, cold JIT) and the one-thread split already
 * keeps ~1.2 cores busy (GC helpers, fs reads), so two threads pay only
 * for inputs that take several times that.
 */
export const kDefaultSplitOptions = Object.freeze({ maxThreads: 4, parallelMinBytes: 16 * 1024 * 1024 });

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
const kMaxSplitThreads = 64;

/**
 * Splits a JSONL input into per-shard input files under `stagingDir`, or
 * takes the complete split a previous run left there for the same input.
 * @param input - the JSONL file (absolute).
 * @param stagingDir - the staging directory of the set being built.
 * An input of `parallelMinBytes` or more is read on worker threads, in
 * byte ranges; the shard files, their hashes and the failed lines are the
 * same, byte for byte, as a read on this thread gives.
 * @param o - shard count, id field, the longest line, signal, threads.
 * @returns the shard inputs and the lines that reached no shard.
 * @throws {RangeError} for a thread count or threshold out of range.
 * @throws {VecforgeError} ERR_IO when the input cannot be read or a shard file cannot be written; AbortError when `signal` fires (no split thread is left running).
 */
export async function splitInput(input: string, stagingDir: string, o: SplitOptions): Promise<SplitResult> {
  throwIfAborted(o.signal);
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > kMaxSplitThreads)) throw new RangeError(`options.threads must be an integer in [1, ${kMaxSplitThreads}], got ${String(o.threads)}`);
  if (o.parallelMinBytes !== undefined && (!Number.isSafeInteger(o.parallelMinBytes) || o.parallelMinBytes < 0)) throw new RangeError(`options.parallelMinBytes must be an integer ≥ 0, got ${String(o.parallelMinBytes)}`);
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
        return { key, shards: done.shards, failed: done.failed ?? [], read: done.read ?? 0, reused: true, threads: 0, readMs: performance.now() - started };
      }
    } catch {
      // A torn marker: split again.
    }
  }
  rmSync(stagingDir, { recursive: true, force: true });
  mkdirSync(stagingDir, { recursive: true });
  const threads = st.size >= (o.parallelMinBytes ?? kDefaultSplitOptions.parallelMinBytes) ? (o.threads ?? Math.min(kDefaultSplitOptions.maxThreads, availableParallelism())) : 1;
  let shards: readonly ShardInput[];
  let failed: readonly SplitFailure[];
  let read: number;
  try {
    if (threads > 1) {
      ({ shards, failed, read } = await splitParallel(input, st.size, stagingDir, { shards: o.shards, idField: o.idField, maxRecordBytes: o.maxRecordBytes, threads, signal: o.signal }));
    } else {
      const paths = Array.from({ length: o.shards }, (_, i) => join(stagingDir, `${shardName(i)}.jsonl`));
      const r = await splitLines(input, paths, { shards: o.shards, idField: o.idField, maxRecordBytes: o.maxRecordBytes, hash: true, sync: true, signal: o.signal });
      ({ failed, read } = r);
      shards = paths.map((path, i) => ({ path, records: r.records[i] as number, sha256: (r.sha256 as string[])[i] as string }));
    }
  } catch (error) {
    throwIfAborted(o.signal);
    // ERR_WORKER: the split thread's file is not built.
    if (error instanceof VecforgeError) throw error;
    const reason = error instanceof SplitThreadError ? error.reason : splitFailureReason(error);
    throw new VecforgeError('ERR_IO', `cannot split input ${input} into shards: ${reason}`, { cause: error instanceof SplitThreadError ? error.cause : error });
  }
  // The shard files are durable (fsynced) before the marker that says they are complete.
  writeFileAtomicSync(marker, `${JSON.stringify({ key, identity, shards, failed, read })}\n`);
  return { key, shards, failed, read, reused: false, threads, readMs: performance.now() - started };
}
