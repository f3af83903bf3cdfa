/**
 * A benchmark report: tables for people (report.md), SVG charts next to it,
 * and every figure with its conditions for machines (report.json, checked
 * against the schema in schema.ts, which is also written out as
 * report.schema.json).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { resolveBackend } from '../internals.js';
import { writeCharts } from './charts.js';
import {
  kReportFormatVersion,
  kReportSchemaName,
  parseReportDocument,
  reportJsonSchema,
  type ConditionValue,
  type ReportChart,
  type ReportDocument,
  type ReportFigure,
  type RunConditions,
  type SuiteOutcome,
} from './schema.js';

export type { RunConditions, ReportDocument, ReportFigure, SuiteOutcome } from './schema.js';

/** One figure as a suite records it: a value, its unit and what it was measured on. */
export interface Figure {
  readonly suite: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /**
   * The figure's own conditions. `dataset` (a string) names the data, and
   * `backend` (a string) the TF.js backend when the suite pinned one; every
   * other entry is a parameter (sizes, ef, threads, iterations).
   */
  readonly conditions: Readonly<Record<string, ConditionValue>>;
}

/** A figure as the report holds it: the suite's figure plus when it was recorded. */
export interface RecordedFigure extends Figure {
  /** When it was recorded, ISO 8601. */
  readonly date: string;
}

/** A table of a suite. */
export interface Table {
  readonly suite: string;
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>;
  readonly note?: string;
}

/** Options of {@link runConditions} and the {@link Report} constructor. */
export interface RunConditionsOptions {
  /** Whether this is a `--quick` run. @default false */
  readonly quick?: boolean;
}

/** The paths {@link Report.write} wrote. */
export interface WrittenReport {
  readonly md: string;
  readonly json: string;
  /** report.schema.json, the JSON Schema of report.json. */
  readonly schema: string;
  /** The SVG charts, absolute paths. */
  readonly charts: readonly string[];
}

function gitCommit(): string | null {
  const result = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const out = result.status === 0 ? result.stdout.trim() : '';
  return /^[0-9a-f]{40}$/.test(out) ? out : null;
}

function defaultBackend(): string {
  try {
    return resolveBackend('auto');
  } catch {
    return 'none';
  }
}

/**
 * Describes this machine and run.
 * @param options - whether the run is quick.
 * @returns the conditions.
 */
export function runConditions(options: RunConditionsOptions = {}): RunConditions {
  return {
    cpuModel: cpus()[0]?.model.trim() || 'unknown',
    cores: Math.max(1, cpus().length),
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    tfBackend: defaultBackend(),
    date: new Date().toISOString(),
    commit: gitCommit(),
    quick: options.quick ?? false,
  };
}

/**
 * Turns a recorded figure into its report.json form: the run's machine
 * conditions, the figure's dataset, backend and parameters, non-finite
 * values as null.
 * @param figure - the recorded figure.
 * @param run - the run conditions.
 * @param runId - the run's id.
 * @returns the report.json figure.
 */
export function toReportFigure(figure: RecordedFigure, run: RunConditions, runId: string): ReportFigure {
  const { dataset, backend, tfBackend } = figure.conditions;
  const pinned = typeof tfBackend === 'string' ? tfBackend : typeof backend === 'string' ? backend : undefined;
  const parameters: Record<string, ConditionValue> = {};
  for (const [key, value] of Object.entries(figure.conditions)) {
    const promoted = key === 'dataset' || ((key === 'backend' || key === 'tfBackend') && typeof value === 'string');
    if (!promoted) parameters[key] = value;
  }
  return {
    suite: figure.suite,
    name: figure.name,
    value: Number.isFinite(figure.value) ? figure.value : null,
    unit: figure.unit,
    conditions: {
      cpuModel: run.cpuModel,
      cores: run.cores,
      memoryBytes: run.memoryBytes,
      node: run.node,
      platform: run.platform,
      tfBackend: pinned ?? run.tfBackend,
      dataset: typeof dataset === 'string' ? dataset : dataset === undefined ? null : String(dataset),
      parameters,
      date: figure.date,
      runId,
    },
  };
}

/** Options of {@link speedRatio}. */
export interface SpeedRatioOptions {
  /** Require both figures to name the same dataset. @default true */
  readonly sameDataset?: boolean;
}

/** Units of throughput: more is faster. */
const kRateUnit = /\/s$/;
/** Units of time, to seconds: less is faster. */
const kTimeUnits: Readonly<Record<string, number>> = Object.freeze({ s: 1, ms: 1e-3, 'µs': 1e-6, us: 1e-6, ns: 1e-9 });

