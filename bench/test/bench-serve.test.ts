/**
 * The serve suite's parts that can be checked without a load run: it is on
 * demand only, and its Zipf draws are seeded and skewed as asked.
 */
import { describe, expect, test } from 'vitest';
import { kOnDemandSuites, kSuites } from '../src/main.js';
import { zipfDraws } from '../src/suites/serve.js';

describe('serve suite', () => {
  test('runs only when named: not part of all', () => {
    expect(kOnDemandSuites.serve).toBeTypeOf('function');
    expect(Object.keys(kSuites)).not.toContain('serve');
  });

  test('Zipf draws: seeded, in range, rank r drawn about (1/r^s)/H as often', () => {
    const a = zipfDraws(100, 1.1, 200_000, 7);
    expect(zipfDraws(100, 1.1, 200_000, 7)).toEqual(a);
    expect(a.every((r) => r < 100)).toBe(true);
    const counts = new Array<number>(100).fill(0);
    for (const r of a) counts[r] = (counts[r] ?? 0) + 1;
    let h = 0;
    for (let r = 1; r <= 100; r++) h += 1 / r ** 1.1;
    expect((counts[0] ?? 0) / a.length).toBeCloseTo(1 / h, 2);
    expect((counts[1] ?? 0) / a.length).toBeCloseTo(1 / 2 ** 1.1 / h, 2);
    expect((counts[9] ?? 0) / a.length).toBeCloseTo(1 / 10 ** 1.1 / h, 2);
  });
});
