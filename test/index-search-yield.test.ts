/**
 * Awaited inline searches let the event loop turn: a loop of them used to
 * run every search in microtasks, so no timer, I/O or pool reply got a turn.
 * Each test causes the event (an immediate, a pool reply) before the loop
 * and asserts that it happened within a bounded number of searches.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, type VectorIndex } from '../src/index.js';
import { kInlineSearchesPerTurn } from '../src/index/search.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const kDims = 8;

let engine: Engine;
let index: VectorIndex;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
  index = await engine.createIndex({ dir: join(tempDir(), 'idx'), dims: kDims });
  await index.addBatch(Array.from({ length: 200 }, (_, i) => ({ id: `v${i}`, vector: vector(i) })));
});
afterAll(async () => {
  await index.close();
  await engine.close();
});

function vector(i: number): Float32Array {
  return Float32Array.from({ length: kDims }, (_, d) => Math.sin(i * 5 + d));
}

describe('inline searches and the event loop', () => {
  test(`an immediate scheduled before a loop of awaited searches runs within ${kInlineSearchesPerTurn + 1} of them`, async () => {
    const q = vector(3);
    // Searches small enough to run inline (ef × dims far under the inline budget).
    let ranAfter = -1;
    let searches = 0;
    setImmediate(() => {
      ranAfter = searches;
    });
    for (let i = 0; i < 4 * kInlineSearchesPerTurn; i++) {
      const hits = await index.search(q, { k: 1, ef: 16 });
      expect(hits).toHaveLength(1);
      searches++;
    }
    expect(ranAfter).toBeGreaterThanOrEqual(0);
    expect(ranAfter).toBeLessThanOrEqual(kInlineSearchesPerTurn + 1);
  });

  test('an addBatch waiting for a pool reply completes while a loop of awaited searches runs', async () => {
    const q = vector(5);
    let done = false;
    const adding = index.addBatch([{ id: 'late', vector: vector(1000) }]).then((out) => {
      done = true;
      return out;
    });
    let searches = 0;
    // Bounded: before the fix it never completed within the loop.
    while (!done && searches < 200_000) {
      await index.search(q, { k: 1, ef: 16 });
      searches++;
    }
    expect(done).toBe(true);
    expect(await adding).toEqual([{ state: 'ok', id: 'late' }]);
  });
});
