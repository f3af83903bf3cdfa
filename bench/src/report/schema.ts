/**
 * The schema of report.json, as zod types. The JSON Schema written next to
 * every report (report.schema.json) is generated from these, so the file a
 * reader checks against and the types the code writes cannot drift apart.
 *
 * Non-finite numbers (NaN, ±Infinity: a ratio over a zero time, a figure a
 * baseline did not produce) are written as `null`, which is what
 * JSON.stringify does with them anyway; the schema says so explicitly.
 */
import { z } from 'zod';

/** The `schema` tag of a report document. */
export const kReportSchemaName = 'vecforge-bench-report';

/**
 * The version of the report format; bumped on any incompatible change.
 * Readers check it before trusting the fields.
 */
export const kReportFormatVersion = 1;

/** A number, or null where the measurement was not finite. */
const measured = z.number().nullable();

/** A scalar parameter of a figure (a dataset size, an ef, a thread count). */
export const ConditionValueSchema = z.union([z.string(), z.number(), z.boolean()]);

/** The machine and run every figure of a report was measured under. */
export const RunConditionsSchema = z.object({
  /** The CPU model string of the first core. */
  cpuModel: z.string().min(1),
  /** Logical cores the OS reports. */
  cores: z.number().int().positive(),
  /** Total memory in bytes. */
  memoryBytes: z.number().int().positive(),
  /** `process.version`. */
  node: z.string().regex(/^v\d+\.\d+\.\d+/),
  /** `platform-arch`, e.g. `linux-x64`. */
  platform: z.string().min(1),
  /** The TF.js backend `auto` resolves to on this machine (suites may pin one per figure). */
  tfBackend: z.string().min(1),
  /** When the run started, ISO 8601. */
  date: z.iso.datetime(),
  /** The git commit of the working tree, or null outside a git checkout. */
  commit: z.string().nullable(),
  /** Whether the run was a `--quick` run (small data, few iterations). */
  quick: z.boolean(),
});

/** The conditions a single figure was measured under: the run's machine, plus its own dataset and parameters. */
export const FigureConditionsSchema = z.object({
  cpuModel: z.string().min(1),
  cores: z.number().int().positive(),
  memoryBytes: z.number().int().positive(),
  node: z.string(),
  platform: z.string(),
  /** The TF.js backend this figure ran on (the suite's choice, else the run's). */
  tfBackend: z.string().min(1),
  /** What the figure was measured on; null where the suite named no dataset (e.g. synthetic buffers). */
  dataset: z.string().nullable(),
  /** Every other condition the suite gave: sizes, ef, threads, iterations. */
  parameters: z.record(z.string(), ConditionValueSchema),
  /** When the figure was recorded, ISO 8601. */
  date: z.iso.datetime(),
  /** The run it belongs to: figures with the same runId were measured side by side in one process run. */
  runId: z.string().min(1),
});

/** One figure of report.json. */
export const ReportFigureSchema = z.object({
  suite: z.string().min(1),
  name: z.string().min(1),
  /** The value; null when it was not a finite number. */
  value: measured,
  unit: z.string(),
  conditions: FigureConditionsSchema,
});

/** One table of report.json (the same tables report.md shows). */
export const ReportTableSchema = z.object({
  suite: z.string().min(1),
  title: z.string().min(1),
  columns: z.array(z.string()).min(1),
  rows: z.array(z.array(z.union([z.string(), measured]))),
  note: z.string().optional(),
});

/** How one suite of the run ended. */
export const SuiteOutcomeSchema = z.object({
  name: z.string().min(1),
  state: z.enum(['ok', 'failed', 'skipped']),
  durationMs: z.number().nonnegative(),
  /** Why it failed or was skipped. */
  reason: z.string().optional(),
});

/** One SVG chart written next to report.md. */
export const ReportChartSchema = z.object({
  id: z.string().min(1),
  title: z.string().min(1),
  /** The SVG file name, relative to the report directory. */
  file: z.string().regex(/^[a-z0-9-]+\.svg$/),
  /** The plotted series, in legend order. */
  series: z.array(z.string()).min(1),
  /** How many data points were plotted. */
  points: z.number().int().positive(),
});

/** The whole of report.json. */
export const ReportDocumentSchema = z.object({
  $schema: z.string().optional(),
  schema: z.literal(kReportSchemaName),
  version: z.literal(kReportFormatVersion),
  runId: z.string().min(1),
  conditions: RunConditionsSchema,
  suites: z.array(SuiteOutcomeSchema),
  figures: z.array(ReportFigureSchema),
  tables: z.array(ReportTableSchema),
  charts: z.array(ReportChartSchema),
});

/** The machine and run conditions of a report. */
export type RunConditions = z.infer<typeof RunConditionsSchema>;
/** A scalar figure parameter. */
export type ConditionValue = z.infer<typeof ConditionValueSchema>;
/** A figure as report.json holds it. */
export type ReportFigure = z.infer<typeof ReportFigureSchema>;
/** The conditions of one figure. */
export type FigureConditions = z.infer<typeof FigureConditionsSchema>;
/** A table as report.json holds it. */
export type ReportTable = z.infer<typeof ReportTableSchema>;
/** How one suite ended. */
export type SuiteOutcome = z.infer<typeof SuiteOutcomeSchema>;
/** A chart entry of report.json. */
export type ReportChart = z.infer<typeof ReportChartSchema>;
/** The whole report.json document. */
export type ReportDocument = z.infer<typeof ReportDocumentSchema>;

/**
 * Checks a parsed report.json against the schema.
 * @param value - the parsed JSON.
 * @returns the typed document.
 * @throws {TypeError} naming the first offending paths when it does not match.
 */
export function parseReportDocument(value: unknown): ReportDocument {
  const result = ReportDocumentSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new TypeError(`report.json does not match the ${kReportSchemaName} v${kReportFormatVersion} schema: ${problems.join('; ')}`);
}

/**
 * The JSON Schema (draft 2020-12) of report.json, generated from the zod
 * schema; written next to every report as report.schema.json.
 * @returns the JSON Schema object.
 */
export function reportJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ReportDocumentSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
}
