/**
 * Ratios are computed only from paired figures: the same run, the same
 * dataset, comparable units.
 */
import { describe, expect, test } from 'vitest';
import { median } from '../src/measure.js';
import { Report, speedRatio } from '../src/report/report.js';

const data = { dataset: 'GloVe 20000 × 100' };

describe('speedRatio', () => {
  test('throughputs: subject / baseline', () => {
    const report = new Report();
    const engine = report.figure({ suite: 'index', name: 'inserts/s: engine', value: 4_500, unit: 'inserts/s', conditions: data });
    const native = report.figure({ suite: 'index', name: 'inserts/s: native', value: 5_000, unit: 'inserts/s', conditions: data });
    expect(speedRatio(engine, native)).toBeCloseTo(0.9);
  });

  test('times: baseline / subject, converting units, so above 1 still means faster', () => {
    const report = new Report();
    const engine = report.figure({ suite: 'pca', name: 'fit: engine', value: 2, unit: 's', conditions: data });
    const ml = report.figure({ suite: 'pca', name: 'fit: ml-pca', value: 50_000, unit: 'ms', conditions: data });
    expect(speedRatio(engine, ml)).toBeCloseTo(25);
    expect(speedRatio(ml, engine)).toBeCloseTo(0.04);
  });

  test('figures of two different runs are never paired', () => {
    const a = new Report().figure({ suite: 'index', name: 'q/s: engine', value: 10, unit: 'queries/s', conditions: data });
    const b = new Report().figure({ suite: 'index', name: 'q/s: native', value: 20, unit: 'queries/s', conditions: data });
    expect(() => speedRatio(a, b)).toThrow(/ratios are taken between figures of one run/);
  });

  test('different datasets are refused unless the caller says the values do not matter', () => {
    const report = new Report();
    const a = report.figure({ suite: 'pca', name: 'rows/s: engine', value: 10, unit: 'rows/s', conditions: { dataset: 'sample A' } });
    const b = report.figure({ suite: 'pca', name: 'rows/s: native', value: 40, unit: 'rows/s', conditions: { dataset: 'shape B' } });
    expect(() => speedRatio(a, b)).toThrow(/different datasets: sample A vs shape B/);
    expect(speedRatio(a, b, { sameDataset: false })).toBeCloseTo(0.25);
  });

  test('units that cannot be compared are refused', () => {
    const report = new Report();
    const rate = report.figure({ suite: 's', name: 'a', value: 1, unit: 'rows/s', conditions: data });
    const time = report.figure({ suite: 's', name: 'b', value: 1, unit: 's', conditions: data });
    const other = report.figure({ suite: 's', name: 'c', value: 1, unit: 'items/s', conditions: data });
    const bytes = report.figure({ suite: 's', name: 'd', value: 1, unit: 'bytes', conditions: data });
    expect(() => speedRatio(rate, time)).toThrow(/cannot compare "a" \(rows\/s\) with "b" \(s\)/);
    expect(() => speedRatio(rate, other)).toThrow(RangeError);
    expect(() => speedRatio(bytes, bytes)).toThrow(RangeError);
  });

  test('a missing or non-positive value gives NaN, never a made-up ratio', () => {
    const report = new Report();
    const zero = report.figure({ suite: 's', name: 'a', value: 0, unit: 'ms', conditions: data });
    const nan = report.figure({ suite: 's', name: 'b', value: Number.NaN, unit: 'ms', conditions: data });
    const one = report.figure({ suite: 's', name: 'c', value: 1, unit: 'ms', conditions: data });
    expect(speedRatio(zero, one)).toBeNaN();
    expect(speedRatio(one, nan)).toBeNaN();
  });
});

describe('native-bench ratio tables', () => {
  function indexAndPcaRun(withRawBuild: boolean): Report {
    const report = new Report();
    const index = { dataset: 'GloVe 20000 × 100', m: 16, threads: 2 };
    if (withRawBuild) {
      report.figure({ suite: 'index', name: 'inserts/s: engine build', value: 4_000, unit: 'inserts/s', conditions: index });
      report.figure({ suite: 'index', name: 'inserts/s: native build', value: 5_000, unit: 'inserts/s', conditions: index });
    }
    report.figure({ suite: 'index', name: 'ratio: engine build / native build', value: 0.8, unit: '×', conditions: index });
    for (const [ef, engine, native] of [[10, 30_000, 40_000], [40, 12_000, 16_000]] as const) {
      report.figure({ suite: 'index', name: `recall@10 ef=${ef}: engine`, value: 0.9, unit: 'recall', conditions: index });
      report.figure({ suite: 'index', name: `recall@10 ef=${ef}: native`, value: 0.89, unit: 'recall', conditions: index });
      report.figure({ suite: 'index', name: `queries/s ef=${ef}: engine single-query`, value: engine, unit: 'queries/s', conditions: index });
      report.figure({ suite: 'index', name: `queries/s ef=${ef}: native single-thread`, value: native, unit: 'queries/s', conditions: index });
    }
    const shape = { dataset: 'dense float32 4096×1536 · 1536×256' };
    report.figure({ suite: 'pca', name: 'rows/s: engine PcaProjector.project 4096×1536→256', value: 50_000, unit: 'rows/s', conditions: shape });
    report.figure({ suite: 'pca', name: 'rows/s: native matmul blocked 4096×1536→256, 1 thread', value: 200_000, unit: 'rows/s', conditions: shape });
    report.figure({ suite: 'pca', name: 'fit seconds: engine fitPca 20000×1536→256', value: 6, unit: 's', conditions: { dataset: 'sample' } });
    report.figure({ suite: 'pca', name: 'native covariance matmul seconds: blocked, 1 thread', value: 1.5, unit: 's', conditions: { dataset: 'shape' } });
    return report;
  }

  test('build, search and matmul ratios come from the paired figures of the run', async () => {
    const { ratioTables, renderRatioTables } = await import('../src/native/run.js');
    const tables = ratioTables(indexAndPcaRun(true).toDocument());
    expect(tables.map((t) => t.title)).toEqual(['build', 'search', 'matmul']);
    const [build, search, matmul] = tables;
    expect(build?.rows[0]).toMatchObject({ engine: 4_000, native: 5_000, unit: 'inserts/s' });
    expect(build?.rows[0]?.ratio).toBeCloseTo(0.8);
    expect(search?.rows.map((r) => r.ratio)).toEqual([0.75, 0.75]);
    expect(search?.rows[0]?.label).toBe('ef=10 (recall@10 engine 0.900, native 0.890)');
    expect(matmul?.rows.map((r) => r.ratio)).toEqual([0.25, 0.25]);
    expect(renderRatioTables(tables)).toContain('| ef=40 (recall@10 engine 0.900, native 0.890) | 12,000 | 16,000 | queries/s | 0.750× |');
  });

  test('without raw build figures the index suite\'s own ratio is shown', async () => {
    const { ratioTables } = await import('../src/native/run.js');
    const [build] = ratioTables(indexAndPcaRun(false).toDocument());
    expect(build?.rows[0]).toMatchObject({ engine: null, native: null, unit: '×', ratio: 0.8 });
  });

  test('a report without index or pca figures gives no table', async () => {
    const { ratioTables } = await import('../src/native/run.js');
    expect(ratioTables(new Report().toDocument())).toEqual([]);
  });
});

test('median of alternating rounds: middle value, mean of the middle two, NaN for none', () => {
  expect(median([0.3, 0.1, 0.2])).toBe(0.2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([])).toBeNaN();
});
