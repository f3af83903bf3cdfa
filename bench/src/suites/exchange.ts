/**
 * exchange suite: how a batch of vectors gets from a worker into the main
 * thread's output array. SharedArrayBuffer (the worker writes straight into
 * the shared arena) vs a transferred buffer vs structured clone, through
 * the same {@link ExchangeProbe} the embed suite uses.
 *
 * The embed suite also measures these figures when it runs; in a run that
 * includes it, this suite is skipped so no figure is reported twice.
 */
import { ExchangeProbe, type ExchangeMode } from '../exchange.js';
import { timeTasks } from '../measure.js';
import type { Report } from '../report/report.js';
import type { SuiteContext, SuiteSkipped } from './suite.js';

/** Batch shapes measured: rows, dims, why this shape. */
export const kExchangeShapes: ReadonlyArray<readonly [number, number, string]> = Object.freeze([
  [512, 100, 'a small batch'],
  [4_096, 100, 'a default engine batch on 2 workers: a sort window of 8,192 texts, one batch per worker'],
  [10_000, 100, 'a large glove-100d batch'],
  [10_000, 384, "DESIGN.md's measurement shape"],
] as const);

const kModes: readonly ExchangeMode[] = ['sab', 'transfer', 'clone'];

/**
 * Runs the exchange figures, unless the embed suite already did in this run.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode).
 * @returns a skip reason when the figures are already in the report.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: as SuiteRunner, a suite that ran returns nothing.
export async function runExchangeSuite(report: Report, ctx: SuiteContext): Promise<void | SuiteSkipped> {
  if (report.figures.some((f) => f.suite === 'exchange')) {
    return { skipped: 'the embed suite already measured the exchange figures in this run' };
  }
  const probe = new ExchangeProbe(Math.max(...kExchangeShapes.map(([n, d]) => n * d)));
  const reps = ctx.quick ? 20 : 100;
  const rows: Array<Array<string | number>> = [];
  try {
    for (const [n, dims, label] of kExchangeShapes) {
      const overhead: number[] = [];
      for (const mode of kModes) {
        const [timing] = await timeTasks([[`${mode} ${n}×${dims}`, () => probe.roundTrip(mode, n, dims)]], reps);
        void timing;
        probe.takeMeanComputeMs(mode);
        overhead.push(probe.takeMedianOverheadMs(mode));
      }
      const [sab = Number.NaN, transfer = Number.NaN, clone = Number.NaN] = overhead;
      rows.push([`${n} × ${dims} (${label})`, sab, transfer, clone, clone / sab]);
      const conditions = { dataset: 'synthetic float32 batch', rows: n, dims, iterations: reps };
      for (const [i, mode] of kModes.entries()) report.figure({ suite: 'exchange', name: `exchange overhead ms: ${mode}, ${n}×${dims}`, value: overhead[i] ?? Number.NaN, unit: 'ms', conditions });
      report.figure({ suite: 'exchange', name: `ratio: clone / SAB exchange overhead per batch, ${n}×${dims}`, value: clone / sab, unit: '×', conditions });
    }
  } finally {
    await probe.close();
  }
  report.table({
    suite: 'exchange',
    title: 'per-batch exchange overhead, worker → main thread output array (ms, mean)',
    columns: ['batch', 'SharedArrayBuffer', 'transferred buffer', 'structured clone', 'clone / SAB'],
    rows,
    note: "Overhead = median time from the end of the worker's compute (writing the values, the same loop in every mode) to the rows being in the main thread's arena, on the clock both threads share. SAB: the worker writes straight into the shared arena and posts a tiny message. Transfer/clone: the worker writes a fresh array and posts it; the main thread copies it into the arena.",
  });
}
