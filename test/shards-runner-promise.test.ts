/**
 * A sharded job whose runner comes as a promise (the queue's, connecting
 * to Redis while the input is split): a runner that fails stops the split
 * and is the job's error, with nothing queued or published, the lock
 * released and a directory the job created gone again; one that fails
 * after the split leaves, in an existing sharded index, the split for a
 * rerun; one that resolves is awaited and run after the split.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import { kShardedMarkerFile, readCurrentShardSet } from '../src/index/sharded/layout.js';
import { acquireLock } from '../src/jobs/lock.js';
import { runShardedJob, type ShardedEvent, type ShardRunner } from '../src/jobs/shards/run.js';
import { kDefaultSplitOptions } from '../src/jobs/shards/split.js';
import { tempDir } from './helpers.js';
import { shardSpec } from './shards-helpers.js';
import { runningThreads, writeMixedInput } from './shards-split-helpers.js';

const redisDown = (): VecforgeError => new VecforgeError('ERR_IO', 'cannot reach Redis at redis://127.0.0.1:1: ECONNREFUSED');

/** Nothing published, no job run, and the directory's lock free again. */
function expectNothingDone(dir: string): void {
  expect(readCurrentShardSet(dir)).toBeUndefined();
  expect(existsSync(join(dir, 'shards'))).toBe(false);
  acquireLock(dir, 'test').release();
}

/** A directory that already holds a sharded index of `shards` shards, with no set published yet. */
function existingSharded(shards: number): string {
  const dir = join(tempDir(), 'idx');
  mkdirSync(dir);
  writeFileSync(join(dir, kShardedMarkerFile), `${JSON.stringify({ format: 'vecforge-sharded', formatVersion: 1, shards })}\n`);
  return dir;
}

function splitMarkers(dir: string): string[] {
  const staging = join(dir, '.staging');
  return readdirSync(staging).filter((v) => existsSync(join(staging, v, 'split.json')));
}

describe('a sharded job with a runner promise', () => {
  test.each([
    ['on worker threads', 35_000, true],
    ['on this thread', 300, false],
  ])('a runner that fails while the input is split (%s) stops the split; its error is the job\'s; nothing queued or published', async (_, lines, threads) => {
    const dir = join(tempDir(), 'idx');
    const input = join(tempDir(), 'input.jsonl');
    expect(writeMixedInput(input, lines) >= kDefaultSplitOptions.parallelMinBytes).toBe(threads);
    const before = runningThreads();
    const events: ShardedEvent[] = [];
    const error = redisDown();
    await expect(runShardedJob(shardSpec({ kind: 'build', dir, input, shards: 4, onEvent: (e) => events.push(e) }), Promise.reject(error))).rejects.toBe(error);
    expect(events).toEqual([]);
    expect(runningThreads()).toBe(before);
    // The directory the job created is gone again, as when Redis was checked before any work.
    expect(existsSync(dir)).toBe(false);
    // In a directory that already held a sharded index, the split was stopped: no marker.
    const existing = existingSharded(4);
    await expect(runShardedJob(shardSpec({ kind: 'build', dir: existing, input, shards: 4, onEvent: (e) => events.push(e) }), Promise.reject(error))).rejects.toBe(error);
    expect(events).toEqual([]);
    expect(splitMarkers(existing)).toEqual([]);
    expect(runningThreads()).toBe(before);
    expectNothingDone(existing);
  }, 60_000);

  test('a runner that fails once the split is done: its error, no split event; a rerun takes the split as it is', async () => {
    const dir = existingSharded(4);
    const input = join(tempDir(), 'input.jsonl');
    writeMixedInput(input, 300);
    let fail: (e: Error) => void = () => {};
    const runner = new Promise<ShardRunner>((_, reject) => {
      fail = reject;
    });
    const events: ShardedEvent[] = [];
    const job = runShardedJob(shardSpec({ kind: 'build', dir, input, shards: 4, onEvent: (e) => events.push(e) }), runner);
    let settled = false;
    job.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The event: the split's marker is written (the job then waits for its runner).
    while (!existsSync(join(dir, '.staging')) || splitMarkers(dir).length === 0) {
      expect(settled).toBe(false);
      await new Promise((r) => setImmediate(r));
    }
    const error = redisDown();
    fail(error);
    await expect(job).rejects.toBe(error);
    expect(events).toEqual([]);
    expectNothingDone(dir);
    const ran = new Error('runner reached');
    const second: ShardedEvent[] = [];
    const calls: number[] = [];
    const counting: ShardRunner = async (jobs) => {
      calls.push(jobs.length);
      throw ran;
    };
    await expect(runShardedJob(shardSpec({ kind: 'build', dir, input, shards: 4, onEvent: (e) => second.push(e) }), Promise.resolve(counting))).rejects.toBe(ran);
    expect(second[0]).toMatchObject({ event: 'split', reused: true, threads: 0 });
    expect(calls).toEqual([4]);
  });

  test('a runner that resolves after the split is awaited, then given every shard job', async () => {
    const dir = join(tempDir(), 'idx');
    const input = join(tempDir(), 'input.jsonl');
    writeMixedInput(input, 300);
    const events: ShardedEvent[] = [];
    const given: number[][] = [];
    const stop = new Error('stop after the runner was called');
    let resolve: (r: ShardRunner) => void = () => {};
    const runner = new Promise<ShardRunner>((r) => {
      resolve = r;
    });
    const job = runShardedJob(shardSpec({ kind: 'build', dir, input, shards: 4, onEvent: (e) => events.push(e) }), runner);
    while (!existsSync(join(dir, '.staging')) || splitMarkers(dir).length === 0) await new Promise((r) => setImmediate(r));
    expect(events).toEqual([]);
    resolve(async (jobs) => {
      given.push(jobs.map((j) => j.shard));
      throw stop;
    });
    await expect(job).rejects.toBe(stop);
    expect(events.map((e) => e.event)).toEqual(['split']);
    expect(events[0]).toMatchObject({ threads: 1, reused: false });
    expect(given).toEqual([[0, 1, 2, 3]]);
  });
});
