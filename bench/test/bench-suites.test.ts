/**
 * The suite registry and the runner: every registered suite is a runner,
 * names resolve, unknown names are refused, and the smallest suite
 * (exchange, synthetic buffers, no data set) runs end to end into a valid
 * report. Figures are never judged here: only that they are recorded,
 * named and shaped as the report promises.
 */
import { describe, expect, test } from 'vitest';
import { kSuiteAliases, kSuites, runBench } from '../src/main.js';
import { checkReportDir } from '../src/report/check.js';
import { Report } from '../src/report/report.js';
import { kExchangeShapes, runExchangeSuite } from '../src/suites/exchange.js';
import type { SuiteContext } from '../src/suites/suite.js';
import { tempDir } from './helpers.js';

const kQuick: SuiteContext = { quick: true, dataDir: '/nonexistent', maxWorkers: 1 };

describe('bench suite names', () => {
  test('the registry is frozen and holds the seven suites, each a runner of (report, ctx)', () => {
    expect(Object.isFrozen(kSuites)).toBe(true);
    expect(Object.keys(kSuites)).toEqual(['embed', 'batch', 'exchange', 'index', 'pca', 'pca-index', 'reindex']);
    for (const [name, run] of Object.entries(kSuites)) {
      expect(run, name).toBeTypeOf('function');
      expect(run.length, name).toBe(2);
    }
  });

  test('every alias names a registered suite; search is the index suite', () => {
    expect(kSuiteAliases.search).toBe('index');
    for (const target of Object.values(kSuiteAliases)) expect(kSuites[target]).toBeTypeOf('function');
  });

  test('an unknown suite is refused before anything runs, naming every valid name', async () => {
    await expect(runBench({ suites: ['nope'] })).rejects.toThrow(
      new RangeError(`unknown suite "nope"; known: ${[...Object.keys(kSuites), ...Object.keys(kSuiteAliases)].join(', ')}, all; on demand: soak, scale-out`),
    );
  });
});

describe('the exchange suite', () => {
  test('records one overhead figure per mode and a clone/SAB ratio for every batch shape, and one table', async () => {
    const report = new Report({ quick: true });
    expect(await runExchangeSuite(report, kQuick)).toBeUndefined();
    const figures = report.figures.filter((f) => f.suite === 'exchange');
    expect(figures).toHaveLength(kExchangeShapes.length * 4);
    for (const [rows, dims] of kExchangeShapes) {
      const names = figures.filter((f) => f.conditions.rows === rows && f.conditions.dims === dims).map((f) => f.name);
      expect(names).toEqual([
        `exchange overhead ms: sab, ${rows}×${dims}`,
        `exchange overhead ms: transfer, ${rows}×${dims}`,
        `exchange overhead ms: clone, ${rows}×${dims}`,
        `ratio: clone / SAB exchange overhead per batch, ${rows}×${dims}`,
      ]);
    }
    for (const f of figures) expect(f.conditions.iterations, f.name).toBe(20);
    const tables = report.toDocument().tables.filter((t) => t.suite === 'exchange');
    expect(tables).toHaveLength(1);
    expect(tables[0]?.rows).toHaveLength(kExchangeShapes.length);
  });

  test('is skipped, with its reason, when the report already holds exchange figures', async () => {
    const report = new Report({ quick: true });
    report.figure({ suite: 'exchange', name: 'from the embed suite', value: 1, unit: 'ms', conditions: {} });
    expect(await runExchangeSuite(report, kQuick)).toEqual({ skipped: 'the embed suite already measured the exchange figures in this run' });
    expect(report.figures).toHaveLength(1);
  });

  test('runBench --quick --suite exchange writes a report that passes the report check', async () => {
    const dir = tempDir();
    const written = await runBench({ suites: ['exchange'], quick: true, reportDir: dir });
    expect(written.json.startsWith(dir)).toBe(true);
    const document = checkReportDir(dir, { suites: ['exchange'] });
    expect(document.suites.map((s) => [s.name, s.state])).toEqual([['exchange', 'ok']]);
    expect(document.conditions.quick).toBe(true);
    expect(document.figures.filter((f) => f.suite === 'exchange')).toHaveLength(kExchangeShapes.length * 4);
  });
});
