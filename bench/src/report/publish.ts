/**
 * `npm run bench:publish -- REPORT_DIR`: publishes a report into the
 * repository, so that every figure the README quotes comes from a report:
 *   - its SVG charts are copied into `docs/bench/` (reports/ is not committed);
 *   - the headline block (`<!-- bench:headline:start -->` …
 *     `<!-- bench:headline:end -->`) is replaced by the run's conditions,
 *     its headline ratio table and a chart, when the run holds every suite
 *     of `all` (a partial run would drop the other suites' ratios);
 *   - each suite block (`<!-- bench:suite:NAME:start -->` …
 *     `<!-- bench:suite:NAME:end -->`) of a suite the run holds is replaced
 *     by that suite's tables, with the run's conditions;
 *   - each inline value, `<!-- bench:value {"suite":…,"figure":…,"as":…} -->TEXT<!-- /bench:value -->`,
 *     of a suite the run holds gets TEXT from that figure (`as`: `value`
 *     (the number and its unit), `ms-per` (1000 / a rate, in ms),
 *     `percent` ((ratio − 1) × 100, signed, with %)).
 * Blocks and values of suites the run does not hold are left as they are.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { kSuites } from '../main.js';
import { describeConditions, formatNumber, renderHeadline } from './report.js';
import { parseReportDocument, type ReportDocument } from './schema.js';
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
  /** The suites a full run holds; the headline is rewritten only from a run holding all of them. @default the suites of `all` */
  readonly allSuites?: readonly string[];
}

/** What {@link publishReport} did. */
export interface Published {
  readonly readme: string;
  readonly charts: readonly string[];
  /** Whether the headline block was rewritten. */
  readonly headline: boolean;
  /** The suite blocks rewritten. */
  readonly blocks: readonly string[];
  /** How many inline values were rewritten. */
  readonly values: number;
}

/**
 * Replaces the text between `<!-- bench:ID:start -->` and `<!-- bench:ID:end -->`.
 * @param readme - the README text.
 * @param id - the block id (`headline`, `suite:index`).
 * @param block - the new block (without markers).
 * @returns the new README text.
 * @throws {RangeError} when the markers are missing or out of order.
 */
export function replaceBlock(readme: string, id: string, block: string): string {
  const startMarker = `<!-- bench:${id}:start -->`;
  const endMarker = `<!-- bench:${id}:end -->`;
  const start = readme.indexOf(startMarker);
  const end = readme.indexOf(endMarker);
  if (start < 0 || end < start) throw new RangeError(`the README has no ${startMarker} … ${endMarker} block`);
  return `${readme.slice(0, start + startMarker.length)}\n${block.trim()}\n${readme.slice(end)}`;
}

/**
 * Replaces the text between the headline markers.
 * @param readme - the README text.
 * @param block - the new block (without markers).
 * @returns the new README text.
 * @throws {RangeError} when the markers are missing or out of order.
 */
export function replaceHeadlineBlock(readme: string, block: string): string {
  return replaceBlock(readme, 'headline', block);
}

/** The suite blocks a README holds, by suite name. */
export function suiteBlocks(readme: string): string[] {
  return [...readme.matchAll(/<!-- bench:suite:([a-z0-9-]+):start -->/g)].map((m) => m[1] ?? '');
}

/**
 * A suite's block: the run's conditions, then every table of the suite
 * (bold titles, not headings, so the README's outline stays its own).
 * @param document - the report.
 * @param suite - the suite name.
 * @returns Markdown.
 */
export function renderSuiteBlock(document: ReportDocument, suite: string): string {
  const fmt = (v: string | number | null): string => (v === null ? 'n/a' : typeof v === 'number' ? formatNumber(v) : v);
  const parts = [`From the run of ${describeConditions(document.conditions)} (\`npm run bench -- ${suite}\`, published by \`npm run bench:publish\`).`];
  for (const t of document.tables.filter((x) => x.suite === suite)) {
    const lines = [`**${t.title}**`, '', `| ${t.columns.join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`];
    for (const row of t.rows) lines.push(`| ${row.map(fmt).join(' | ')} |`);
    if (t.note !== undefined) lines.push('', t.note);
    parts.push(lines.join('\n'));
  }
  return parts.join('\n\n');
}

/** An inline value's spec. */
interface ValueSpec {
  readonly suite: string;
  readonly figure: string;
  readonly as?: 'value' | 'ms-per' | 'percent';
}

const kValue = /<!-- bench:value (\{.*?\}) -->([\s\S]*?)<!-- \/bench:value -->/g;

