/**
 * The report checker's figure rules (CI's `check.js --figures`): every
 * expected figure of a suite that ran, finite; the index suite's recall
 * floor and engine–native tolerance. And the addon flags the report
 * states (read from node-gyp's makefile) and the baseline copies.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { addonCompileFlags, matchAddonOptions } from '../src/native/build.js';
import { checkReportDir } from '../src/report/check.js';
import { checkFigures, kExpectedFigures, kIndexSides } from '../src/report/expected.js';
import { Report } from '../src/report/report.js';
import { tempDir } from './helpers.js';

const kEfs = [10, 20, 40, 80, 160, 320];

/** A report holding every figure the index suite must record; `recall(side, ef)` sets the recall figures. */
function indexReport(recall: (side: string, ef: number) => number = (_side, ef) => 1 - 1 / ef, skip?: string): Report {
  const report = new Report({ quick: true });
  const conditions = { dataset: 'fixture', m: 16 };
  for (const want of kExpectedFigures['index'] ?? []) {
    if (typeof want !== 'string' || want === skip) continue;
    const m = /^recall@10 ef=(\d+): (\S+)$/.exec(want);
    const value = want.startsWith('recall@10 gap ') ? 0 : m === null ? 123 : recall(m[2] ?? '', Number(m[1]));
    report.figure({ suite: 'index', name: want, value, unit: m === null ? 'x' : 'recall', conditions });
  }
  report.suite({ name: 'index', state: 'ok', durationMs: 1 });
  return report;
}

describe('checkFigures', () => {
  test('a complete index report passes, and lists every side at every ef', () => {
    expect(checkFigures(indexReport().toDocument())).toEqual([]);
    const names = (kExpectedFigures['index'] ?? []).filter((w): w is string => typeof w === 'string');
    for (const side of Object.keys(kIndexSides)) for (const ef of kEfs) expect(names).toContain(`recall@10 ef=${ef}: ${side}`);
  });

  test('a missing figure is named', () => {
    const problems = checkFigures(indexReport(undefined, 'load seconds: usearch load').toDocument());
    expect(problems).toEqual(['suite index: no figure load seconds: usearch load']);
  });

  test('a NaN or infinite figure fails (written as null)', () => {
    const report = indexReport();
    report.figure({ suite: 'index', name: 'ratio: engine build / usearch build', value: Number.NaN, unit: '×', conditions: {} });
    expect(checkFigures(report.toDocument())).toEqual(['suite index: figure "ratio: engine build / usearch build" is not a finite number (null)']);
  });

  test('recall below the floor at the largest ef fails, for any side', () => {
    const problems = checkFigures(indexReport((side, ef) => (side === 'usearch' && ef === 320 ? 0.5 : 0.95)).toDocument());
    expect(problems).toEqual(['suite index: recall@10 at ef=320 of usearch is 0.5, below the floor 0.9']);
    // A recall of 0 everywhere (a broken search) fails on every side, and the floor is configurable.
    expect(checkFigures(indexReport(() => 0).toDocument())).toHaveLength(4);
    expect(checkFigures(indexReport(() => 0.85).toDocument(), { recallFloor: 0.8 })).toEqual([]);
  });

  test('the engine more than 0.02 below native at any ef fails; above is a better graph, not a failure', () => {
    const problems = checkFigures(indexReport((side, ef) => (side === 'engine' && ef === 40 ? 0.93 : 0.96)).toDocument());
    expect(problems).toEqual(['suite index: recall@10 at ef=40: engine 0.9300 vs native 0.9600, more than 0.02 below']);
    expect(checkFigures(indexReport((side) => (side === 'engine' ? 0.945 : 0.96)).toDocument())).toEqual([]);
    expect(checkFigures(indexReport((side) => (side === 'engine' ? 0.99 : 0.95)).toDocument())).toEqual([]);
  });

  test("the engine's search off hnswlib's on its own graph by more than 0.005 fails", () => {
    const report = indexReport();
    report.figure({ suite: 'index', name: 'recall@10 gap ef=20: engine search − hnswlib-node search, same graph', value: 0.012, unit: 'recall', conditions: {} });
    expect(checkFigures(report.toDocument())).toEqual([
      "suite index: recall@10 gap ef=20: engine search − hnswlib-node search, same graph is 0.0120, more than 0.005: the engine's search does not match hnswlib's on its own graph",
    ]);
  });

  test('suites that failed or were skipped are not asked for figures; those that ran are', () => {
    const report = new Report({ quick: true });
    report.suite({ name: 'exchange', state: 'skipped', durationMs: 0, reason: 'measured by embed' });
    report.suite({ name: 'embed', state: 'ok', durationMs: 1 });
    report.figure({ suite: 'embed', name: 'ratio: 2 workers / 1 worker', value: 1.8, unit: '×', conditions: {} });
    const problems = checkFigures(report.toDocument());
    expect(problems.some((p) => p.startsWith('suite exchange'))).toBe(false);
    expect(problems).toEqual([
      'suite embed: no figure /^ratio: pooled 2 workers \\/ sequential per item, same kernel/',
      'suite embed: no figure ratio: peak RSS 2 workers / 1 worker',
    ]);
  });

  test('checkReportDir runs the figure rules only when asked', async () => {
    const dir = tempDir();
    const report = indexReport((side) => (side === 'engine' ? 0.5 : 0.99));
    await report.write(dir);
    expect(() => checkReportDir(dir)).not.toThrow();
    expect(() => checkReportDir(dir, { figures: true })).toThrow(/recall@10 at ef=320 of engine is 0.5, below the floor 0.9/);
  });
});

