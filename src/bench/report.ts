/**
 * A benchmark report: tables for people (report.md) and every figure with
 * its conditions for machines (report.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/** The machine and run a figure was measured under. */
export interface RunConditions {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
}

/** One figure: a value, its unit and what it was measured on. */
export interface Figure {
  readonly suite: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly conditions: Readonly<Record<string, string | number | boolean>>;
}

/** A table of a suite. */
export interface Table {
  readonly suite: string;
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>;
  readonly note?: string;
}

/**
 * Describes this machine and run.
 * @returns the conditions.
 */
export function runConditions(): RunConditions {
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

/** Collects tables and figures, then writes them. */
export class Report {
  readonly figures: Figure[] = [];
  readonly tables: Table[] = [];
  readonly conditions: RunConditions = runConditions();

  /**
   * Adds a figure.
   * @param figure - the figure.
   */
  figure(figure: Figure): void {
    this.figures.push(figure);
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
   * Writes report.json and report.md into `dir`.
   * @param dir - the report directory (created when missing).
   * @returns the paths written.
   */
  write(dir: string): { json: string; md: string } {
    mkdirSync(dir, { recursive: true });
    const json = join(dir, 'report.json');
    const md = join(dir, 'report.md');
    writeFileSync(json, `${JSON.stringify({ conditions: this.conditions, figures: this.figures, tables: this.tables }, null, 2)}\n`);
    const c = this.conditions;
    const head = `# vecforge benchmark report\n\n${c.date} · ${c.cpuModel} · ${c.cores} cores · ${(c.memoryBytes / 2 ** 30).toFixed(0)} GiB · Node ${c.node}\n`;
    writeFileSync(md, `${head}\n${this.tables.map(renderTable).join('\n')}`);
    return { json, md };
  }
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
 * Formats a number with sensible precision.
 * @param v - the number.
 * @returns text.
 */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}
