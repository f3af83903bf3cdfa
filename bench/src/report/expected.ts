/**
 * What a report must hold, checked without timing anything: every figure
 * a suite that ran is expected to record, as a finite number, and the
 * index suite's recall (a floor at the largest ef; the engine not below
 * native hnswlib by more than a tolerance at any ef; the engine's search
 * equal to hnswlib-node's on the engine's own graph file). Speed figures are required to
 * be present and finite, never judged: a slow run is still a valid run.
 */
import type { ReportDocument, ReportFigure } from './schema.js';

/** The ef values of the index suite's sweep (bench/src/suites/index.ts). */
const kEfs = [10, 20, 40, 80, 160, 320] as const;

/** The sides of the index suite's sweep and their single-query figure's mode. */
export const kIndexSides = Object.freeze({ engine: 'single-query', native: 'single-thread', usearch: 'single-query', 'hnswlib-node': 'single-query' } as const);

/** Per suite: figure names (exact) or patterns every run of that suite must record. */
export const kExpectedFigures: Readonly<Record<string, ReadonlyArray<string | RegExp>>> = Object.freeze({
  embed: ['ratio: 2 workers / 1 worker', /^ratio: pooled 2 workers \/ sequential per item, same kernel/, 'ratio: peak RSS 2 workers / 1 worker'],
  batch: [/^ratio: fastest \/ slowest batchTokens, /],
  exchange: [/^ratio: clone \/ SAB exchange overhead per batch, /],
  index: [
    'ratio: engine build / native build',
    'ratio: engine build / usearch build',
    'ratio: hnswlib-node build / native build, 1 thread each',
    'ratio: engine single-query / native q/s at recall 0.95',
    'ratio: engine q/s huge pages on / off',
    'ratio: native q/s huge pages on / off',
    'ratio: engine build huge pages on / off',
    'ratio: native build huge pages on / off',
    'ratio: searchBatch / single-query q/s',
    'ratio: engine searchBatch / usearch batch q/s',
    'inserts/s: engine build',
    'inserts/s: native build',
    'inserts/s: usearch build',
    'inserts/s: hnswlib-node addPoint loop',
    'batch queries/s: engine searchBatch',
    'batch queries/s: native parallel',
    'batch queries/s: usearch',
    'bytes per vector: engine graph file',
    'bytes per vector: native graph file',
    'bytes per vector: usearch index file',
    'load seconds: engine openIndex',
    'load seconds: native loadIndex',
    'load seconds: usearch load',
    'load seconds: hnswlib-node readIndex',
    ...kEfs.map((ef) => `recall@10 gap ef=${ef}: engine search − hnswlib-node search, same graph`),
    ...kEfs.flatMap((ef) => Object.entries(kIndexSides).flatMap(([side, mode]) => [`recall@10 ef=${ef}: ${side}`, `queries/s ef=${ef}: ${side} ${mode}`])),
  ],
  pca: [/^ratio: engine fit \(randomized, top \d+\) \/ ml-pca fit \(full SVD/, /^ratio: engine projection \/ native matmul rows\/s/],
  reindex: [/^ratio: reindex 1% changed \/ full build speed/, /^ratio: reindex 1% changed by a new engine, index opened from disk/, 'seconds: full build', 'seconds: reindex with 1% changed'],
});

/** Options of {@link checkFigures}. */
export interface FigureCheckOptions {
  /** The lowest recall@10 any side may have at the largest ef of the sweep. @default 0.9 */
  readonly recallFloor?: number;
  /**
   * How far the engine's recall@10 may fall below native hnswlib's at each
   * ef. One-sided: the engine's graph (its pool inserts rows in runs, native
   * interleaves them) measures up to ~0.02 above native's at ef ≤ 20 on the
   * quick data with the same M, efConstruction and seed, so a two-sided
   * bound would fail on a better graph; that the engine does not search
   * wider than asked is checked exactly instead, by the same-graph gap
   * (`sameGraphTolerance`). @default 0.02
   */
  readonly recallTolerance?: number;
  /** How far the engine's search may be from hnswlib-node's on the same graph file, at each ef. @default 0.005 */
  readonly sameGraphTolerance?: number;
}

function matches(f: ReportFigure, want: string | RegExp): boolean {
  return typeof want === 'string' ? f.name === want : want.test(f.name);
}

/**
 * Checks a report's figures: for each suite that ran (`ok`), every
 * expected figure is there with a finite value; then the index suite's
 * recall bounds.
 * @param document - the parsed report.json.
 * @param options - the recall floor and tolerance.
 * @returns the problems found (empty when none).
 */
export function checkFigures(document: ReportDocument, options: FigureCheckOptions = {}): string[] {
  const floor = options.recallFloor ?? 0.9;
  const tolerance = options.recallTolerance ?? 0.02;
  const problems: string[] = [];
  for (const suite of document.suites) {
    if (suite.state !== 'ok') continue;
    const figures = document.figures.filter((f) => f.suite === suite.name);
    for (const want of kExpectedFigures[suite.name] ?? []) {
      const found = figures.filter((f) => matches(f, want));
      if (found.length === 0) problems.push(`suite ${suite.name}: no figure ${String(want)}`);
      for (const f of found) if (f.value === null || !Number.isFinite(f.value)) problems.push(`suite ${suite.name}: figure "${f.name}" is not a finite number (${String(f.value)})`);
    }
  }
  if (document.suites.some((s) => s.name === 'index' && s.state === 'ok')) {
    problems.push(...checkRecall(document.figures, floor, tolerance));
    const same = options.sameGraphTolerance ?? 0.005;
    for (const f of document.figures) {
      if (f.suite === 'index' && f.name.startsWith('recall@10 gap ef=') && f.value !== null && Math.abs(f.value) > same) {
        problems.push(`suite index: ${f.name} is ${f.value.toFixed(4)}, more than ${same}: the engine's search does not match hnswlib's on its own graph`);
      }
    }
  }
  return problems;
}

/**
 * The index suite's recall bounds: every side at least `floor` at the
 * largest ef; the engine not more than `tolerance` below native at any ef.
 * @param figures - the report's figures.
 * @param floor - the recall floor at the largest ef.
 * @param tolerance - how far below native the engine's recall may be.
 * @returns the problems found.
 */
export function checkRecall(figures: readonly ReportFigure[], floor: number, tolerance: number): string[] {
  const problems: string[] = [];
  const recall = new Map<string, Map<number, number | null>>();
  for (const f of figures) {
    const m = /^recall@10 ef=(\d+): (\S+)$/.exec(f.name);
    if (f.suite !== 'index' || m === null) continue;
    const side = m[2] ?? '';
    if (!recall.has(side)) recall.set(side, new Map());
    recall.get(side)?.set(Number(m[1]), f.value);
  }
  const engine = recall.get('engine');
  const native = recall.get('native');
  if (engine === undefined || native === undefined) return ['suite index: no recall@10 figures for the engine and native hnswlib'];
  for (const [side, byEf] of recall) {
    const top = Math.max(...byEf.keys());
    const value = byEf.get(top);
    if (typeof value !== 'number' || !(value >= floor)) problems.push(`suite index: recall@10 at ef=${top} of ${side} is ${String(value)}, below the floor ${floor}`);
  }
  for (const [ef, e] of engine) {
    const n = native.get(ef);
    if (typeof e !== 'number' || typeof n !== 'number') problems.push(`suite index: recall@10 at ef=${ef} missing for the engine or native`);
    else if (n - e > tolerance) problems.push(`suite index: recall@10 at ef=${ef}: engine ${e.toFixed(4)} vs native ${n.toFixed(4)}, more than ${tolerance} below`);
  }
  return problems;
}
