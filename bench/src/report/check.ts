/**
 * Checks a written benchmark report directory: report.json matches its
 * schema, no suite failed, every expected suite ran, and every chart is a
 * well-formed SVG file holding its plotted series. Used by the bench tests
 * and by CI's smoke run:
 *
 *   node bench/dist/report/check.js REPORT_DIR [--suites a,b,...|all] [--charts id,...] [--figures]
 *
 * `--suites all` requires every suite registered in kSuites (bench/src/main.ts).
 * `--figures` also requires every figure each suite that ran is expected
 * to record, finite, and the index suite's recall bounds (expected.ts).
 *
 * Speeds are never judged: a slow run is still a valid report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { planCharts } from './charts.js';
import { checkFigures, type FigureCheckOptions } from './expected.js';
import { parseReportDocument, type ReportDocument } from './schema.js';

/** What {@link checkSvg} found in an SVG document. */
export interface SvgSummary {
  /** The name of the root element. */
  readonly root: string;
  /** The text of every `<text>` element (titles, axis labels, legend entries). */
  readonly texts: readonly string[];
  /** Every `aria-label` attribute: vega writes one per data point, listing its fields. */
  readonly ariaLabels: readonly string[];
}

function collect(node: unknown, texts: string[], labels: string[], key = ''): void {
  if (Array.isArray(node)) {
    for (const item of node) collect(item, texts, labels, key);
    return;
  }
  if (node === null || typeof node !== 'object') {
    if (key === 'text' && node !== undefined) texts.push(String(node));
    return;
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === '@_aria-label') labels.push(String(v));
    else if (key === 'text' && k === '#text') texts.push(String(v));
    else collect(v, texts, labels, k);
  }
}

/**
 * Parses an SVG document as XML.
 * @param svg - the document text.
 * @returns its root element name, texts and aria labels.
 * @throws {Error} when the text is not well-formed XML or its root is not `<svg>`.
 */
export function checkSvg(svg: string): SvgSummary {
  const valid = XMLValidator.validate(svg);
  if (valid !== true) throw new Error(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', isArray: (name) => name === 'text' }).parse(svg) as Record<string, unknown>;
  const root = Object.keys(parsed).find((k) => !k.startsWith('?'));
  if (root !== 'svg') throw new Error(`the root element is <${root ?? 'none'}>, not <svg>`);
  const texts: string[] = [];
  const ariaLabels: string[] = [];
  collect(parsed['svg'], texts, ariaLabels);
  return { root, texts, ariaLabels };
}

/** Options of {@link checkReportDir}. */
export interface CheckReportOptions {
  /** Suites that must have run (state `ok` or `skipped`). @default [] */
  readonly suites?: readonly string[];
  /** Chart ids that must be present. @default [] */
  readonly charts?: readonly string[];
  /** Check the expected figures and recall bounds ({@link checkFigures}); options or true. @default false */
  readonly figures?: boolean | FigureCheckOptions;
}

/**
 * Checks a report directory.
 * @param dir - the directory holding report.json.
 * @param options - suites and charts that must be there.
 * @returns the parsed report, when every check passes.
 * @throws {Error} listing every problem found.
 */
export function checkReportDir(dir: string, options: CheckReportOptions = {}): ReportDocument {
  const problems: string[] = [];
  const jsonPath = join(dir, 'report.json');
  if (!existsSync(jsonPath)) throw new Error(`no report.json in ${dir}`);
  const document = parseReportDocument(JSON.parse(readFileSync(jsonPath, 'utf8')));
  for (const file of ['report.md', 'report.schema.json']) if (!existsSync(join(dir, file))) problems.push(`${file} is missing`);
  for (const s of document.suites) if (s.state === 'failed') problems.push(`suite ${s.name} failed: ${s.reason ?? ''}`);
  for (const name of options.suites ?? []) {
    if (!document.suites.some((s) => s.name === name && s.state !== 'failed')) problems.push(`suite ${name} did not run`);
  }
  // Every chart the figures allow must have been drawn, and listed.
  const expected = new Set([...planCharts(document.figures).map((p) => p.id), ...(options.charts ?? [])]);
  for (const id of expected) {
    const chart = document.charts.find((c) => c.id === id);
    if (chart === undefined) {
      problems.push(`chart ${id} is not in report.json`);
      continue;
    }
    const path = join(dir, chart.file);
    if (!existsSync(path)) {
      problems.push(`chart ${chart.file} is missing`);
      continue;
    }
    try {
      const svg = checkSvg(readFileSync(path, 'utf8'));
      for (const series of chart.series) if (!svg.texts.includes(series)) problems.push(`chart ${chart.file} does not name the series "${series}"`);
      const points = svg.ariaLabels.filter((l) => l.includes(': ') && !/^(X|Y)-axis|legend|^Title/i.test(l)).length;
      if (points < chart.points) problems.push(`chart ${chart.file} plots ${points} labelled marks, fewer than its ${chart.points} points`);
    } catch (error: unknown) {
      problems.push(`chart ${chart.file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (options.figures !== undefined && options.figures !== false) problems.push(...checkFigures(document, options.figures === true ? {} : options.figures));
  const md = existsSync(join(dir, 'report.md')) ? readFileSync(join(dir, 'report.md'), 'utf8') : '';
  for (const chart of document.charts) if (!md.includes(`](${chart.file})`)) problems.push(`report.md does not link ${chart.file}`);
  if (problems.length > 0) throw new Error(`report ${dir} has ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
  return document;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { suites: { type: 'string' }, charts: { type: 'string' }, figures: { type: 'boolean', default: false } } });
  const list = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(','));
  try {
    const dir = positionals[0];
    if (dir === undefined) throw new RangeError('usage: bench-report-check REPORT_DIR [--suites a,b|all] [--charts id,...] [--figures]');
    let suites = list(values.suites);
    if (suites.includes('all')) suites = Object.keys((await import('../main.js')).kSuites);
    const document = checkReportDir(dir, { suites, charts: list(values.charts), figures: values.figures === true });
    const seconds = document.suites.reduce((a, s) => a + s.durationMs, 0) / 1000;
    console.log(
      `report ok: ${document.figures.length} figures, ${document.tables.length} tables, charts ${document.charts.map((c) => c.file).join(', ')}; ` +
        `suites ${document.suites.map((s) => `${s.name} ${s.state} ${(s.durationMs / 1000).toFixed(1)} s`).join(', ')} (${seconds.toFixed(1)} s in suites)`,
    );
  } catch (error: unknown) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
