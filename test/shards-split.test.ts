/**
 * The coordinator's split on worker threads: byte for byte what the
 * one-thread split writes (shard files, their SHA-256, records, failed
 * lines and their numbers, non-blank lines read), for any thread count;
 * the input size that takes it; cancellation and errors, after which no
 * split thread is left running.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { kDefaultSplitOptions, splitInput, type SplitOptions } from '../src/jobs/shards/split.js';
import { tempDir } from './helpers.js';
import { kMixedMaxRecordBytes, runningThreads, splitOutcome, writeMixedInput, writeSizedInput, type SplitOutcome } from './shards-split-helpers.js';

const kShards = 4;

async function split(input: string, staging: string, over: Partial<SplitOptions> = {}): Promise<SplitOutcome & { threads: number }> {
  const r = await splitInput(input, staging, { shards: kShards, idField: 'id', maxRecordBytes: kMixedMaxRecordBytes, ...over });
  return { ...splitOutcome(staging, r), threads: r.threads };
}

/** The one-thread split, whatever the input's size. */
const kSerial = { parallelMinBytes: Number.MAX_SAFE_INTEGER } as const;

describe('the split on worker threads', () => {
  test('writes, for 2, 3, 4 and 7 threads, the same shard files, hashes, records and failed lines (same numbers) as the one-thread split', async () => {
    const dir = tempDir();
    const input = join(dir, 'mixed.jsonl');
    const size = writeMixedInput(input, 6000);
    const bytes = readFileSync(input);
    const serial = await split(input, join(dir, 'serial'), kSerial);
    expect(serial.threads).toBe(1);
    // The input holds what the test is about.
    const codes = new Set(serial.result.failed.map((f) => f.code));
    expect([...codes].sort()).toEqual(['INVALID_ID', 'INVALID_UTF8', 'MALFORMED_LINE', 'MISSING_ID', 'TOO_LARGE']);
    const lastLine = bytes.toString('latin1').split('\n').length;
    expect(serial.bytes.some((b) => b.toString('utf8').endsWith('{"id":"the-last","text":"no line end 😀"}\n'))).toBe(true);
    expect(serial.bytes.filter((b) => /"id":"limit(-cr)?"/.test(b.toString('utf8'))).length).toBeGreaterThan(0);
    expect(serial.result.failed.filter((f) => f.code === 'TOO_LARGE').length).toBeGreaterThan(2);
    expect(serial.result.failed.every((f) => f.line >= 1 && f.line <= lastLine)).toBe(true);
    expect(serial.files).toEqual(['s000.jsonl', 's001.jsonl', 's002.jsonl', 's003.jsonl', 'split.json']);
    expect(serial.fileSha256).toEqual(serial.result.shards.map((s) => s.sha256));
    let insideCharacter = 0;
    for (const threads of [2, 3, 4, 7]) {
      for (let r = 1; r < threads; r++) if (((bytes[Math.floor((r * size) / threads)] as number) & 0xc0) === 0x80) insideCharacter++;
      const parallel = await split(input, join(dir, `parallel-${threads}`), { parallelMinBytes: 0, threads });
      expect(parallel.threads).toBe(threads);
      // No part file left: the shard files and the marker only.
      expect(parallel.files).toEqual(serial.files);
      expect(parallel.result).toEqual(serial.result);
      expect(parallel.bytes.length).toBe(kShards);
      for (const [s, b] of parallel.bytes.entries()) expect(b.equals(serial.bytes[s] as Buffer), `shard ${s}, ${threads} threads`).toBe(true);
      expect(parallel.fileSha256).toEqual(serial.fileSha256);
    }
    // Some of the ranges were asked for at a byte inside a multi-byte character.
    expect(insideCharacter).toBeGreaterThan(0);
  }, 60_000);

  test('records longer than a write buffer (a 1.4 MB line kept under a 2 MiB limit) land whole and in order, on both paths', async () => {
    const dir = tempDir();
    const input = join(dir, 'mixed.jsonl');
    writeMixedInput(input, 1500, 11);
    const limits = { maxRecordBytes: 2 * 1024 * 1024 };
    const serial = await split(input, join(dir, 'serial'), { ...kSerial, ...limits });
    expect(serial.bytes.some((b) => b.includes('{"id":"huge","text":"éééé'))).toBe(true);
    expect(serial.result.failed.map((f) => f.code)).not.toContain('TOO_LARGE');
    for (const threads of [2, 3]) {
      const parallel = await split(input, join(dir, `parallel-${threads}`), { parallelMinBytes: 0, threads, ...limits });
      expect(parallel.result).toEqual(serial.result);
      expect(parallel.fileSha256).toEqual(serial.fileSha256);
    }
  });

  test('more threads than lines: empty ranges add nothing, a shard with no record is an empty file', async () => {
    const dir = tempDir();
    const input = join(dir, 'two.jsonl');
    writeSizedInput(input, 300);
    const serial = await split(input, join(dir, 'serial'), kSerial);
    const parallel = await split(input, join(dir, 'parallel'), { parallelMinBytes: 0, threads: 7 });
    expect(parallel.result).toEqual(serial.result);
    expect(parallel.bytes.map((b) => b.length)).toEqual(serial.bytes.map((b) => b.length));
    expect(serial.bytes.some((b) => b.length === 0)).toBe(true);
  });

  test(`an input of ${kDefaultSplitOptions.parallelMinBytes} bytes or more is split on min(4, availableParallelism()) threads, a smaller one on this thread`, async () => {
    const dir = tempDir();
    const small = join(dir, 'small.jsonl');
    const large = join(dir, 'large.jsonl');
    writeSizedInput(small, kDefaultSplitOptions.parallelMinBytes - 1);
    writeSizedInput(large, kDefaultSplitOptions.parallelMinBytes);
    expect((await split(small, join(dir, 'small'))).threads).toBe(1);
    const threads = Math.min(4, availableParallelism());
    const parallel = await split(large, join(dir, 'large'));
    expect(parallel.threads).toBe(threads);
    const serial = await split(large, join(dir, 'large-serial'), kSerial);
    expect(parallel.result).toEqual(serial.result);
    expect(parallel.fileSha256).toEqual(serial.fileSha256);
  }, 60_000);

  test('a split taken again from its marker reads nothing (threads 0)', async () => {
    const dir = tempDir();
    const input = join(dir, 'mixed.jsonl');
    writeMixedInput(input, 500);
    const first = await split(input, join(dir, 'staging'), { parallelMinBytes: 0, threads: 2 });
    const again = await split(input, join(dir, 'staging'), { parallelMinBytes: 0, threads: 2 });
    expect(again.threads).toBe(0);
    expect(again.result).toEqual(first.result);
  });
});

