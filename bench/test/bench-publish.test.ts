/**
 * Publishing a report copies its charts into docs/ and rewrites only the
 * README's headline block.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { kHeadlineMarkers, publishReport, replaceHeadlineBlock } from '../src/report/publish.js';
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
    const out = publishReport({ reportDir, docsDir, readme });
    expect(out.charts.map((c) => c.slice(docsDir.length + 1))).toContain('recall-vs-qps.svg');
    for (const chart of out.charts) expect(existsSync(chart)).toBe(true);
    const text = readFileSync(readme, 'utf8');
    expect(text).toContain('| embed | 2 workers / 1 worker | 1.88 |');
    expect(text).toContain('![recall@10 vs queries/s](docs/bench/recall-vs-qps.svg)');
    expect(text).toMatch(/## Development\n$/);
  });
});
