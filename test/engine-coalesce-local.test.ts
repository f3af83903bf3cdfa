/**
 * Micro-batching on a local model: on by default and eager (a call that
 * finds no shared call running goes at once; calls arriving meanwhile go
 * together when it ends), so a lone call never waits for the window and
 * many concurrent single calls still become a few pool batches.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { Engine } from '../src/engine.js';
import { Coalescer } from '../src/scheduler/coalescer.js';
import type { EmbedResult } from '../src/scheduler/scheduler.js';
import { kTestCacheDir } from './helpers.js';

function fakeResult(texts: readonly unknown[]): EmbedResult {
  return { vectors: new Float32Array(texts.length * 2).map((_, i) => i), dims: 2, items: texts.map(() => ({ state: 'ok' as const })) };
}

/** A runner whose shared calls the test settles by hand. */
function manualRunner(): { calls: Array<{ texts: readonly unknown[]; settle: () => void }>; run: (texts: readonly unknown[]) => Promise<EmbedResult> } {
  const calls: Array<{ texts: readonly unknown[]; settle: () => void }> = [];
  return {
    calls,
    run: (texts) =>
      new Promise<EmbedResult>((resolve) => {
        calls.push({ texts, settle: () => resolve(fakeResult(texts)) });
      }),
  };
}

describe('coalescer: eager mode', () => {
  test('a lone call runs at once; calls arriving while it runs go together as soon as it ends, not after the window', async () => {
    const runner = manualRunner();
    // A window of 10 minutes: anything that runs before the test ends was not sent by the timer.
    const c = new Coalescer(runner.run, 600_000, 2048, true);
    const first = c.embed(['a']);
    expect(runner.calls.map((x) => x.texts)).toEqual([['a']]);
    const second = c.embed(['b']);
    const third = c.embed(['c', 'd']);
    expect(runner.calls).toHaveLength(1);
    runner.calls[0]?.settle();
    expect((await first).items).toHaveLength(1);
    expect(runner.calls.map((x) => x.texts)).toEqual([['a'], ['b', 'c', 'd']]);
    runner.calls[1]?.settle();
    const [r2, r3] = await Promise.all([second, third]);
    expect(Array.from(r2.vectors)).toEqual([0, 1]);
    expect(Array.from(r3.vectors)).toEqual([2, 3, 4, 5]);
    expect(c.sharedCalls).toBe(2);
  });

  test('without eager mode the first call waits for the window (or a full group)', async () => {
    const runner = manualRunner();
    const c = new Coalescer(runner.run, 600_000, 3, false);
    const a = c.embed(['a']);
    const b = c.embed(['b']);
    expect(runner.calls).toHaveLength(0);
    const d = c.embed(['c']);
    expect(runner.calls.map((x) => x.texts)).toEqual([['a', 'b', 'c']]);
    runner.calls[0]?.settle();
    expect((await Promise.all([a, b, d])).map((r) => r.items.length)).toEqual([1, 1, 1]);
  });
});

describe('local model: coalescing on by default', () => {
  const engines: Engine[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close();
  });

  test('1,000 concurrent embedOne calls on glove-100d become a few pool batches; each caller gets the vector a batched call gives', async () => {
    const e = await Engine.create({ workers: 1, cacheDir: kTestCacheDir, backend: 'wasm' }, { env: {} });
    engines.push(e);
    const texts = Array.from({ length: 1000 }, (_, i) => `the ${['cat', 'dog', 'river', 'house', 'tree'][i % 5]} number ${i}`);
    const batched = await e.embed(texts);
    const before = e.metrics().batches;
    const singles = await Promise.all(texts.map((t) => e.embedOne(t)));
    expect(e.metrics().batches - before).toBeLessThanOrEqual(8);
    expect(singles).toHaveLength(1000);
    singles.forEach((s, i) => {
      expect(s.item.state).toBe('ok');
      const want = batched.vectors.subarray(i * batched.dims, (i + 1) * batched.dims);
      for (let d = 0; d < batched.dims; d += 17) expect(s.vector[d]).toBeCloseTo(want[d] as number, 5);
    });
    const off = await Engine.create({ workers: 1, cacheDir: kTestCacheDir, backend: 'wasm', coalesceMs: 0 }, { env: {} });
    engines.push(off);
    const offBefore = off.metrics().batches;
    await Promise.all(texts.slice(0, 50).map((t) => off.embedOne(t)));
    expect(off.metrics().batches - offBefore).toBe(50);
  });
});
