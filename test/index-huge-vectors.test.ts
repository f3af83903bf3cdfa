/**
 * Finite vectors float32 cannot normalise: components near 1e38 (squared
 * norm Infinity) or below 1e-23 (squared norm 0). A cosine index stores
 * them as the unit vectors they point along, so they find themselves with
 * score ≈ 1; in l2 and ip, whose distances would overflow, they fail per item.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const kDims = 16;

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

function direction(i: number): Float32Array {
  return Float32Array.from({ length: kDims }, (_, d) => Math.sin(i * 13 + d * 7 + 1));
}

function scaled(v: Float32Array, by: number): Float32Array {
  return Float32Array.from(v, (x) => x * by);
}

describe('huge and tiny finite vectors', () => {
  test('cosine: a vector of components near ±1e38 and one near 1e-30 are stored along their direction and find themselves with score ≈ 1', async () => {
    const dir = join(tempDir(), 'idx');
    const index = await engine.createIndex({ dir, dims: kDims, space: 'cosine' });
    const huge = scaled(direction(100), 1e38);
    const tiny = scaled(direction(200), 1e-30);
    expect(huge.every((x) => Number.isFinite(x))).toBe(true);
    const items = [...Array.from({ length: 40 }, (_, i) => ({ id: `v${i}`, vector: direction(i) })), { id: 'huge', vector: huge }, { id: 'tiny', vector: tiny }];
    const out = await index.addBatch(items);
    expect(out.filter((o) => o.state === 'ok')).toHaveLength(42);
    for (const [id, query] of [
      ['huge', huge],
      ['huge', direction(100)],
      ['tiny', tiny],
      ['tiny', direction(200)],
    ] as const) {
      const hits = await index.search(query, { k: 3 });
      expect(hits).toHaveLength(3);
      expect(hits[0]?.id).toBe(id);
      expect(hits[0]?.score).toBeCloseTo(1, 5);
    }
    // The stored vector is the unit vector along the input.
    const stored = index.getVector('huge');
    const unit = direction(100);
    const n = Math.hypot(...unit);
    expect(stored).toHaveLength(kDims);
    for (const [d, x] of (stored ?? []).entries()) expect(x).toBeCloseTo((unit[d] ?? 0) / n, 5);
    const batch = await index.searchBatch([huge, tiny], { k: 1 });
    expect(batch.map((h) => [h[0]?.id, Math.round((h[0]?.score ?? 0) * 1e4) / 1e4])).toEqual([
      ['huge', 1],
      ['tiny', 1],
    ]);
    const flat = new Float32Array(2 * kDims);
    flat.set(huge);
    flat.set(tiny, kDims);
    expect((await index.searchBatch(flat, { k: 1 })).map((h) => h[0]?.id)).toEqual(['huge', 'tiny']);
    // Saved and reopened, still found.
    await index.save();
    await index.close();
    const reopened = await engine.openIndex(dir);
    expect((await reopened.search(huge, { k: 1 }))[0]).toMatchObject({ id: 'huge' });
    await reopened.close();
  });

  test.each(['l2', 'ip'] as const)('%s: a vector whose distances overflow float32 fails per item with NON_FINITE; a query like it is refused', async (space) => {
    const index = await engine.createIndex({ dir: join(tempDir(), 'idx'), dims: kDims, space });
    const huge = scaled(direction(100), 1e38);
    const out = await index.addBatch([
      { id: 'a', vector: direction(1) },
      { id: 'huge', vector: huge },
      { id: 'b', vector: scaled(direction(2), 1e15) },
    ]);
    expect(out.map((o) => o.state)).toEqual(['ok', 'failed', 'ok']);
    expect(out[1]).toMatchObject({ code: 'NON_FINITE', reason: expect.stringMatching(new RegExp(`^vector's squared norm .* is over 8\\.51e\\+37: its ${space} distances overflow float32`)) });
    await expect(index.search(huge, { k: 1 })).rejects.toThrow(/^query 0: vector's squared norm/);
    await expect(index.searchBatch([direction(1), huge], { k: 1 })).rejects.toThrow(/^query 1: vector's squared norm/);
    expect((await index.search(scaled(direction(2), 1e15), { k: 1 }))[0]?.id).toBe('b');
    await index.close();
  });
});
