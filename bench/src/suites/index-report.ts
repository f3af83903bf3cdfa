/**
 * The index suite's tables and figures, from what index.ts measured: the
 * equal terms, builds, the ef sweep of all four sides (the recall-vs-qps
 * chart reads `recall@10 ef=N: <side>` with `queries/s ef=N: <side> …`),
 * batch search, bytes per vector, load times, the huge-page effect and the
 * goal figures.
 */
import { statSync } from 'node:fs';
import type { ConditionValue } from '../report/schema.js';
import type { Report } from '../report/report.js';
import { median } from '../measure.js';
import type { NativeResult } from './index.js';
import type { SweepPoint } from './index-peers.js';

/** What index.ts hands over. */
export interface IndexMeasurements {
  readonly conditions: Readonly<Record<string, ConditionValue>>;
  readonly dataset: string;
  readonly rows: number;
  readonly threads: number;
  readonly rounds: number;
  readonly pairRows: number;
  readonly efs: readonly number[];
  readonly targetEf: number;
  /** Build seconds of each round, per side. */
  readonly build: {
    readonly native: readonly number[];
    readonly engine: readonly number[];
    readonly usearch: readonly number[];
    readonly pairNative: readonly number[];
    readonly pairNode: readonly number[];
    /** One build of each side with huge pages off. */
    readonly nativeOff: number;
    readonly engineOff: number;
  };
  readonly recall: { readonly engine: ReadonlyArray<Map<number, number>>; readonly native: ReadonlyArray<Map<number, number>>; readonly usearch: readonly SweepPoint[]; readonly node: readonly SweepPoint[] };
  readonly qps: {
    readonly engineA: Map<number, number>;
    readonly engineB: Map<number, number>;
    readonly engineOff: Map<number, number>;
    readonly nativeA: NativeResult;
    readonly nativeB: NativeResult;
    readonly nativeOff: NativeResult;
    readonly usearch: readonly SweepPoint[];
    readonly node: readonly SweepPoint[];
  };
  /** searchBatch q/s of each round at targetEf. */
  readonly batchEngine: readonly number[];
  readonly bytes: { readonly native: number; readonly usearch: number };
  /** The engine's saved graph file. */
  readonly engineGraph: string;
  readonly load: { readonly engine: number; readonly native: number; readonly usearch: number; readonly node: number; readonly cache: string };
  readonly terms: Array<Array<string | number>>;
  readonly versions: { readonly usearch: string; readonly hnswlibNode: string };
  readonly loadEnd: string;
  /** Per ef: the engine's recall on its last graph minus hnswlib-node's recall on that same graph file. */
  readonly sameGraphGap: Map<number, number>;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const mean2 = (a: number | undefined, b: number | undefined): number => ((a ?? Number.NaN) + (b ?? Number.NaN)) / 2;
const nativeAt = (r: NativeResult, ef: number): NativeResult['sweep'][number] | undefined => r.sweep.find((x) => x.ef === ef);

/**
 * Records the index suite's tables and figures.
 * @param report - the report.
 * @param x - the measurements.
 */
export function reportIndexFigures(report: Report, x: IndexMeasurements): void {
  const { conditions, rows, threads, rounds, pairRows, efs, targetEf } = x;
  const usearchName = `usearch ${x.versions.usearch}`;
  const nodeName = `hnswlib-node ${x.versions.hnswlibNode}`;
  report.table({
    suite: 'index',
    title: `equal terms: what each side ran on (load average ${String(conditions['loadAverage'])} at the start, ${x.loadEnd} at the end)`,
    columns: ['term', 'vecforge engine', 'native hnswlib', usearchName, nodeName],
    rows: x.terms,
  });

  // Builds.
  const rate = (secs: readonly number[], n: number): number => (n * secs.length) / sum(secs);
  const nativeRate = rate(x.build.native, rows);
  const engineRate = rate(x.build.engine, rows);
  const usearchRate = rate(x.build.usearch, rows);
  const pairNativeRate = rate(x.build.pairNative, pairRows);
  const nodeRate = rate(x.build.pairNode, pairRows);
  const perRound = (a: readonly number[], b: readonly number[]): string => a.map((s, i) => ((b[i] ?? Number.NaN) / s).toFixed(3)).join(', ');
  report.table({
    suite: 'index',
    title: `build throughput, ${x.dataset}, M=16, efConstruction=200`,
    columns: ['builder', 'rows', 'threads', 'inserts/s', 'engine / this'],
    rows: [
      ['vecforge engine (pool workers → one shared graph, addBatch)', rows, threads, engineRate, 1],
      ['native hnswlib (ParallelFor of addPoint)', rows, threads, nativeRate, engineRate / nativeRate],
      [`${usearchName} (add(keys, vectors, threads))`, rows, threads, usearchRate, engineRate / usearchRate],
      [`native hnswlib, 1 thread, first ${pairRows} rows`, pairRows, 1, pairNativeRate, ''],
      [`${nodeName} addPoint loop, 1 thread, first ${pairRows} rows`, pairRows, 1, nodeRate, ''],
    ],
    note:
      `Rates over ${rounds} round(s); the three full builds alternate (native, engine, usearch, then reversed). engine/native per round: ${perRound(x.build.engine, x.build.native)}; engine/usearch per round: ${perRound(x.build.engine, x.build.usearch)}. ` +
      `hnswlib-node has no multi-threaded insert: it is paired with native hnswlib on 1 thread over the same first ${pairRows} rows (hnswlib-node / native, 1 thread: ${(nodeRate / pairNativeRate).toFixed(3)}×).`,
  });
  const build = { ...conditions, rounds, statistic: 'rows × rounds / summed seconds' };
  report.figure({ suite: 'index', name: 'ratio: engine build / native build', value: engineRate / nativeRate, unit: '×', conditions: build });
  report.figure({ suite: 'index', name: 'ratio: engine build / usearch build', value: engineRate / usearchRate, unit: '×', conditions: { ...build, usearch: x.versions.usearch } });
  report.figure({ suite: 'index', name: 'ratio: hnswlib-node build / native build, 1 thread each', value: nodeRate / pairNativeRate, unit: '×', conditions: { ...build, rows: pairRows, threads: 1 } });
  report.figure({ suite: 'index', name: 'inserts/s: engine build', value: engineRate, unit: 'inserts/s', conditions: build });
  report.figure({ suite: 'index', name: 'inserts/s: native build', value: nativeRate, unit: 'inserts/s', conditions: build });
  report.figure({ suite: 'index', name: 'inserts/s: usearch build', value: usearchRate, unit: 'inserts/s', conditions: build });
  report.figure({ suite: 'index', name: 'inserts/s: native build, 1 thread', value: pairNativeRate, unit: 'inserts/s', conditions: { ...build, rows: pairRows, threads: 1 } });
  report.figure({ suite: 'index', name: 'inserts/s: hnswlib-node addPoint loop', value: nodeRate, unit: 'inserts/s', conditions: { ...build, rows: pairRows, threads: 1 } });

  // The ef sweep.
  const meanRecall = (builds: ReadonlyArray<Map<number, number>>, ef: number): number => sum(builds.map((b) => b.get(ef) ?? Number.NaN)) / builds.length;
  const sweepRows: Array<Array<string | number>> = [];
  const sweep = { ...conditions, warmup: 'one untimed pass per ef' };
  for (const ef of efs) {
    const side = {
      engine: { recall: meanRecall(x.recall.engine, ef), qps: mean2(x.qps.engineA.get(ef), x.qps.engineB.get(ef)) },
      native: { recall: meanRecall(x.recall.native, ef), qps: mean2(nativeAt(x.qps.nativeA, ef)?.queries_per_second, nativeAt(x.qps.nativeB, ef)?.queries_per_second) },
      usearch: { recall: x.recall.usearch.find((p) => p.ef === ef)?.recall ?? Number.NaN, qps: x.qps.usearch.find((p) => p.ef === ef)?.qps ?? Number.NaN },
      'hnswlib-node': { recall: x.recall.node.find((p) => p.ef === ef)?.recall ?? Number.NaN, qps: x.qps.node.find((p) => p.ef === ef)?.qps ?? Number.NaN },
    };
    sweepRows.push([ef, side.engine.recall, side.native.recall, side.usearch.recall, side['hnswlib-node'].recall, side.engine.qps, side.native.qps, side.usearch.qps, side['hnswlib-node'].qps, side.engine.qps / side.native.qps]);
    const modes = { engine: 'single-query', native: 'single-thread', usearch: 'single-query', 'hnswlib-node': 'single-query' } as const;
    for (const [name, s] of Object.entries(side)) {
      const builds = name === 'engine' ? x.recall.engine.length : name === 'native' ? x.recall.native.length : 1;
      report.figure({ suite: 'index', name: `recall@10 ef=${ef}: ${name}`, value: s.recall, unit: 'recall', conditions: { ...sweep, ef, builds, statistic: builds > 1 ? 'mean' : 'one build' } });
      report.figure({ suite: 'index', name: `queries/s ef=${ef}: ${name} ${modes[name as keyof typeof modes]}`, value: s.qps, unit: 'queries/s', conditions: { ...sweep, ef, threads: 1 } });
    }
  }
  report.table({
    suite: 'index',
    title: 'ef sweep: recall@10 and single-query throughput, every side',
    columns: ['ef', 'recall engine', 'recall native', 'recall usearch', 'recall hnswlib-node', 'q/s engine', 'q/s native', 'q/s usearch', 'q/s hnswlib-node', 'engine / native q/s'],
    rows: sweepRows,
    note:
      `One query per call on one thread, every side: engine \`await index.search(vector)\` (small searches inline), native a tight searchKnn loop, usearch \`search(vector, 10, 1)\` on its saved index reloaded with expansion_search = ef, hnswlib-node \`searchKnn(number[], 10)\` on native's saved graph (readIndex). ` +
      `Each ef: one untimed pass, then the timed pass. Engine and native q/s: means of two passes (native, engine, …, engine, native); recall: the mean over the ${x.recall.engine.length} engine and ${x.recall.native.length} native builds. ` +
      `The engine's last graph file searched by hnswlib-node gives the engine's own recall on it within ${Math.max(...[...x.sameGraphGap.values()].map(Math.abs)).toFixed(4)} at every ef, so a recall difference to native is the graph's (how it was built), not the search's.`,
  });
  for (const [ef, gap] of x.sameGraphGap) {
    report.figure({ suite: 'index', name: `recall@10 gap ef=${ef}: engine search − hnswlib-node search, same graph`, value: gap, unit: 'recall', conditions: { ...sweep, ef } });
  }
  const at = efs.indexOf(targetEf);
  const row = sweepRows[at] ?? [];
  const engineQps = Number(row[5]);
  const nativeQps = Number(row[6]);
  report.figure({ suite: 'index', name: 'ratio: engine single-query / native q/s at recall 0.95', value: engineQps / nativeQps, unit: '×', conditions: { ...sweep, ef: targetEf } });

  // Huge pages: each side once with them off.
  const thpRows = efs.map((ef) => {
    const engineOn = mean2(x.qps.engineA.get(ef), x.qps.engineB.get(ef));
    const nativeOn = mean2(nativeAt(x.qps.nativeA, ef)?.queries_per_second, nativeAt(x.qps.nativeB, ef)?.queries_per_second);
    const engineOff = x.qps.engineOff.get(ef) ?? Number.NaN;
    const nativeOff = nativeAt(x.qps.nativeOff, ef)?.queries_per_second ?? Number.NaN;
    return [ef, engineOff, engineOn, engineOn / engineOff, nativeOff, nativeOn, nativeOn / nativeOff];
  });
  report.table({
    suite: 'index',
    title: 'transparent huge pages: single-query q/s off vs on, both sides',
    columns: ['ef', 'engine off', 'engine on', 'engine on / off', 'native off', 'native on', 'native on / off'],
    rows: thpRows,
    note: 'Off: the engine\'s graph reopened with `openIndex(dir, { hugePages: false })`, native loaded with --huge-pages=0; one pass each, between the two "on" passes (whose mean is "on"). On: the addon\'s madvise(MADV_HUGEPAGE) of the level-0 block, the same code in both.',
  });
  const thpAt = thpRows[at] ?? [];
  report.figure({ suite: 'index', name: 'ratio: engine q/s huge pages on / off', value: Number(thpAt[3]), unit: '×', conditions: { ...sweep, ef: targetEf } });
  report.figure({ suite: 'index', name: 'ratio: native q/s huge pages on / off', value: Number(thpAt[6]), unit: '×', conditions: { ...sweep, ef: targetEf } });

  const lastOn = (xs: readonly number[]): number => xs[xs.length - 1] ?? Number.NaN;
  const engineBuildThp = x.build.engineOff / lastOn(x.build.engine);
  const nativeBuildThp = x.build.nativeOff / lastOn(x.build.native);
  report.table({
    suite: 'index',
    title: 'transparent huge pages: build seconds off vs on, both sides',
    columns: ['side', 'off', 'on (last round)', 'speed on / off'],
    rows: [
      ['vecforge engine', x.build.engineOff, lastOn(x.build.engine), engineBuildThp],
      ['native hnswlib', x.build.nativeOff, lastOn(x.build.native), nativeBuildThp],
    ],
    note: 'Off: one build each after the rounds, the engine in a process of its own started with VECFORGE_HUGEPAGES=0 (the addon reads it once per process), native with --huge-pages=0; compared with the same side\'s build of the last round.',
  });
  report.figure({ suite: 'index', name: 'ratio: engine build huge pages on / off', value: engineBuildThp, unit: '×', conditions: build });
  report.figure({ suite: 'index', name: 'ratio: native build huge pages on / off', value: nativeBuildThp, unit: '×', conditions: build });

  // Batch search at targetEf.
  const engineBatch = median(x.batchEngine);
  const nativeBatch = mean2(nativeAt(x.qps.nativeA, targetEf)?.parallel_queries_per_second, nativeAt(x.qps.nativeB, targetEf)?.parallel_queries_per_second);
  const usearchBatch = x.qps.usearch.find((p) => p.ef === targetEf)?.batchQps ?? Number.NaN;
  report.table({
    suite: 'index',
    title: `batch search at ef=${targetEf} (the smallest ef with engine recall@10 ≥ 0.95), ${threads} threads`,
    columns: ['side', 'call', 'q/s', 'engine / this'],
    rows: [
      ['vecforge engine', `searchBatch on ${threads} pool workers (median of ${x.batchEngine.length})`, engineBatch, 1],
      ['native hnswlib', `ParallelFor of searchKnn, ${threads} threads (mean of two)`, nativeBatch, engineBatch / nativeBatch],
      [usearchName, `search(matrix, 10, ${threads})`, usearchBatch, engineBatch / usearchBatch],
      [nodeName, 'no batch or multi-threaded search in its API', '', ''],
    ],
  });
  const batch = { ...sweep, ef: targetEf };
  report.figure({ suite: 'index', name: 'batch queries/s: engine searchBatch', value: engineBatch, unit: 'queries/s', conditions: batch });
  report.figure({ suite: 'index', name: 'batch queries/s: native parallel', value: nativeBatch, unit: 'queries/s', conditions: batch });
  report.figure({ suite: 'index', name: 'batch queries/s: usearch', value: usearchBatch, unit: 'queries/s', conditions: batch });
  report.figure({ suite: 'index', name: 'ratio: searchBatch / single-query q/s', value: engineBatch / engineQps, unit: '×', conditions: batch });
  report.figure({ suite: 'index', name: 'ratio: native parallel search / native single-thread q/s', value: nativeBatch / nativeQps, unit: '×', conditions: batch });
  report.figure({ suite: 'index', name: 'ratio: engine searchBatch / usearch batch q/s', value: engineBatch / usearchBatch, unit: '×', conditions: batch });

  // Size and load.
  const engineBytes = statSync(x.engineGraph).size / rows;
  report.table({
    suite: 'index',
    title: `saved index: bytes per vector and load time (${x.load.cache})`,
    columns: ['side', 'graph file bytes / vector', 'load', 'load seconds'],
    rows: [
      ['vecforge engine', engineBytes, 'engine.openIndex(dir): manifest, SHA-256 of every file, graph, doc store, huge-page move', x.load.engine],
      ['native hnswlib', x.bytes.native, 'HierarchicalNSW(path) + huge-page move', x.load.native],
      [usearchName, x.bytes.usearch, 'Index.load(path) (a copy in memory; view() would mmap)', x.load.usearch],
      [nodeName, x.bytes.native, 'readIndex(native’s file)', x.load.node],
    ],
    note: 'The engine also keeps ids, namespaces and metadata (doc store) beside the graph; the bytes column counts the graph file only.',
  });
  const files = { ...conditions, cache: x.load.cache };
  report.figure({ suite: 'index', name: 'bytes per vector: engine graph file', value: engineBytes, unit: 'bytes', conditions });
  report.figure({ suite: 'index', name: 'bytes per vector: native graph file', value: x.bytes.native, unit: 'bytes', conditions });
  report.figure({ suite: 'index', name: 'bytes per vector: usearch index file', value: x.bytes.usearch, unit: 'bytes', conditions });
  report.figure({ suite: 'index', name: 'load seconds: engine openIndex', value: x.load.engine, unit: 's', conditions: files });
  report.figure({ suite: 'index', name: 'load seconds: native loadIndex', value: x.load.native, unit: 's', conditions: files });
  report.figure({ suite: 'index', name: 'load seconds: usearch load', value: x.load.usearch, unit: 's', conditions: files });
  report.figure({ suite: 'index', name: 'load seconds: hnswlib-node readIndex', value: x.load.node, unit: 's', conditions: files });

  // Goals, met or not.
  const usearchRecall = x.recall.usearch.find((p) => p.ef === targetEf)?.recall ?? Number.NaN;
  const goal = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  report.table({
    suite: 'index',
    title: 'goals',
    columns: ['goal', 'measured', 'verdict', 'at'],
    rows: [
      ['engine build ≥ 1.0× native hnswlib', engineRate / nativeRate, goal(engineRate / nativeRate >= 1), `same M, efConstruction, threads; recall@10 at ef=${targetEf}: engine ${Number(row[1]).toFixed(3)}, native ${Number(row[2]).toFixed(3)}`],
      ['engine build ≥ 1.5× usearch', engineRate / usearchRate, goal(engineRate / usearchRate >= 1.5), `same M/connectivity, efConstruction/expansion_add, threads; recall@10 at ef=${targetEf}: engine ${Number(row[1]).toFixed(3)}, usearch ${usearchRecall.toFixed(3)}`],
      ['engine single-query q/s ≥ 1.0× native at recall@10 0.95', engineQps / nativeQps, goal(engineQps / nativeQps >= 1), `ef=${targetEf}`],
    ],
    note: 'Goals are reported, never asserted; a run on a loaded box moves them (see the load average in the equal-terms table).',
  });
}