/**
 * How many times faster `subject` is than `baseline`, from two figures of
 * the same run: a/b for throughputs (units ending in `/s`), b/a for times
 * (`s`, `ms`, `µs`, `ns`, converted first). Above 1 the subject is faster.
 * Only paired figures are compared: both must come from one run (same
 * `runId`), on the same dataset (unless `options.sameDataset` is false),
 * in compatible units.
 * @param subject - the figure being judged (e.g. the engine).
 * @param baseline - the reference (e.g. native code).
 * @param options - `sameDataset: false` allows different datasets, for a
 *   baseline whose time does not depend on the values (a dense matmul of
 *   the same shapes); the caller says so in the ratio's conditions.
 * @returns the speed ratio; NaN when either value is null or not positive.
 * @throws {RangeError} when the figures come from different runs or datasets, or their units cannot be compared.
 */
export function speedRatio(subject: ReportFigure, baseline: ReportFigure, options: SpeedRatioOptions = {}): number {
  if (subject.conditions.runId !== baseline.conditions.runId) {
    throw new RangeError(
      `ratios are taken between figures of one run: "${subject.name}" is from run ${subject.conditions.runId}, "${baseline.name}" from run ${baseline.conditions.runId}`,
    );
  }
  if ((options.sameDataset ?? true) && subject.conditions.dataset !== baseline.conditions.dataset) {
    throw new RangeError(`"${subject.name}" and "${baseline.name}" were measured on different datasets: ${subject.conditions.dataset} vs ${baseline.conditions.dataset}`);
  }
  const a = subject.value;
  const b = baseline.value;
  const bad = a === null || b === null || !(a > 0) || !(b > 0);
  if (kRateUnit.test(subject.unit) && subject.unit === baseline.unit) return bad ? Number.NaN : a / b;
  const sa = kTimeUnits[subject.unit];
  const sb = kTimeUnits[baseline.unit];
  if (sa !== undefined && sb !== undefined) return bad ? Number.NaN : (b * sb) / (a * sa);
  throw new RangeError(`cannot compare "${subject.name}" (${subject.unit}) with "${baseline.name}" (${baseline.unit}): units must be the same rate (x/s) or both times (s, ms, µs, ns)`);
}

/** Collects tables and figures, then writes them. */
export class Report {
  /** Figures in the order recorded. */
  readonly figures: RecordedFigure[] = [];
  /** Tables in the order recorded. */
  readonly tables: Table[] = [];
  /** How each suite ended, in run order. */
  readonly suites: SuiteOutcome[] = [];
  /** The machine and run. */
  readonly conditions: RunConditions;
  /** Identifies this run: every figure carries it, and ratios are taken only within one run. */
  readonly runId: string = randomUUID();

  /** @param options - whether the run is quick. */
  constructor(options: RunConditionsOptions = {}) {
    this.conditions = runConditions(options);
  }

  /**
   * Adds a figure.
   * @param figure - the figure.
   * @returns the figure in its report.json form (for {@link speedRatio}).
   */
  figure(figure: Figure): ReportFigure {
    const recorded: RecordedFigure = { ...figure, conditions: { ...figure.conditions }, date: new Date().toISOString() };
    this.figures.push(recorded);
    return toReportFigure(recorded, this.conditions, this.runId);
  }

  /**
   * Adds a table and prints it.
   * @param table - the table.
   */
  table(table: Table): void {
    this.tables.push(table);
    process.stdout.write(`\n${renderTable(table)}\n`);
  }

  /**
   * Records how a suite ended.
   * @param outcome - the suite's name, state, duration and reason.
   */
  suite(outcome: SuiteOutcome): void {
    this.suites.push(outcome);
  }

  /**
   * The report.json document.
   * @param charts - the charts written next to it.
   * @returns the document (not yet validated).
   */
  toDocument(charts: readonly ReportChart[] = []): ReportDocument {
    const cell = (v: string | number): string | number | null => (typeof v === 'number' && !Number.isFinite(v) ? null : v);
    return {
      $schema: './report.schema.json',
      schema: kReportSchemaName,
      version: kReportFormatVersion,
      runId: this.runId,
      conditions: this.conditions,
      suites: [...this.suites],
      figures: this.figures.map((f) => toReportFigure(f, this.conditions, this.runId)),
      tables: this.tables.map((t) => ({
        suite: t.suite,
        title: t.title,
        columns: [...t.columns],
        rows: t.rows.map((r) => r.map(cell)),
        ...(t.note !== undefined ? { note: t.note } : {}),
      })),
      charts: [...charts],
    };
  }