describe('addon compile flags', () => {
  const makefile = (flags: string[]): string =>
    `# node-gyp\nDEFS_Release := \\\n\t'-DNDEBUG'\n\nCFLAGS_Release := \\\n${flags.map((f) => `\t${f}`).join(' \\\n')}\n\n# C++\nCFLAGS_CC_Release := \\\n\t-std=gnu++17 \\\n\t-O3\n\nINCS_Release := \\\n\t-Ifoo\n`;

  test('reads -march and the code-generation flags the baseline copies', () => {
    const root = tempDir();
    mkdirSync(join(root, 'build'));
    writeFileSync(join(root, 'build', 'vecforge_hnsw.target.mk'), makefile(['-fPIC', '-Wall', '-O3', '-fomit-frame-pointer', '-march=x86-64-v3', '-m64']));
    const flags = addonCompileFlags(root);
    expect(flags).toEqual({ built: false, flags: ['-fPIC', '-Wall', '-O3', '-fomit-frame-pointer', '-march=x86-64-v3', '-m64', '-std=gnu++17', '-O3'], march: 'x86-64-v3', portable: false });
    expect(matchAddonOptions(flags)).toEqual({ marchNative: false, extraFlags: ['-fomit-frame-pointer', '-march=x86-64-v3'] });
  });

  test('a build without -march is the portable fallback, and the baseline gets none either', () => {
    const root = tempDir();
    mkdirSync(join(root, 'build'));
    writeFileSync(join(root, 'build', 'vecforge_hnsw.target.mk'), makefile(['-O3', '-fomit-frame-pointer']));
    const flags = addonCompileFlags(root);
    expect(flags.portable).toBe(true);
    expect(matchAddonOptions(flags)).toEqual({ marchNative: false, extraFlags: ['-fomit-frame-pointer'] });
    expect(addonCompileFlags(tempDir())).toEqual({ built: false, flags: [], march: undefined, portable: false });
  });

  test('this checkout: the addon is built and its makefile names -O3', () => {
    const flags = addonCompileFlags();
    expect(flags.built).toBe(true);
    expect(flags.flags).toContain('-O3');
  });
});
