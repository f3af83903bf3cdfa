/**
 * Ratios are computed only from paired figures: the same run, the same
 * dataset, comparable units.
 */
import { describe, expect, test } from 'vitest';
import { Report, speedRatio } from '../src/bench/report.js';

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