describe('cancellation and errors of the split on worker threads', () => {
  test('aborted before it starts: rejects with AbortError, starts no thread', async () => {
    const dir = tempDir();
    const input = join(dir, 'mixed.jsonl');
    writeMixedInput(input, 200);
    const before = runningThreads();
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(splitInput(input, join(dir, 'staging'), { shards: kShards, idField: 'id', maxRecordBytes: kMixedMaxRecordBytes, parallelMinBytes: 0, threads: 3, signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });
    expect(runningThreads()).toBe(before);
  });

  test('aborted right after it started its threads: rejects with AbortError (cause: the reason), stops them all, writes no marker and leaves no part file', async () => {
    const dir = tempDir();
    const input = join(dir, 'mixed.jsonl');
    writeMixedInput(input, 3000);
    const before = runningThreads();
    const ac = new AbortController();
    const staging = join(dir, 'staging');
    const p = splitInput(input, staging, { shards: kShards, idField: 'id', maxRecordBytes: kMixedMaxRecordBytes, parallelMinBytes: 0, threads: 3, signal: ac.signal });
    // splitInput creates its threads before its first await: none of their replies can have been read yet.
    const reason = new Error('stop now');
    ac.abort(reason);
    await expect(p).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED', cause: reason });
    expect(runningThreads()).toBe(before);
    expect(readdirSync(staging).filter((f) => f === 'split.json' || f.startsWith('.part-'))).toEqual([]);
  });

  test('aborted while its threads read: rejects with AbortError, no thread left, no marker, no part file', async () => {
    const dir = tempDir();
    const input = join(dir, 'mixed.jsonl');
    writeMixedInput(input, 40_000);
    const before = runningThreads();
    const ac = new AbortController();
    const staging = join(dir, 'staging');
    const p = splitInput(input, staging, { shards: kShards, idField: 'id', maxRecordBytes: kMixedMaxRecordBytes, parallelMinBytes: 0, threads: 2, signal: ac.signal });
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The event: both threads are up (a 40,000-line input keeps them reading well after that).
    while (runningThreads() < before + 2 && !settled) await new Promise((r) => setImmediate(r));
    ac.abort(new Error('stop'));
    await expect(p).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });
    expect(runningThreads()).toBe(before);
    expect(readdirSync(staging).filter((f) => f === 'split.json' || f.startsWith('.part-'))).toEqual([]);
  }, 60_000);

  test('an input that cannot be read fails as the one-thread split does (ERR_IO naming the input and the code), no thread left', async () => {
    const dir = tempDir();
    const before = runningThreads();
    const serial = splitInput(dir, join(dir, 'a'), { shards: kShards, idField: 'id', maxRecordBytes: 1024, ...kSerial });
    await expect(serial).rejects.toMatchObject({ code: 'ERR_IO', message: `cannot split input ${dir} into shards: EISDIR` });
    const parallel = splitInput(dir, join(dir, 'b'), { shards: kShards, idField: 'id', maxRecordBytes: 1024, parallelMinBytes: 0, threads: 2 });
    await expect(parallel).rejects.toMatchObject({ code: 'ERR_IO', message: `cannot split input ${dir} into shards: EISDIR` });
    expect(runningThreads()).toBe(before);
  });

  test('an error inside the threads (a bad line limit) rejects with the one-thread split\'s message; no thread left', async () => {
    const dir = tempDir();
    const input = join(dir, 'mixed.jsonl');
    writeMixedInput(input, 200);
    const before = runningThreads();
    const message = `cannot split input ${input} into shards: RangeError: options.maxLineBytes must be a positive integer, got 0`;
    await expect(splitInput(input, join(dir, 'a'), { shards: kShards, idField: 'id', maxRecordBytes: 0, ...kSerial })).rejects.toMatchObject({ code: 'ERR_IO', message });
    await expect(splitInput(input, join(dir, 'b'), { shards: kShards, idField: 'id', maxRecordBytes: 0, parallelMinBytes: 0, threads: 3 })).rejects.toMatchObject({ code: 'ERR_IO', message });
    expect(runningThreads()).toBe(before);
  });

  test('a thread count out of range is a RangeError naming the option', async () => {
    const dir = tempDir();
    await expect(splitInput(join(dir, 'x'), join(dir, 's'), { shards: 2, idField: 'id', maxRecordBytes: 10, threads: 0 })).rejects.toThrow(new RangeError('options.threads must be an integer in [1, 64], got 0'));
    await expect(splitInput(join(dir, 'x'), join(dir, 's'), { shards: 2, idField: 'id', maxRecordBytes: 10, parallelMinBytes: -1 })).rejects.toThrow(new RangeError('options.parallelMinBytes must be an integer ≥ 0, got -1'));
  });
});
