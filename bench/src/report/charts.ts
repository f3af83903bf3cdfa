/**
 * The report's SVG charts. Each chart is a vega-lite spec built from the
 * report's figures (found by name), compiled by vega-lite to a vega spec and
 * rendered headless by a vega View to SVG: no browser, no canvas.
 *
 * Figure names each chart reads (suite in brackets):
 *   - throughput vs workers [embed]: `items/s: pooled: engine.embed, N worker(s)`;
 *     the other `items/s: …` embed figures (main-thread baselines) are drawn
 *     as dashed horizontal rules;
 *   - throughput vs batch size [batch]: `items/s: engine.embed batchTokens=B, N worker(s)`;
 *   - recall@10 vs queries/s [index], ann-benchmarks style (log y):
 *     `recall@10 ef=N: <impl>` paired with `queries/s ef=N: <impl> <mode>`,
 *     where `<impl>` is the first word after the colon (`engine`, `native`);
 *   - time by stage of a reindex [reindex]: `reindex stage seconds: <stage>`,
 *     unit `s`; a string parameter `mode` (e.g. `full`, `incremental`)
 *     splits the bars into series. Without those, the reindex suite's
 *     `share of full build time: <stage>` (unit `%`) times its
 *     `seconds: full build`.
 * A chart whose figures are absent is skipped, never drawn empty.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { ReportChart, ReportFigure } from './schema.js';

/** A chart ready to render: its vega-lite spec and what it plots. */
export interface ChartPlan {
  /** Stable id; the SVG file is `<id>.svg`. */
  readonly id: string;
  /** The chart title. */
  readonly title: string;
  /** The plotted series, in legend order. */
  readonly series: readonly string[];
  /** Data points plotted (rules count one each). */
  readonly points: number;
  /** The vega-lite spec, data inlined. */
  readonly spec: TopLevelSpec;
}

/** Ids of every chart {@link planCharts} knows, in report order. */
export const kChartIds = Object.freeze(['throughput-vs-workers', 'throughput-vs-batch-size', 'recall-vs-qps', 'reindex-stages'] as const);

const kVegaLiteSchema = 'https://vega.github.io/schema/vega-lite/v6.json';
const kWidth = 480;
const kHeight = 300;