/**
 * Rewrites the inline values of the suites a run holds.
 * @param readme - the README text.
 * @param document - the report.
 * @returns the new text and how many values were rewritten.
 * @throws {RangeError} for a malformed spec, or a figure the run's suite did not record (a stale name).
 */
export function replaceValues(readme: string, document: ReportDocument): { text: string; count: number } {
  const ran = new Set(document.suites.filter((s) => s.state === 'ok').map((s) => s.name));
  let count = 0;
  const text = readme.replace(kValue, (whole, json: string) => {
    let spec: ValueSpec;
    try {
      spec = JSON.parse(json) as ValueSpec;
    } catch {
      throw new RangeError(`malformed bench:value spec ${json}`);
    }
    if (typeof spec.suite !== 'string' || typeof spec.figure !== 'string') throw new RangeError(`bench:value spec ${json} needs "suite" and "figure"`);
    if (!ran.has(spec.suite)) return whole;
    const f = document.figures.find((x) => x.suite === spec.suite && x.name === spec.figure);
    if (f === undefined) throw new RangeError(`the README quotes "${spec.figure}" of suite ${spec.suite}, which this run did not record`);
    const v = f.value;
    const shown =
      v === null
        ? 'n/a'
        : spec.as === 'ms-per'
          ? `${formatNumber(1000 / v)} ms`
          : spec.as === 'percent'
            ? `${v >= 1 ? '+' : '−'}${formatNumber(Math.abs(v - 1) * 100)}%`
            : `${formatNumber(v)}${f.unit === '×' ? '×' : ` ${f.unit}`}`;
    count++;
    return `<!-- bench:value ${json} -->${shown}<!-- /bench:value -->`;
  });
  return { text, count };
}

/**
 * Copies a report's charts into the docs directory and rewrites the
 * README's blocks and values that the report can fill.
 * @param options - the report directory, docs directory and README.
 * @returns what was written.
 * @throws {TypeError} when report.json does not match its schema.
 * @throws {RangeError} when the README has no headline markers, or quotes a figure the run did not record.
 */
export function publishReport(options: PublishOptions): Published {
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
  const relative = (file: string): string => `docs/bench/${file}`;
  let readme = readFileSync(readmePath, 'utf8');
  const ran = new Set(document.suites.filter((s) => s.state === 'ok').map((s) => s.name));
  // A suite skipped because another one recorded its figures in the same run (exchange, when embed ran) is held too.
  const held = (name: string): boolean => ran.has(name) || document.suites.some((s) => s.name === name && s.state === 'skipped' && document.figures.some((f) => f.suite === name));
  const headline = (options.allSuites ?? Object.keys(kSuites)).every(held);
  if (headline) {
    const shown = kReadmeCharts.map((id) => document.charts.find((c) => c.id === id)).filter((c) => c !== undefined);
    const block = [
      `Latest published run: ${describeConditions(document.conditions)}.`,
      '',
      renderHeadline(document) || '(no ratio figures in this run)',
      ...shown.slice(0, 1).map((c) => `![${c.title}](${relative(c.file)})`),
      '',
      `More charts: ${document.charts.map((c) => `[${c.title}](${relative(c.file)})`).join(' · ')}.`,
    ].join('\n');
    readme = replaceHeadlineBlock(readme, block);
  } else if (!readme.includes(kHeadlineMarkers.start)) {
    throw new RangeError(`the README has no ${kHeadlineMarkers.start} … ${kHeadlineMarkers.end} block`);
  }
  const blocks = suiteBlocks(readme).filter((s) => ran.has(s));
  for (const suite of blocks) {
    const chart = suite === 'index' ? document.charts.find((c) => c.id === 'recall-vs-qps') : undefined;
    readme = replaceBlock(readme, `suite:${suite}`, `${renderSuiteBlock(document, suite)}${chart === undefined ? '' : `\n\n![${chart.title}](${relative(chart.file)})`}`);
  }
  const values = replaceValues(readme, document);
  writeFileSync(readmePath, values.text);
  return { readme: readmePath, charts, headline, blocks, values: values.count };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const reportDir = process.argv[2];
  if (reportDir === undefined) {
    console.error('usage: npm run bench:publish -- REPORT_DIR');
    process.exitCode = 2;
  } else {
    try {
      const out = publishReport({ reportDir: resolve(reportDir) });
      console.log(
        `published ${out.charts.length} chart(s) into docs/bench; ${out.headline ? 'the headline' : 'not the headline (the run does not hold every suite)'}, ` +
          `suite blocks [${out.blocks.join(', ')}] and ${out.values} inline value(s) into ${out.readme}`,
      );
    } catch (error: unknown) {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    }
  }
}
