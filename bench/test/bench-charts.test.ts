/**
 * The charts are vega-lite specs rendered by vega to SVG: well-formed XML
 * with an <svg> root, naming every plotted series and labelling every point.
 */
import { describe, expect, test } from 'vitest';
import { kChartIds, planCharts, renderSvg, writeCharts } from '../src/report/charts.js';
import { Report } from '../src/report/report.js';
import { checkSvg } from '../src/report/check.js';
import { addChartFigures, kFixtureSeries } from './fixtures/bench-figures.js';
import { tempDir } from './helpers.js';

function figures(options: { reindex?: boolean } = {}): ReturnType<Report['toDocument']>['figures'] {
  const report = new Report();
  addChartFigures(report, options);
  return report.toDocument().figures;
}

describe('charts', () => {
  test('every chart is planned from figures named as the suites name them', () => {
    const plans = planCharts(figures());
    expect(plans.map((p) => p.id)).toEqual([...kChartIds]);
    const byId = new Map(plans.map((p) => [p.id, p]));
    expect(byId.get('throughput-vs-workers')?.series).toEqual(kFixtureSeries.workers);
    expect(byId.get('throughput-vs-workers')?.points).toBe(3);
    expect(byId.get('throughput-vs-batch-size')?.series).toEqual(kFixtureSeries.batch);
    expect(byId.get('recall-vs-qps')?.series).toEqual(kFixtureSeries.recall);
    expect(byId.get('recall-vs-qps')?.points).toBe(6);
    expect(byId.get('reindex-stages')?.series).toEqual(kFixtureSeries.reindex);
    expect(byId.get('reindex-stages')?.points).toBe(8);
  });

  test('a chart without its figures is skipped, not drawn empty', () => {
    expect(planCharts(figures({ reindex: false })).map((p) => p.id)).not.toContain('reindex-stages');
    expect(planCharts([])).toEqual([]);
  });

  test('non-finite figures are left out of the plot', () => {
    const report = new Report();
    report.figure({ suite: 'embed', name: 'items/s: pooled: engine.embed, 1 worker', value: 5, unit: 'items/s', conditions: {} });
    report.figure({ suite: 'embed', name: 'items/s: pooled: engine.embed, 2 workers', value: Number.NaN, unit: 'items/s', conditions: {} });
    expect(planCharts(report.toDocument().figures)[0]?.points).toBe(1);
  });

  test.each([...kChartIds])('%s renders to SVG holding its series and data points', async (id) => {
    const plan = planCharts(figures()).find((p) => p.id === id);
    if (plan === undefined) throw new Error(`no plan for ${id}`);
    const svg = checkSvg(await renderSvg(plan.spec));
    expect(svg.root).toBe('svg');
    for (const series of plan.series) expect(svg.texts).toContain(series);
    const points = svg.ariaLabels.filter((l) => l.includes('; '));
    expect(points.length).toBeGreaterThanOrEqual(plan.points);
    for (const series of plan.series) expect(points.some((l) => l.includes(series))).toBe(true);
  });

  test('the plotted values appear in the point labels', async () => {
    const plan = planCharts(figures()).find((p) => p.id === 'recall-vs-qps');
    if (plan === undefined) throw new Error('no recall chart');
    const labels = checkSvg(await renderSvg(plan.spec)).ariaLabels.join('\n');
    expect(labels).toMatch(/recall@10: 0\.997/);
    expect(labels).toMatch(/queries\/s \(log\): 45000; series: native single-thread; ef: 10/);
  });

  test('writeCharts writes one file per chart and lists it', async () => {
    const dir = tempDir('vecforge-charts-');
    const written = await writeCharts(figures(), dir);
    expect(written.map((c) => c.file)).toEqual(kChartIds.map((id) => `${id}.svg`));
  });

  test('checkSvg rejects malformed XML and a non-SVG root', () => {
    expect(() => checkSvg('<svg><g></svg>')).toThrow(/well-formed/);
    expect(() => checkSvg('<html></html>')).toThrow(/not <svg>/);
  });
});

describe('reindex stage chart from stage shares', () => {
  test('shares of the full build times its seconds give seconds per stage', async () => {
    const report = new Report();
    const c = { dataset: 'fixture corpus', workers: 2 };
    report.figure({ suite: 'reindex', name: 'seconds: full build', value: 20, unit: 's', conditions: c });
    for (const [stage, pct] of [['read', 10], ['embed', 60], ['insert', 30]] as const) {
      report.figure({ suite: 'reindex', name: `share of full build time: ${stage}`, value: pct, unit: '%', conditions: c });
    }
    const plan = planCharts(report.toDocument().figures).find((p) => p.id === 'reindex-stages');
    expect(plan?.series).toEqual(['full build']);
    if (plan === undefined) throw new Error('no reindex chart');
    const labels = checkSvg(await renderSvg(plan.spec)).ariaLabels.join('\n');
    expect(labels).toMatch(/seconds: 12; stage: embed; series: full build/);
    expect(labels).toMatch(/seconds: 2; stage: read; series: full build/);
  });

  test('shares without the build seconds are plotted as shares', () => {
    const report = new Report();
    report.figure({ suite: 'reindex', name: 'share of full build time: read', value: 10, unit: '%', conditions: {} });
    const plan = planCharts(report.toDocument().figures).find((p) => p.id === 'reindex-stages');
    expect(JSON.stringify(plan?.spec)).toContain('% of full build time');
  });
});
