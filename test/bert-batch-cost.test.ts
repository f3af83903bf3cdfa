import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { bertBatchCost } from '../src/models/bert/definition.js';
import { planWindow } from '../src/scheduler/batcher.js';
import { writeTinyBert } from './bert-fixtures.js';
import { kTestCacheDir } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'vecforge-bert-cost-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('padded batch cost', () => {
  // all-MiniLM-L6-v2's shape: attention matches the projections and FFN at 2·384 + 1536 = 2304 tokens.
  const miniLm = bertBatchCost({ hiddenSize: 384, intermediateSize: 1536 }, (t) => t.length);

  test('counts rows × longest, weighted by attention\'s length² share', () => {
    expect(miniLm.cost(1, 10)).toBeCloseTo(10 * (1 + 10 / 2304), 9);
    expect(miniLm.cost(8, 256)).toBeCloseTo(8 * 256 * (1 + 256 / 2304), 9);
    // Twice the length costs more than twice: the length² term.
    expect(miniLm.cost(1, 512) / miniLm.cost(1, 256)).toBeGreaterThan(2.05);
  });

  test('planWindow cuts sorted token lengths by padded cost, never past the budget but for a lone item', () => {
    const tokens = Uint32Array.from({ length: 200 }, (_, i) => 3 + ((i * 53) % 300));
    const items = Array.from({ length: 200 }, (_, i) => i);
    const order = new Uint32Array(205);
    const budget = 4096;
    const batches = planWindow(items, tokens, order, 5, budget, 1, (rows, longest) => miniLm.cost(rows, longest));
    expect(batches.length).toBeGreaterThan(1);
    expect(batches[0]?.start).toBe(5);
    expect(batches[batches.length - 1]?.end).toBe(205);
    for (let b = 1; b < batches.length; b++) expect(batches[b]?.start).toBe(batches[b - 1]?.end);
    for (const { start, end } of batches) {
      let longest = 0;
      for (let j = start; j < end; j++) longest = Math.max(longest, tokens[order[j] ?? 0] ?? 0);
      expect(miniLm.cost(end - start, longest) <= budget || end - start === 1).toBe(true);
      // Greedy: one more item would not have fitted.
      if (end < 205) expect(miniLm.cost(end - start + 1, tokens[order[end] ?? 0] ?? 0)).toBeGreaterThan(budget);
    }
    const placed = Array.from(order.subarray(5, 205));
    expect([...placed].sort((a, b) => a - b)).toEqual(items);
    for (let j = 1; j < placed.length; j++) expect(tokens[placed[j] ?? 0]).toBeGreaterThanOrEqual(tokens[placed[j - 1] ?? 0] ?? 0);
  });

  test('a costed window far below the budget is spread over up to 8 batches a worker, none cut below 1,024 of cost', () => {
    const cost = (rows: number, longest: number): number => miniLm.cost(rows, longest);
    const big = Uint32Array.from({ length: 2000 }, (_, i) => 8 + (i % 30));
    const total = Array.from(big).reduce((a, t) => a + cost(1, t), 0);
    const spread = planWindow(Array.from({ length: 2000 }, (_, i) => i), big, new Uint32Array(2000), 0, 1_000_000, 2, cost);
    // 16 batches of equal cost (a batch may close one item early, so one more at most).
    expect(spread.length).toBeGreaterThanOrEqual(16);
    expect(spread.length).toBeLessThanOrEqual(17);
    // A window of about 3 × 1,024 of cost: 3 batches, not 16 tiny ones.
    const small = Uint32Array.from({ length: 160 }, () => 20);
    const smallTotal = 160 * cost(1, 20);
    expect(smallTotal).toBeGreaterThan(3 * 1024);
    expect(smallTotal).toBeLessThan(4 * 1024);
    const cut = planWindow(Array.from({ length: 160 }, (_, i) => i), small, new Uint32Array(160), 0, 1_000_000, 2, cost);
    expect(cut.length).toBeGreaterThanOrEqual(3);
    expect(cut.length).toBeLessThanOrEqual(4);
    expect(total).toBeGreaterThan(16 * 1024);
  });

  test('minBatches splits a window smaller than the budget', () => {
    const tokens = Uint32Array.from({ length: 10 }, () => 20);
    const batches = planWindow(Array.from({ length: 10 }, (_, i) => i), tokens, new Uint32Array(10), 0, 1_000_000, 2, (rows, longest) => miniLm.cost(rows, longest));
    expect(batches).toEqual([{ start: 0, end: 5 }, { start: 5, end: 10 }]);
  });
});

describe('the engine cuts a BERT model\'s batches by real token counts', () => {
  test('60 one-word texts of 3 tokens each make 3 batches of 20 under a budget of 64', async () => {
    // Tiny model: hidden 16, FFN 32, so a 3-token row costs 3 · (1 + 3/64) and 20 rows fit 64.
    // The UTF-16 estimate (2 tokens for "a") would have cut 32 + 28.
    const model = writeTinyBert(join(root, 'm'), { seed: 2 });
    const engine = await Engine.create({ model: model.dir, cacheDir: kTestCacheDir, workers: 1, backend: 'wasm', batchTokens: 64 });
    try {
      const before = engine.metrics().batches;
      const r = await engine.embed(Array.from({ length: 60 }, () => 'a'));
      expect(r.items.filter((i) => i.state === 'ok')).toHaveLength(60);
      expect(engine.metrics().batches - before).toBe(3);
    } finally {
      await engine.close();
    }
  });
});