/** Only finite values can be plotted; a null or non-finite figure is left out. */
function finite(f: ReportFigure): f is ReportFigure & { value: number } {
  return typeof f.value === 'number' && Number.isFinite(f.value);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The parts every chart shares: schema, title, size, white background, legend below. */
function base(title: string, subtitle: string): Record<string, unknown> {
  return {
    $schema: kVegaLiteSchema,
    title: { text: title, subtitle },
    width: kWidth,
    height: kHeight,
    background: 'white',
    // labelLimit 0: series names are never cut, so the legend names every series in full.
    config: { legend: { orient: 'bottom', columns: 1, labelLimit: 0 }, font: 'sans-serif' },
  };
}

function datasetOf(figures: readonly ReportFigure[]): string {
  const sets = unique(figures.map((f) => f.conditions.dataset ?? '').filter((d) => d !== ''));
  const machine = figures[0]?.conditions;
  const where = machine === undefined ? '' : `${machine.cores} cores, ${machine.cpuModel}, ${machine.tfBackend}`;
  return [sets.join('; '), where].filter((s) => s !== '').join(' · ');
}

const kPooled = /^items\/s: pooled: engine\.embed, (\d+) workers?$/;

/**
 * Throughput vs workers, from the embed suite.
 * @param figures - the report's figures.
 * @returns the plan, or undefined without pooled figures.
 */
export function planThroughputVsWorkers(figures: readonly ReportFigure[]): ChartPlan | undefined {
  const embed = figures.filter((f) => f.suite === 'embed' && f.unit === 'items/s' && finite(f));
  const pooled = embed.flatMap((f) => {
    const m = kPooled.exec(f.name);
    return m === null ? [] : [{ series: 'engine.embed (worker pool)', workers: Number(m[1]), itemsPerSecond: f.value, kind: 'pool' }];
  });
  if (pooled.length === 0) return undefined;
  const baselines = embed
    .filter((f) => !kPooled.test(f.name) && f.name.startsWith('items/s: '))
    .map((f) => ({ series: f.name.slice('items/s: '.length), itemsPerSecond: f.value as number, kind: 'baseline' }));
  const values = [...pooled, ...baselines];
  const series = unique(values.map((v) => v.series));
  const color = { field: 'series', type: 'nominal', title: null, sort: series } as const;
  const y = { field: 'itemsPerSecond', type: 'quantitative', title: 'items/s' } as const;
  return {
    id: 'throughput-vs-workers',
    title: 'embed throughput vs workers',
    series,
    points: values.length,
    spec: {
      ...base('embed throughput vs workers', datasetOf(embed)),
      data: { values },
      layer: [
        {
          transform: [{ filter: "datum.kind === 'pool'" }],
          mark: { type: 'line', point: true },
          encoding: { x: { field: 'workers', type: 'quantitative', title: 'workers', axis: { tickMinStep: 1 } }, y, color },
        },
        {
          transform: [{ filter: "datum.kind === 'baseline'" }],
          mark: { type: 'rule', strokeDash: [4, 4] },
          encoding: { y, color },
        },
      ],
    } as TopLevelSpec,
  };
}

const kBatch = /^items\/s: engine\.embed batchTokens=(\d+), (\d+) workers?$/;

/**
 * Throughput vs batch size, from the batch suite.
 * @param figures - the report's figures.
 * @returns the plan, or undefined without batch figures.
 */
export function planThroughputVsBatchSize(figures: readonly ReportFigure[]): ChartPlan | undefined {
  const used = figures.filter((f) => f.suite === 'batch' && finite(f) && kBatch.test(f.name));
  const values = used.map((f) => {
    const m = kBatch.exec(f.name) ?? [];
    const workers = Number(m[2]);
    return { series: `engine.embed, ${workers} worker${workers === 1 ? '' : 's'}`, batchTokens: Number(m[1]), itemsPerSecond: f.value as number };
  });
  if (values.length === 0) return undefined;
  const series = unique(values.map((v) => v.series));
  return {
    id: 'throughput-vs-batch-size',
    title: 'embed throughput vs batch size',
    series,
    points: values.length,
    spec: {
      ...base('embed throughput vs batch size', datasetOf(used)),
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'batchTokens',
          type: 'quantitative',
          title: 'batchTokens (tokens per batch, log scale)',
          scale: { type: 'log', base: 2 },
          axis: { values: [...new Set(values.map((v) => v.batchTokens))].sort((a, b) => a - b), format: 'd' },
        },
        y: { field: 'itemsPerSecond', type: 'quantitative', title: 'items/s' },
        color: { field: 'series', type: 'nominal', title: null, sort: series },
      },
    } as TopLevelSpec,
  };
}

const kRecall = /^recall@10 ef=(\d+): (\S+)/;
const kQps = /^queries\/s ef=(\d+): (\S+)(.*)$/;

/**
 * recall@10 vs queries/s (log scale), one line per implementation, in the
 * style of ann-benchmarks: up and to the right is better.
 * @param figures - the report's figures.
 * @returns the plan, or undefined without paired recall and q/s figures.
 */
export function planRecallVsQps(figures: readonly ReportFigure[]): ChartPlan | undefined {
  const index = figures.filter((f) => f.suite === 'index' && finite(f));
  const qps = new Map<string, { value: number; label: string }>();
  for (const f of index) {
    const m = kQps.exec(f.name);
    if (m !== null) qps.set(`${m[2]} ${m[1]}`, { value: f.value as number, label: `${m[2]}${m[3] ?? ''}` });
  }
  const values = index.flatMap((f) => {
    const m = kRecall.exec(f.name);
    const q = m === null ? undefined : qps.get(`${m[2]} ${m[1]}`);
    return m === null || q === undefined ? [] : [{ series: q.label, ef: Number(m[1]), recall: f.value as number, queriesPerSecond: q.value }];
  });
  if (values.length === 0) return undefined;
  const series = unique(values.map((v) => v.series));
  const encoding = {
    x: { field: 'recall', type: 'quantitative', title: 'recall@10', scale: { zero: false } },
    y: { field: 'queriesPerSecond', type: 'quantitative', title: 'queries/s (log)', scale: { type: 'log' } },
    color: { field: 'series', type: 'nominal', title: null, sort: series },
  } as const;
  return {
    id: 'recall-vs-qps',
    title: 'recall@10 vs queries/s',
    series,
    points: values.length,
    spec: {
      ...base('recall@10 vs queries/s (up and right is better)', datasetOf(index)),
      data: { values },
      layer: [
        { mark: { type: 'line', point: true }, encoding: { ...encoding, order: { field: 'ef', type: 'quantitative' } } },
        {
          mark: { type: 'text', dx: 4, dy: -7, fontSize: 9, align: 'left' },
          encoding: { x: encoding.x, y: encoding.y, color: encoding.color, text: { field: 'ef', type: 'quantitative', format: 'd' } },
        },
      ],
    } as TopLevelSpec,
  };
}

