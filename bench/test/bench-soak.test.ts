/**
 * The soak suite: its verdict arithmetic, and a short run through the
 * suite runner that samples RSS and fds and writes a report the check accepts.
 */
import { describe, expect, test } from 'vitest';
import { kOnDemandSuites, kSuites, runBench } from '../src/main.js';
import { checkReportDir } from '../src/report/check.js';
import { growthAfterWarmUp, median } from '../src/suites/soak.js';
import { tempDir } from './helpers.js';

describe('soak verdict', () => {
  test('median and growth after warm-up (last-third median minus first-third median)', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(growthAfterWarmUp([10, 10, 10, 11, 11, 11, 13, 13, 13])).toBe(3);
    expect(growthAfterWarmUp([5, 100, 5])).toBe(0);
    expect(growthAfterWarmUp([1, 2])).toBeNaN();
  });

  test('soak (and the other on-demand suites) run only when named: not part of all', () => {
    expect(Object.keys(kOnDemandSuites)).toEqual(expect.arrayContaining(['soak', 'embed-command', 'provider', 'serve', 'model', 'quality', 'scale-out']));
    expect(Object.keys(kSuites)).not.toContain('scale-out');
    expect(Object.keys(kSuites)).not.toContain('soak');
    expect(Object.keys(kSuites)).not.toContain('embed-command');
  });
});

describe('soak suite', () => {
  test('a 4 s soak samples RSS and fds, mixes every operation, and writes a valid report with the verdict figure', async () => {
    const dir = tempDir();
    await expect(runBench({ suites: ['soak'], quick: true, soakSeconds: 0.5 })).rejects.toThrow(new RangeError('--soak-seconds must be a positive integer, got 0.5'));
    const written = await runBench({ suites: ['soak'], quick: true, soakSeconds: 4, reportDir: dir });
    const doc = checkReportDir(dir, { suites: ['soak'] });
    expect(doc.suites).toEqual([expect.objectContaining({ name: 'soak', state: 'ok' })]);
    const names = doc.figures.filter((f) => f.suite === 'soak').map((f) => f.name);
    expect(names).toContain('soak: RSS growth after warm-up (last-third median − first-third median)');
    expect(names).toContain('soak: open file descriptor growth after warm-up');
    const table = doc.tables.find((t) => t.suite === 'soak');
    expect(table?.columns).toEqual(['seconds', 'RSS MiB', 'heap MiB', 'open fds', 'searches', 'upserts', 'deletes', 'saves']);
    const rows = table?.rows ?? [];
    // A sample a second, plus the first and the last.
    expect(rows.length).toBeGreaterThanOrEqual(4);
    const last = rows[rows.length - 1] ?? [];
    expect(Number(last[1])).toBeGreaterThan(0);
    expect(Number(last[3])).toBeGreaterThan(0);
    for (const col of [4, 5, 6, 7]) expect(Number(last[col])).toBeGreaterThan(0);
    expect(written.json).toBe(`${dir}/report.json`);
  });
});
