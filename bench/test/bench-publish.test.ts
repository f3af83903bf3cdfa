/**
 * Publishing a report copies its charts into docs/ and rewrites only the
 * README's headline block.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { kHeadlineMarkers, publishReport, renderSuiteBlock, replaceHeadlineBlock, replaceValues } from '../src/report/publish.js';
import { Report } from '../src/report/report.js';
import { addChartFigures } from './fixtures/bench-figures.js';
import { tempDir } from './helpers.js';

describe('bench:publish', () => {
  test('replaces the block between the markers and nothing else', () => {
    const readme = `# x\n\nbefore\n${kHeadlineMarkers.start}\nold\n${kHeadlineMarkers.end}\nafter\n`;
    expect(replaceHeadlineBlock(readme, 'new table')).toBe(`# x\n\nbefore\n${kHeadlineMarkers.start}\nnew table\n${kHeadlineMarkers.end}\nafter\n`);
    expect(() => replaceHeadlineBlock('# no markers', 'x')).toThrow(/has no <!-- bench:headline:start -->/);
  });

  test('copies the charts and writes the headline table and a chart link', async () => {
    const reportDir = tempDir('vecforge-publish-report-');
    const docsDir = tempDir('vecforge-publish-docs-');
    const readme = join(tempDir('vecforge-publish-readme-'), 'README.md');
    writeFileSync(readme, `# vecforge\n\n## Benchmarks\n\n${kHeadlineMarkers.start}\n${kHeadlineMarkers.end}\n\n## Development\n`);
    const report = new Report();
    addChartFigures(report);
    await report.write(reportDir);
    const out = publishReport({ reportDir, docsDir, readme, allSuites: [] });
    expect(out.headline).toBe(true);
    expect(out.charts.map((c) => c.slice(docsDir.length + 1))).toContain('recall-vs-qps.svg');
    for (const chart of out.charts) expect(existsSync(chart)).toBe(true);
    const text = readFileSync(readme, 'utf8');
    expect(text).toContain('| embed | 2 workers / 1 worker | 1.88 |');
    expect(text).toContain('![recall@10 vs queries/s](docs/bench/recall-vs-qps.svg)');
    expect(text).toMatch(/## Development\n$/);
  });

  test('a partial run leaves the headline alone and fills the blocks and values of its suites only', async () => {
    const reportDir = tempDir('vecforge-publish-report-');
    const readme = join(tempDir('vecforge-publish-readme-'), 'README.md');
    const q = (suite: string, figure: string, as: string): string => `<!-- bench:value {"suite":"${suite}","figure":"${figure}","as":"${as}"} -->old<!-- /bench:value -->`;
    const before = [
      '# vecforge',
      `${kHeadlineMarkers.start}\nold headline\n${kHeadlineMarkers.end}`,
      `one search: ${q('index', 'queries/s ef=40: engine single-query', 'ms-per')}; huge pages ${q('index', 'ratio: engine q/s huge pages on / off', 'percent')}; fit ${q('pca', 'ratio: x', 'value')}`,
      '<!-- bench:suite:index:start -->\nold index\n<!-- bench:suite:index:end -->',
      '<!-- bench:suite:pca-index:start -->\nold pca\n<!-- bench:suite:pca-index:end -->',
      '',
    ].join('\n');
    writeFileSync(readme, before);
    const report = new Report();
    addChartFigures(report);
    report.figure({ suite: 'index', name: 'ratio: engine q/s huge pages on / off', value: 1.081, unit: '×', conditions: {} });
    report.table({ suite: 'index', title: 'goals', columns: ['goal', 'measured'], rows: [['build ≥ 1.0× native', 0.93], ['broken', Number.NaN]], note: 'reported, never asserted' });
    report.suite({ name: 'index', state: 'ok', durationMs: 1 });
    await report.write(reportDir);
    const out = publishReport({ reportDir, docsDir: tempDir('vecforge-publish-docs-'), readme, allSuites: ['embed', 'index'] });
    expect(out).toMatchObject({ headline: false, blocks: ['index'], values: 2 });
    const text = readFileSync(readme, 'utf8');
    expect(text).toContain('old headline');
    expect(text).toContain('old pca');
    expect(text).not.toContain('old index');
    expect(text).toContain('**goals**\n\n| goal | measured |\n| --- | --- |\n| build ≥ 1.0× native | 0.930 |\n| broken | n/a |\n\nreported, never asserted');
    expect(text).toContain('![recall@10 vs queries/s](docs/bench/recall-vs-qps.svg)');
    // 15,000 q/s → 0.0667 ms; 1.081× → +8.1%; the pca value stays (no pca suite in this run).
    expect(text).toContain('"as":"ms-per"} -->0.0667 ms<!-- /bench:value -->');
    expect(text).toContain('"as":"percent"} -->+8.10%<!-- /bench:value -->');
    expect(text).toContain('"figure":"ratio: x","as":"value"} -->old<!-- /bench:value -->');
    // Publishing again gives the same text: the markers survive.
    publishReport({ reportDir, docsDir: tempDir('vecforge-publish-docs-'), readme, allSuites: ['embed', 'index'] });
    expect(readFileSync(readme, 'utf8')).toBe(text);
  });

  test('a suite skipped because another recorded its figures (exchange, when embed ran) still counts for the headline; one skipped without figures does not', async () => {
    const readme = join(tempDir('vecforge-publish-readme-'), 'README.md');
    const make = async (withFigures: boolean): Promise<string> => {
      const reportDir = tempDir('vecforge-publish-report-');
      const report = new Report();
      addChartFigures(report);
      report.figure({ suite: 'embed', name: 'ratio: 2 workers / 1 worker', value: 1.8, unit: '×', conditions: {} });
      if (withFigures) report.figure({ suite: 'exchange', name: 'ratio: clone / SAB exchange overhead per batch, 512×100', value: 5, unit: '×', conditions: {} });
      report.suite({ name: 'embed', state: 'ok', durationMs: 1 });
      report.suite({ name: 'exchange', state: 'skipped', durationMs: 0, reason: 'the embed suite already measured the exchange figures in this run' });
      await report.write(reportDir);
      return reportDir;
    };
    writeFileSync(readme, `# x
${kHeadlineMarkers.start}
old headline
${kHeadlineMarkers.end}
`);
    expect(publishReport({ reportDir: await make(false), docsDir: tempDir('vecforge-publish-docs-'), readme, allSuites: ['embed', 'exchange'] }).headline).toBe(false);
    expect(readFileSync(readme, 'utf8')).toContain('old headline');
    expect(publishReport({ reportDir: await make(true), docsDir: tempDir('vecforge-publish-docs-'), readme, allSuites: ['embed', 'exchange'] }).headline).toBe(true);
    expect(readFileSync(readme, 'utf8')).not.toContain('old headline');
  });

  test('a quoted figure the run did not record is an error, not a silent stale value', () => {
    const report = new Report();
    report.suite({ name: 'index', state: 'ok', durationMs: 1 });
    const readme = '<!-- bench:value {"suite":"index","figure":"renamed figure"} -->1<!-- /bench:value -->';
    expect(() => replaceValues(readme, report.toDocument())).toThrow(/quotes "renamed figure" of suite index, which this run did not record/);
    expect(() => replaceValues('<!-- bench:value {oops} -->1<!-- /bench:value -->', report.toDocument())).toThrow(/malformed bench:value spec/);
    expect(renderSuiteBlock(report.toDocument(), 'index')).toMatch(/^From the run of .*`npm run bench -- index`/);
  });
});