const kStage = /^reindex stage seconds: (.+)$/;
const kStageShare = /^share of full build time: (.+)$/;

/** Stage rows from `reindex stage seconds: <stage>` figures, else from the reindex suite's stage shares of the full build. */
function stageRows(figures: readonly ReportFigure[]): { rows: Array<{ stage: string; seconds: number; series: string }>; used: ReportFigure[]; unit: 'seconds' | '% of full build time' } {
  const seconds = figures.filter((f) => f.unit === 's' && finite(f) && kStage.test(f.name));
  if (seconds.length > 0) {
    const rows = seconds.map((f) => {
      const mode = f.conditions.parameters['mode'];
      return { stage: (kStage.exec(f.name) ?? [])[1] ?? '', seconds: f.value as number, series: typeof mode === 'string' ? mode : 'reindex' };
    });
    return { rows, used: seconds, unit: 'seconds' };
  }
  // The reindex suite records each stage's share of one full build, and that build's seconds: together, seconds per stage.
  const shares = figures.filter((f) => f.suite === 'reindex' && f.unit === '%' && finite(f) && kStageShare.test(f.name));
  const total = figures.find((f) => f.suite === 'reindex' && f.name === 'seconds: full build' && f.unit === 's' && finite(f));
  const rows = shares.map((f) => ({
    stage: (kStageShare.exec(f.name) ?? [])[1] ?? '',
    seconds: total === undefined ? (f.value as number) : ((f.value as number) / 100) * (total.value as number),
    series: 'full build',
  }));
  return { rows, used: shares, unit: total === undefined ? '% of full build time' : 'seconds' };
}

/**
 * Time by stage of a reindex, one horizontal bar per stage (per mode when
 * the figures carry a `mode` parameter). Reads `reindex stage seconds:
 * <stage>` figures (unit `s`) or, failing those, the reindex suite's
 * `share of full build time: <stage>` (unit `%`) times its `seconds: full
 * build`.
 * @param figures - the report's figures.
 * @returns the plan, or undefined without stage figures.
 */
export function planReindexStages(figures: readonly ReportFigure[]): ChartPlan | undefined {
  const { rows: values, used, unit } = stageRows(figures);
  if (values.length === 0) return undefined;
  const series = unique(values.map((v) => v.series));
  const stages = unique(values.map((v) => v.stage));
  return {
    id: 'reindex-stages',
    title: 'reindex: time by stage',
    series,
    points: values.length,
    spec: {
      ...base('reindex: time by stage', datasetOf(used)),
      height: Math.max(120, stages.length * series.length * 18),
      data: { values },
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'stage', type: 'nominal', title: null, sort: stages },
        yOffset: { field: 'series', type: 'nominal', sort: series },
        x: { field: 'seconds', type: 'quantitative', title: unit },
        color: { field: 'series', type: 'nominal', title: null, sort: series },
      },
    } as TopLevelSpec,
  };
}

/**
 * Every chart the figures allow, in {@link kChartIds} order.
 * @param figures - the report's figures.
 * @returns the plans; charts without figures are left out.
 */
export function planCharts(figures: readonly ReportFigure[]): ChartPlan[] {
  return [planThroughputVsWorkers, planThroughputVsBatchSize, planRecallVsQps, planReindexStages].flatMap((plan) => plan(figures) ?? []);
}

/**
 * Renders a vega-lite spec to SVG: vega-lite compiles it to vega, a
 * headless vega View (renderer `none`) draws it.
 * @param spec - the vega-lite spec, data inlined.
 * @returns the SVG document text.
 * @throws {Error} when vega-lite or vega rejects the spec.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: vega is large, and most callers of this module never draw.
  const [{ compile }, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders every chart the figures allow into `dir` as `<id>.svg`.
 * @param figures - the report's figures.
 * @param dir - the report directory (must exist).
 * @returns the charts written, for report.json.
 * @throws {Error} when a spec fails to render or a file cannot be written.
 */
export async function writeCharts(figures: readonly ReportFigure[], dir: string): Promise<ReportChart[]> {
  const out: ReportChart[] = [];
  for (const plan of planCharts(figures)) {
    const file = `${plan.id}.svg`;
    writeFileSync(join(dir, file), `${await renderSvg(plan.spec)}\n`);
    out.push({ id: plan.id, title: plan.title, file, series: [...plan.series], points: plan.points });
  }
  return out;
}
