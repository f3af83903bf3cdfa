/**
 * The split of a large input on worker threads: the file is cut into
 * byte ranges, each moved to the next line start (a LF never falls inside
 * a UTF-8 character or a CRLF), and each range goes to one thread, which
 * routes its lines exactly as the one-thread split does (split-lines.ts)
 * into per-shard part files. Each shard's file is then the concatenation
 * of its parts in range order (joined on the threads too, hashed as
 * joined), so the result is the one-thread split's, byte for byte, with
 * each range's line numbers shifted by the lines of the ranges before it.
 */
import { rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { deserializeError } from '../../errors.js';
import { shardName } from '../../index/sharded/layout.js';
import { workerFile } from '../../scheduler/worker-url.js';
import type { SplitFailure } from './split-lines.js';
import type { SplitJoinJob, SplitThreadInit, SplitThreadReply, SplitThreadRequest } from './split-protocol.js';

/** What the threads produced: the shard files (joined, fsynced) and the lines that reached none. */
export interface ParallelSplit {
  readonly shards: readonly { readonly path: string; readonly sha256: string; readonly records: number }[];
  readonly failed: readonly SplitFailure[];
  readonly read: number;
}

/** A split thread failed: `reason` is the file system's code or the error's text. */
export class SplitThreadError extends Error {
  readonly reason: string;

  constructor(reason: string, cause: unknown) {
    super(`a split thread failed: ${reason}`, { cause });
    this.name = 'SplitThreadError';
    this.reason = reason;
  }
}

/** One split thread: its replies in order, and its end. */
class SplitThread {
  readonly #worker: Worker;
  readonly #replies: SplitThreadReply[] = [];
  #wake: (() => void) | undefined;
  #failure: Error | undefined;
  /** Settles once the thread has exited (never rejects). */
  readonly exited: Promise<void>;

  constructor(init: SplitThreadInit) {
    this.#worker = new Worker(workerFile('split-worker'), { workerData: init });
    this.#worker.on('message', (m: SplitThreadReply) => this.#push(m));
    this.#worker.on('error', (error) => {
      this.#failure ??= error;
      this.#push(undefined);
    });
    this.exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        this.#failure ??= new Error(`a split thread stopped (exit code ${code}) before it was done`);
        this.#push(undefined);
        resolve();
      });
    });
  }

  #push(m: SplitThreadReply | undefined): void {
    if (m !== undefined) this.#replies.push(m);
    this.#wake?.();
    this.#wake = undefined;
  }

  /** The next reply, unless it is a failure. */
  async next<K extends SplitThreadReply['kind']>(kind: K): Promise<Extract<SplitThreadReply, { kind: K }>> {
    for (;;) {
      const m = this.#replies.shift();
      if (m !== undefined) {
        if (m.kind === 'failed') throw new SplitThreadError(m.reason, deserializeError(m.error));
        if (m.kind !== kind) throw new Error(`a split thread replied ${m.kind}, not ${kind}`);
        return m as Extract<SplitThreadReply, { kind: K }>;
      }
      if (this.#failure !== undefined) throw new SplitThreadError(this.#failure.message, this.#failure);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  post(m: SplitThreadRequest): void {
    this.#worker.postMessage(m);
  }

  /** Stops the thread now (a no-op once it has exited). */
  stop(): Promise<void> {
    return this.#worker.terminate().then(() => undefined);
  }
}

/**
 * Splits `input` on `threads` worker threads into one file per shard under
 * `stagingDir` (which exists and is empty). Every thread has exited when
 * this settles, whether it resolves or rejects.
 * @param input - the JSONL file.
 * @param sizeBytes - its size, as the ranges are cut.
 * @param stagingDir - where the shard files go.
 * @param o - shard count, id field, the longest line, threads, signal.
 * @returns the shard files and the lines that reached no shard.
 * @throws {SplitThreadError} when a thread failed (the input unreadable, a part unwritable); AbortError when `signal` fires.
 */
export async function splitParallel(input: string, sizeBytes: number, stagingDir: string, o: { readonly shards: number; readonly idField: string; readonly maxRecordBytes: number; readonly threads: number; readonly signal?: AbortSignal | undefined }): Promise<ParallelSplit> {
  const k = o.threads;
  const partPath = (r: number, s: number): string => join(stagingDir, `.part-${r}-${shardName(s)}.jsonl`);
  const threads: SplitThread[] = [];
  const stopAll = (): void => {
    for (const t of threads) void t.stop();
  };
  o.signal?.addEventListener('abort', stopAll, { once: true });
  try {
    for (let r = 0; r < k; r++) {
      const parts = Array.from({ length: o.shards }, (_, s) => partPath(r, s));
      const fromByte = Math.floor((r * sizeBytes) / k);
      const toByte = r === k - 1 ? null : Math.floor(((r + 1) * sizeBytes) / k);
      threads.push(new SplitThread({ input, fromByte, toByte, parts, shards: o.shards, idField: o.idField, maxRecordBytes: o.maxRecordBytes }));
    }
    // A signal aborted before the listener was added never fires it.
    if (o.signal?.aborted === true) stopAll();
    const ranges = await Promise.all(threads.map((t) => t.next('range')));
    const failed: SplitFailure[] = [];
    let read = 0;
    let before = 0;
    for (const range of ranges) {
      for (const f of range.failed) failed.push({ ...f, line: f.line + before });
      before += range.lines;
      read += range.read;
    }
    const out = Array.from({ length: o.shards }, (_, s) => join(stagingDir, `${shardName(s)}.jsonl`));
    const jobs: SplitJoinJob[][] = threads.map(() => []);
    for (let s = 0; s < o.shards; s++) {
      jobs[s % k]?.push({ shard: s, parts: Array.from({ length: k }, (_, r) => partPath(r, s)), out: out[s] as string });
    }
    for (const [r, t] of threads.entries()) t.post({ kind: 'join', jobs: jobs[r] ?? [] });
    const joined = await Promise.all(threads.map((t) => t.next('joined')));
    const sha256 = new Map(joined.flatMap((j) => j.sha256.map((h) => [h.shard, h.sha256] as const)));
    // The shard files are fsynced all at once (sequential fsyncs were a third of a 100,000-line split's wall time), while the threads exit.
    const synced = out.map(async (path) => {
      const fh = await open(path, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    await Promise.all([...threads.map((t) => t.exited), ...synced]);
    const shards = out.map((path, s) => ({ path, sha256: sha256.get(s) as string, records: ranges.reduce((n, r) => n + (r.records[s] ?? 0), 0) }));
    return { shards, failed, read };
  } catch (error) {
    await Promise.all(threads.map((t) => t.stop()));
    for (let r = 0; r < k; r++) for (let s = 0; s < o.shards; s++) rmSync(partPath(r, s), { force: true });
    throw error;
  } finally {
    o.signal?.removeEventListener('abort', stopAll);
  }
}
