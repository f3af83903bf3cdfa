/**
 * batch suite: embed throughput vs batch size. The same corpus is embedded
 * by engines that differ only in `batchTokens` (the token budget of one
 * batch sent to a worker), with 1 worker and with every worker, side by
 * side in one run, through the public API (`Engine.create({ batchTokens })`).
 */
import { join } from 'node:path';
import { Engine } from 'vecforge';
import { prepareDefinitions, readDefinitionTexts } from '../data/definitions.js';
import { timeTasks } from '../measure.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

/** batchTokens values of the sweep (a WordNet definition is about 11 tokens). */
export const kBatchTokensSweep = Object.freeze([64, 256, 1024, 4096, 16_384, 65_536]);

/** The smaller sweep of `--quick`. */
export const kQuickBatchTokensSweep = Object.freeze([64, 256, 1024, 4096, 16_384]);


/**
 * Runs the batch-size sweep.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode, data dir, workers).
 */
export async function runBatchSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const count = ctx.quick ? 10_000 : 100_000;
  const corpus = await prepareDefinitions({ cacheDir: join(ctx.dataDir, 'wordnet'), count });
  const texts = readDefinitionTexts(corpus.path, count);
  const dataset = `${texts.length} WordNet definitions (Debian wordnet-base)`;
  const sweep = ctx.quick ? kQuickBatchTokensSweep : kBatchTokensSweep;
  const workerCounts = [...new Set([1, Math.max(2, ctx.maxWorkers)])];
  const iterations = ctx.quick ? 1 : 3;
  const rows: Array<Array<string | number>> = [];
  for (const workers of workerCounts) {
    const engines: Array<readonly [number, Engine]> = [];
    try {
      // One engine per budget, all started before timing so pool start-up stays out of the figures.
      for (const batchTokens of sweep) engines.push([batchTokens, await Engine.create({ workers, batchTokens, backend: 'wasm' })]);
      const label = (b: number): string => `engine.embed batchTokens=${b}, ${workers} worker${workers === 1 ? '' : 's'}`;
      const timings = await timeTasks(
        engines.map(([b, engine]) => [label(b), () => engine.embed(texts)] as const),
        iterations,
      );
      for (const [i, timing] of timings.entries()) {
        const [batchTokens, engine] = engines[i] ?? [Number.NaN, undefined];
        const itemsPerSecond = texts.length / (timing.meanMs / 1000);
        // One more, untimed call counts the batches a call cuts.
        const before = engine?.metrics().batches ?? Number.NaN;
        await engine?.embed(texts);
        const batches = (engine?.metrics().batches ?? Number.NaN) - before;
        rows.push([batchTokens, workers, batches, texts.length / batches, itemsPerSecond]);
        report.figure({
          suite: 'batch',
          name: `items/s: ${label(batchTokens)}`,
          value: itemsPerSecond,
          unit: 'items/s',
          conditions: { dataset, backend: 'wasm', batchTokens, workers, iterations },
        });
      }
    } finally {
      await Promise.all(engines.map(([, e]) => e.close()));
    }
  }
  const best = new Map<number, number>();
  for (const r of rows) best.set(r[1] as number, Math.max(best.get(r[1] as number) ?? 0, r[4] as number));
  report.table({
    suite: 'batch',
    title: `embed throughput vs batch size, glove-100d on wasm, ${dataset}`,
    columns: ['batchTokens', 'workers', 'batches per call', 'texts per batch', 'items/s', '× best batchTokens, same workers'],
    rows: rows.map((r) => [...r, (r[4] as number) / (best.get(r[1] as number) ?? Number.NaN)]),
    note: `Mean of ${iterations} iteration(s) after a warm-up, tinybench, every engine in one run. A text counts as UTF-16 length / 6 + 1 tokens; batches never cross a sort window (4096 texts).`,
  });
  for (const workers of workerCounts) {
    const ofWorkers = rows.filter((r) => r[1] === workers);
    const fastest = ofWorkers.reduce((a, b) => ((b[4] as number) > (a[4] as number) ? b : a));
    const slowest = ofWorkers.reduce((a, b) => ((b[4] as number) < (a[4] as number) ? b : a));
    report.figure({
      suite: 'batch',
      name: `ratio: fastest / slowest batchTokens, ${workers} worker${workers === 1 ? '' : 's'}`,
      value: (fastest[4] as number) / (slowest[4] as number),
      unit: '×',
      conditions: { dataset, backend: 'wasm', workers, fastest: fastest[0] as number, slowest: slowest[0] as number, iterations },
    });
  }
}
