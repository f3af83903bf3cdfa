/**
 * report.json holds every figure with its conditions and matches its
 * schema; report.md holds the tables and links the charts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Report, formatNumber, renderMarkdown, toReportFigure } from '../src/report/report.js';
import {
  FigureConditionsSchema,
    ReportDocumentSchema,
  SuiteOutcomeSchema,
  kReportFormatVersion,
  kReportSchemaName,
  parseReportDocument,
  reportJsonSchema,
} from '../src/report/schema.js';
import { checkReportDir } from '../src/report/check.js';
import { addChartFigures } from './fixtures/bench-figures.js';
import { tempDir } from './helpers.js';

function filledReport(): Report {
  const report = new Report({ quick: true });
  addChartFigures(report);
  report.figure({ suite: 'exchange', name: 'ratio: clone / SAB, 512×100', value: Number.POSITIVE_INFINITY, unit: '×', conditions: { rows: 512, dims: 100 } });
  report.table({ suite: 'embed', title: 'throughput', columns: ['pattern', 'items/s'], rows: [['pooled', 75_000], ['broken', Number.NaN]], note: 'a note' });
  report.suite({ name: 'embed', state: 'ok', durationMs: 1234 });
  report.suite({ name: 'exchange', state: 'skipped', durationMs: 0, reason: 'already measured' });
  return report;
}

describe('report.json', () => {
  test('every figure carries the machine, backend, dataset, parameters, date and run id', () => {
    const report = filledReport();
    const document = report.toDocument();
    const figure = document.figures.find((f) => f.name === 'items/s: pooled: engine.embed, 2 workers');
    expect(figure?.conditions).toMatchObject({
      cpuModel: report.conditions.cpuModel,
      cores: report.conditions.cores,
      memoryBytes: report.conditions.memoryBytes,
      node: process.version,
      tfBackend: 'wasm',
      dataset: '100 fixture texts',
      parameters: { iterations: 1 },
      runId: report.runId,
    });
    expect(Number.isNaN(Date.parse(figure?.conditions.date ?? ''))).toBe(false);
    expect(figure?.conditions.parameters).not.toHaveProperty('dataset');
    expect(figure?.conditions.parameters).not.toHaveProperty('backend');
  });

  test('a figure without a dataset or backend gets null and the run backend', () => {
    const report = new Report();
    const figure = report.figure({ suite: 'exchange', name: 'x', value: 1, unit: 'ms', conditions: { rows: 1 } });
    expect(figure.conditions.dataset).toBeNull();
    expect(figure.conditions.tfBackend).toBe(report.conditions.tfBackend);
    expect(figure.conditions.parameters).toEqual({ rows: 1 });
  });

  test('non-finite values are written as null and still validate', () => {
    const document = filledReport().toDocument();
    const json = JSON.parse(JSON.stringify(document)) as unknown;
    const parsed = parseReportDocument(json);
    expect(parsed.figures.find((f) => f.suite === 'exchange')?.value).toBeNull();
    expect(parsed.tables[0]?.rows[1]).toEqual(['broken', null]);
  });

  test('write() produces a report.json that validates, a JSON Schema, SVG charts and a report.md linking them', async () => {
    const dir = tempDir('vecforge-report-');
    const written = await filledReport().write(dir);
    const document = checkReportDir(dir, { suites: ['embed'], charts: ['throughput-vs-workers', 'throughput-vs-batch-size', 'recall-vs-qps', 'reindex-stages'] });
    expect(document.schema).toBe('vecforge-bench-report');
    expect(document.conditions.quick).toBe(true);
    expect(written.charts.map((c) => c.slice(dir.length + 1)).sort()).toEqual(['recall-vs-qps.svg', 'reindex-stages.svg', 'throughput-vs-batch-size.svg', 'throughput-vs-workers.svg']);
    const schema = JSON.parse(readFileSync(join(dir, 'report.schema.json'), 'utf8')) as { $schema?: string; properties?: Record<string, unknown> };
    expect(schema.$schema).toContain('2020-12');
    expect(Object.keys(schema.properties ?? {})).toEqual(expect.arrayContaining(['conditions', 'figures', 'tables', 'charts', 'suites']));
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('## embed: throughput');
    expect(md).toContain('| pooled | 75,000 |');
    expect(md).toContain('![recall@10 vs queries/s](recall-vs-qps.svg)');
    expect(md).toContain('| embed | 2 workers / 1 worker | 1.88 |');
    expect(md).toContain('| exchange | skipped | 0 | already measured |');
  });

  test('the schema rejects a document missing a condition, naming the path', () => {
    const document = JSON.parse(JSON.stringify(filledReport().toDocument())) as { figures: Array<{ conditions: Record<string, unknown> }> };
    delete document.figures[0]?.conditions['cpuModel'];
    expect(() => parseReportDocument(document)).toThrow(/figures\.0\.conditions\.cpuModel/);
    expect(() => parseReportDocument({ schema: 'other' })).toThrow(TypeError);
  });

  test('the JSON Schema is generated from the zod schema', async () => {
    type JsonSchema = { type?: unknown; properties?: Record<string, JsonSchema>; required?: string[]; items?: JsonSchema; const?: unknown; enum?: unknown; pattern?: unknown };
    const json = reportJsonSchema() as JsonSchema;
    const shape = ReportDocumentSchema.shape;
    // Every top-level field of the zod object, and no other, is a property; the required ones are the non-optional ones.
    const keys = Object.keys(shape).sort();
    expect(keys.length).toBeGreaterThan(0);
    expect(Object.keys(json.properties ?? {}).sort()).toEqual(keys);
    expect([...(json.required ?? [])].sort()).toEqual(keys.filter((k) => !shape[k as keyof typeof shape].safeParse(undefined).success).sort());
    // The zod literals and constraints come through, down to nested objects.
    expect(json.properties?.schema?.const).toBe(kReportSchemaName);
    expect(json.properties?.version?.const).toBe(kReportFormatVersion);
    expect(json.properties?.suites?.items?.properties?.state?.enum).toEqual(SuiteOutcomeSchema.shape.state.options);
    expect(json.properties?.conditions?.properties?.cores?.type).toBe('integer');
    expect(Object.keys(json.properties?.figures?.items?.properties?.conditions?.properties ?? {}).sort()).toEqual(Object.keys(FigureConditionsSchema.shape).sort());
    expect(json.properties?.charts?.items?.properties?.file?.pattern).toBe('^[a-z0-9-]+\\.svg$');
    // And it is the file written next to every report.
    const written = await new Report({ quick: true }).write(tempDir());
    expect(JSON.parse(readFileSync(written.schema, 'utf8'))).toEqual(json);
  });
});

describe('report.md', () => {
  test('renders without charts or suites', () => {
    const report = new Report();
    report.figure({ suite: 'pca', name: 'ratio: engine fit / ml-pca fit speed', value: 12.345, unit: '×', conditions: { dataset: 'd' } });
    const md = renderMarkdown(report.toDocument());
    expect(md).toContain('## Headline');
    expect(md).toContain('| pca | engine fit / ml-pca fit speed | 12.3 |');
    expect(md).not.toContain('## Charts');
  });

  test.each([
    [123456.7, '123,457'],
    [4, '4'],
    [12.34, '12.3'],
    [1.234, '1.23'],
    [0.012345, '0.0123'],
    [Number.NaN, 'NaN'],
  ])('formatNumber(%s) is %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  test('toReportFigure keeps a non-string backend as a parameter', () => {
    const report = new Report();
    const f = toReportFigure({ suite: 's', name: 'n', value: 1, unit: 'ms', conditions: { backend: 3 }, date: new Date().toISOString() }, report.conditions, report.runId);
    expect(f.conditions.parameters).toEqual({ backend: 3 });
  });
});
