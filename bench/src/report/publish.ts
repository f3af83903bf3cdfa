/**
 * `npm run bench:publish -- REPORT_DIR`: publishes a report into the
 * repository: its SVG charts are copied into `docs/bench/` (reports/ is
 * not committed), and the README's headline block, between the markers
 * `<!-- bench:headline:start -->` and `<!-- bench:headline:end -->`, is
 * replaced by the run's conditions, its headline ratio table and a chart.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeConditions, renderHeadline } from './report.js';
import { parseReportDocument } from './schema.js';
import { repoRoot } from '../paths.js';

/** The README markers around the published block. */
export const kHeadlineMarkers = Object.freeze({ start: '<!-- bench:headline:start -->', end: '<!-- bench:headline:end -->' });

/** The chart the README shows, by preference. */
export const kReadmeCharts = Object.freeze(['recall-vs-qps', 'throughput-vs-batch-size', 'throughput-vs-workers']);

/** Options of {@link publishReport}. */
export interface PublishOptions {
  /** The report directory (holding report.json). */
  readonly reportDir: string;
  /** Where the charts are copied. @default <package>/docs/bench */
  readonly docsDir?: string;
  /** The README to update. @default <package>/README.md */
  readonly readme?: string;
}

/**
 * Replaces the text between the headline markers.
 * @param readme - the README text.
 * @param block - the new block (without markers).
 * @returns the new README text.
 * @throws {RangeError} when the markers are missing or out of order.
 */
export function replaceHeadlineBlock(readme: string, block: string): string {
  const start = readme.indexOf(kHeadlineMarkers.start);
  const end = readme.indexOf(kHeadlineMarkers.end);
  if (start < 0 || end < start) throw new RangeError(`the README has no ${kHeadlineMarkers.start} … ${kHeadlineMarkers.end} block`);
  return `${readme.slice(0, start + kHeadlineMarkers.start.length)}\n${block.trim()}\n${readme.slice(end)}`;
}

/**
 * Copies a report's charts into the docs directory and rewrites the
 * README's headline block.
 * @param options - the report directory, docs directory and README.
 * @returns the files written.
 * @throws {TypeError} when report.json does not match its schema.
 * @throws {RangeError} when the README has no headline markers.
 */
export function publishReport(options: PublishOptions): { readonly readme: string; readonly charts: readonly string[] } {
  const root = repoRoot();
  const docsDir = options.docsDir ?? join(root, 'docs', 'bench');
  const readmePath = options.readme ?? join(root, 'README.md');
  const document = parseReportDocument(JSON.parse(readFileSync(join(options.reportDir, 'report.json'), 'utf8')));
  mkdirSync(docsDir, { recursive: true });
  const charts = document.charts.map((c) => {
    const target = join(docsDir, c.file);
    copyFileSync(join(options.reportDir, c.file), target);
    return target;
  });
  const shown = kReadmeCharts.map((id) => document.charts.find((c) => c.id === id)).filter((c) => c !== undefined);
  const relative = (file: string): string => `docs/bench/${file}`;
  const block = [
    `Latest published run: ${describeConditions(document.conditions)}.`,
    '',
    renderHeadline(document) || '(no ratio figures in this run)',
    ...shown.slice(0, 1).map((c) => `![${c.title}](${relative(c.file)})`),
    '',
    `More charts: ${document.charts.map((c) => `[${c.title}](${relative(c.file)})`).join(' · ')}.`,
  ].join('\n');
  writeFileSync(readmePath, replaceHeadlineBlock(readFileSync(readmePath, 'utf8'), block));
  return { readme: readmePath, charts };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const reportDir = process.argv[2];
  if (reportDir === undefined) {
    console.error('usage: npm run bench:publish -- REPORT_DIR');
    process.exitCode = 2;
  } else {
    try {
      const out = publishReport({ reportDir: resolve(reportDir) });
      console.log(`published ${out.charts.length} chart(s) into docs/bench and the headline into ${out.readme}`);
    } catch (error: unknown) {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    }
  }
}