  /**
   * Writes the SVG charts, report.json (checked against its schema),
   * report.schema.json and report.md into `dir`.
   * @param dir - the report directory (created when missing).
   * @returns the paths written.
   * @throws {TypeError} when the document does not match its schema (the files are written first, for inspection).
   * @throws {Error} when a chart fails to render (report.json and report.md are written first, without it).
   */
  async write(dir: string): Promise<WrittenReport> {
    mkdirSync(dir, { recursive: true });
    let charts: ReportChart[] = [];
    let chartError: unknown;
    try {
      charts = await writeCharts(this.toDocument().figures, dir);
    } catch (error: unknown) {
      // The figures matter more than the pictures: write them, then report the failure.
      chartError = error;
    }
    const document = this.toDocument(charts);
    const json = join(dir, 'report.json');
    const schema = join(dir, 'report.schema.json');
    const md = join(dir, 'report.md');
    writeFileSync(json, `${JSON.stringify(document, null, 2)}\n`);
    writeFileSync(schema, `${JSON.stringify(reportJsonSchema(), null, 2)}\n`);
    writeFileSync(md, renderMarkdown(document));
    parseReportDocument(JSON.parse(JSON.stringify(document)));
    if (chartError !== undefined) throw new Error(`rendering the charts failed (report.json and report.md were written): ${chartError instanceof Error ? chartError.message : String(chartError)}`, { cause: chartError });
    return { md, json, schema, charts: charts.map((c) => join(dir, c.file)) };
  }
}

/**
 * The headline table: every `ratio: …` figure of the run, i.e. the figures
 * measured side by side in one run, the only kind DESIGN.md lets us quote.
 * @param document - the report document.
 * @returns the Markdown table, or an empty string when there is no ratio.
 */
export function renderHeadline(document: ReportDocument): string {
  const ratios = document.figures.filter((f) => f.name.startsWith('ratio: '));
  if (ratios.length === 0) return '';
  const lines = ['| suite | ratio, measured side by side in one run | × |', '| --- | --- | --- |'];
  for (const f of ratios) lines.push(`| ${f.suite} | ${f.name.slice('ratio: '.length)} | ${f.value === null ? 'n/a' : formatNumber(f.value)} |`);
  return `${lines.join('\n')}\n`;
}

/**
 * The one-line description of the machine and run.
 * @param c - the run conditions.
 * @returns text.
 */
export function describeConditions(c: RunConditions): string {
  const commit = c.commit === null ? '' : ` · commit ${c.commit.slice(0, 10)}`;
  return `${c.date} · ${c.cpuModel} · ${c.cores} cores · ${(c.memoryBytes / 2 ** 30).toFixed(0)} GiB · Node ${c.node} · ${c.platform} · TF.js ${c.tfBackend}${c.quick ? ' · quick run' : ''}${commit}`;
}

/**
 * Renders report.md: conditions, the headline ratios, the charts, how each
 * suite ended, then every table.
 * @param document - the report document.
 * @returns Markdown text.
 */
export function renderMarkdown(document: ReportDocument): string {
  const parts = [`# vecforge benchmark report\n\n${describeConditions(document.conditions)}\n`];
  const headline = renderHeadline(document);
  if (headline !== '') parts.push(`## Headline\n\n${headline}`);
  if (document.charts.length > 0) {
    parts.push(`## Charts\n\n${document.charts.map((c) => `![${c.title}](${c.file})`).join('\n\n')}\n`);
  }
  if (document.suites.length > 0) {
    const rows = document.suites.map((s) => `| ${s.name} | ${s.state} | ${formatNumber(s.durationMs / 1000)} | ${s.reason ?? ''} |`);
    parts.push(`## Suites\n\n| suite | state | seconds | note |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`);
  }
  for (const t of document.tables) {
    parts.push(renderTable({ ...t, rows: t.rows.map((r) => r.map((v) => (v === null ? Number.NaN : v))) }));
  }
  return parts.join('\n');
}

/**
 * Renders a table as Markdown.
 * @param t - the table.
 * @returns Markdown text.
 */
export function renderTable(t: Table): string {
  const fmt = (v: string | number): string => (typeof v === 'number' ? formatNumber(v) : v);
  const lines = [`## ${t.suite}: ${t.title}`, '', `| ${t.columns.join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`];
  for (const row of t.rows) lines.push(`| ${row.map(fmt).join(' | ')} |`);
  if (t.note !== undefined) lines.push('', t.note);
  return `${lines.join('\n')}\n`;
}

/**
 * Formats a number with sensible precision: integers stay integers.
 * @param v - the number.
 * @returns text.
 */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Number.isInteger(v)) return String(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}
