import { describe, expect, test } from 'vitest';
import { estimateTokens, planWindow, sortByLength } from '../src/scheduler/batcher.js';

describe('batcher', () => {
  test('sortByLength is a stable sort by length', () => {
    const lengths = Uint32Array.from([5, 3, 5, 0, 2000, 3]);
    expect(Array.from(sortByLength([0, 1, 2, 3, 4, 5], lengths))).toEqual([3, 1, 5, 0, 2, 4]);
  });

  test('batches respect the token budget and cover the window in length order', () => {
    const lengths = Uint32Array.from({ length: 100 }, (_, i) => ((i * 37) % 90) + 6);
    const items = Array.from({ length: 100 }, (_, i) => i);
    const order = new Uint32Array(120);
    const budget = 64;
    const batches = planWindow(items, lengths, order, 10, budget);
    expect(batches[0]?.start).toBe(10);
    expect(batches[batches.length - 1]?.end).toBe(110);
    for (let b = 1; b < batches.length; b++) expect(batches[b]?.start).toBe(batches[b - 1]?.end);
    for (const { start, end } of batches) {
      let tokens = 0;
      for (let j = start; j < end; j++) tokens += estimateTokens(lengths[order[j] ?? 0] ?? 0);
      // A batch exceeds the budget only when it holds a single item.
      expect(tokens <= budget || end - start === 1).toBe(true);
    }
    const placed = Array.from(order.subarray(10, 110));
    expect([...placed].sort((a, b) => a - b)).toEqual(items);
    for (let j = 1; j < placed.length; j++) expect(lengths[placed[j] ?? 0] ?? 0).toBeGreaterThanOrEqual(lengths[placed[j - 1] ?? 0] ?? 0);
  });
});
