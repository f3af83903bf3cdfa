/**
 * Many searches in flight while writes, deletes and saves run on the same
 * index lose nothing: every write acknowledged is there afterwards, in the
 * index and in the version it saved, and no search fails.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { gloveRows, kTestCacheDir, row, tempDir } from './helpers.js';

const kSearchers = 20;
const kSearchesEach = 25;
const kBatches = 8;
const kBatchItems = 100;

describe('concurrent searches with writes', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ workers: 2, cacheDir: kTestCacheDir });
  });
  afterAll(async () => {
    await engine.close();
  });

  test(`${kSearchers} search loops beside ${kBatches} add/delete/save rounds: nothing acknowledged is lost`, async () => {
    const total = 1000 + kBatches * kBatchItems;
    const vectors = gloveRows(total);
    const dir = join(tempDir(), 'idx');
    const index = await engine.createIndex({ dir, space: 'cosine' });
    const item = (i: number) => ({ id: `w${i}`, vector: row(vectors, 100, i) });
    await index.addBatch(Array.from({ length: 1000 }, (_, i) => item(i)));

    const searchErrors: unknown[] = [];
    let searches = 0;
    let short = 0;
    const searchers = Array.from({ length: kSearchers }, async (_, s) => {
      for (let q = 0; q < kSearchesEach; q++) {
        try {
          const hits = await index.search(row(vectors, 100, (s * kSearchesEach + q) % 1000), { k: 5 });
          // A search racing a delete may drop the deleted hit without a replacement (fewer than k): never none.
          expect(hits.length).toBeGreaterThan(0);
          expect(hits.length).toBeLessThanOrEqual(5);
          if (hits.length < 5) short++;
          searches++;
        } catch (error) {
          searchErrors.push(error);
        }
      }
    });
    const deleted = new Set<string>();
    const writer = (async () => {
      for (let b = 0; b < kBatches; b++) {
        const from = 1000 + b * kBatchItems;
        const outcomes = await index.addBatch(Array.from({ length: kBatchItems }, (_, i) => item(from + i)));
        expect(outcomes.filter((o) => o.state === 'ok')).toHaveLength(kBatchItems);
        const gone = [`w${b * 7}`, `w${from + 3}`];
        await index.delete(gone);
        for (const id of gone) deleted.add(id);
        if (b % 3 === 2) await index.save();
      }
    })();
    await Promise.all([...searchers, writer]);

    expect(searchErrors).toEqual([]);
    expect(searches).toBe(kSearchers * kSearchesEach);
    // Only searches that overlapped one of the 2 × kBatches deletes can come back short.
    expect(short).toBeLessThan(searches / 2);
    expect(index.count).toBe(total - deleted.size);
    for (let i = 0; i < total; i++) {
      const id = `w${i}`;
      expect(index.get(id) === undefined, id).toBe(deleted.has(id));
    }
    // Every live item finds itself first.
    const live = Array.from({ length: total }, (_, i) => i).filter((i) => !deleted.has(`w${i}`));
    const hits = await index.searchBatch(live.map((i) => row(vectors, 100, i)), { k: 1 });
    expect(hits).toHaveLength(live.length);
    expect(hits.filter((h, j) => h[0]?.id !== `w${live[j]}`).length).toBeLessThanOrEqual(live.length * 0.01);
    await index.save();
    await index.close();

    const reopened = await engine.openIndex(dir);
    expect(reopened.count).toBe(total - deleted.size);
    expect(reopened.ids().sort()).toEqual(live.map((i) => `w${i}`).sort());
    await reopened.close();
  });
});
