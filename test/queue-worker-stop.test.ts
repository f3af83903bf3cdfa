/**
 * A shard worker told to stop while Redis is gone leaves after its grace
 * period instead of waiting for Redis forever (BullMQ's close waits for
 * the server), and says that it forced the close; `vecforge worker` then
 * exits 0 instead of hanging.
 */
import { expect, test } from 'vitest';
import { startShardWorker } from '../src/queue/worker.js';
import { kTestCacheDir } from './helpers.js';
import { startRedis } from './helpers-redis.js';
import { startWorker, stopCli } from './queue-helpers.js';

test('stop() with Redis killed: the worker leaves after closeGraceMs, logging a forced stop', async () => {
  const redis = await startRedis();
  const events: Array<Readonly<Record<string, unknown>>> = [];
  const worker = await startShardWorker({ url: redis.url, engine: { cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' }, closeGraceMs: 1000, log: (e) => events.push(e) });
  expect(events.some((e) => e.event === 'ready')).toBe(true);
  await redis.stop();
  // Left alone a while first: the clients are reconnecting when the stop comes (as with a SIGTERM during an outage).
  await new Promise((r) => setTimeout(r, 2500));
  const t0 = performance.now();
  expect(await worker.stop()).toEqual({ forced: true });
  expect(await worker.closed).toEqual({ forced: true });
  const ms = performance.now() - t0;
  // The grace period, plus the drop; far from forever (the test's own timeout).
  expect(ms).toBeGreaterThanOrEqual(900);
  expect(ms).toBeLessThan(15_000);
  expect(events).toContainEqual(expect.objectContaining({ event: 'stopping', forced: true }));
}, 60_000);

test('stop() with Redis up: a clean close, not forced', async () => {
  const redis = await startRedis();
  try {
    const events: Array<Readonly<Record<string, unknown>>> = [];
    const worker = await startShardWorker({ url: redis.url, engine: { cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' }, closeGraceMs: 30_000, log: (e) => events.push(e) });
    const t0 = performance.now();
    expect(await worker.stop()).toEqual({ forced: false });
    expect(performance.now() - t0).toBeLessThan(25_000);
    expect(events.filter((e) => e.event === 'stopping')).toEqual([{ event: 'stopping', running: 0 }]);
  } finally {
    await redis.stop();
  }
}, 60_000);

test('vecforge worker: SIGTERM during a Redis outage exits 0 after the grace period, with the forced stop on stderr', async () => {
  const redis = await startRedis();
  const w = await startWorker(redis.url);
  try {
    await redis.stop();
    await new Promise((r) => setTimeout(r, 2500));
    const t0 = performance.now();
    expect(await stopCli(w, 'SIGTERM')).toBe(0);
    // The default grace is 10 s.
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(w.events).toContainEqual(expect.objectContaining({ event: 'stopping', forced: true }));
  } finally {
    await stopCli(w, 'SIGKILL');
  }
}, 90_000);
