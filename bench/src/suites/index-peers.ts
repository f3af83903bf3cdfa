/**
 * The index suite's peers, each through its own API on the same GloVe rows
 * and parameters as the engine and native hnswlib:
 *   - usearch (npm, prebuilt binary): its fastest path, `add(keys, vectors,
 *     threads)` for the build, `search(matrix, k, threads)` for a batch,
 *     and the ef sweep by reloading the saved index with each
 *     `expansion_search` (usearch fixes it when the index is constructed);
 *   - hnswlib-node (npm), directly, not through vecforge's fallback
 *     wrapper: `addPoint` one row at a time (it has no multi-threaded
 *     insert), `searchKnn` one query at a time, `readIndex` of a graph.
 * Every sweep point runs each query once untimed, then the timed pass, as
 * the engine and native sweeps do. Rows and queries are converted to the
 * form each API takes (BigUint64Array keys; number[] rows for
 * hnswlib-node) before any timed region.
 */
import { statSync } from 'node:fs';
import hnswlibNode from 'hnswlib-node';
import { Index as UsearchIndex, MetricKind, ScalarKind } from 'usearch';

/** A row-major matrix of float32 rows. */
export interface Rows {
  readonly data: Float32Array;
  readonly rows: number;
  readonly dims: number;
}

/** One point of an ef sweep. */
export interface SweepPoint {
  readonly ef: number;
  readonly recall: number;
  /** Single-query q/s: one query per call, one thread. */
  readonly qps: number;
  /** Batch q/s with the threads the build used; absent where the API has no batch search. */
  readonly batchQps?: number;
}

/** What a peer's build measured. */
export interface PeerBuild {
  readonly seconds: number;
  readonly rows: number;
  readonly threads: number;
  /** The saved file's bytes per vector, or NaN when not saved. */
  readonly bytesPerVector: number;
}

/**
 * recall@10 of a result list against exact ground truth.
 * @param found - per query, the labels found (nearest first, ≥ 10).
 * @param truth - ground truth, `k` labels per query row.
 * @param k - ground-truth labels per row (≥ 10).
 * @returns the fraction of the true top 10 found in the top 10.
 */
export function recallAt10(found: ReadonlyArray<ArrayLike<number>>, truth: Int32Array, k: number): number {
  let hit = 0;
  found.forEach((labels, q) => {
    const want = new Set<number>();
    for (let j = 0; j < 10; j++) want.add(truth[q * k + j] ?? -1);
    for (let j = 0; j < Math.min(10, labels.length); j++) if (want.has(Number(labels[j]))) hit++;
  });
  return found.length === 0 ? Number.NaN : hit / (found.length * 10);
}

function row(m: Rows, i: number): Float32Array {
  return m.data.subarray(i * m.dims, (i + 1) * m.dims);
}

/** usearch's configuration for our parameters: cosine, float32, connectivity M, expansion_add efConstruction. */
function usearchConfig(dims: number, m: number, efConstruction: number, efSearch: number): ConstructorParameters<typeof UsearchIndex>[0] {
  return { dimensions: dims, metric: MetricKind.Cos, quantization: ScalarKind.F32, connectivity: m, expansion_add: efConstruction, expansion_search: efSearch, multi: false };
}

/**
 * Builds a usearch index of every row with `threads` threads and saves it.
 * Timed: the one `add` call.
 * @param base - the rows (row i gets key i).
 * @param m - connectivity.
 * @param efConstruction - expansion_add.
 * @param threads - add threads.
 * @param file - where the index is saved.
 * @returns the build's time and the file's bytes per vector.
 */
export function usearchBuild(base: Rows, m: number, efConstruction: number, threads: number, file: string): PeerBuild {
  const index = new UsearchIndex(usearchConfig(base.dims, m, efConstruction, 64));
  const keys = BigUint64Array.from({ length: base.rows }, (_, i) => BigInt(i));
  const t0 = performance.now();
  index.add(keys, base.data, threads);
  const seconds = (performance.now() - t0) / 1000;
  if (index.size() !== base.rows) throw new Error(`usearch holds ${index.size()} vectors after adding ${base.rows}`);
  index.save(file);
  return { seconds, rows: base.rows, threads, bytesPerVector: statSync(file).size / base.rows };
}

/**
 * Loads a saved usearch index (timed) with a given expansion_search.
 * @returns the index and the load's seconds.
 */
export function usearchLoad(file: string, dims: number, m: number, efConstruction: number, ef: number): { index: UsearchIndex; seconds: number } {
  const index = new UsearchIndex(usearchConfig(dims, m, efConstruction, ef));
  const t0 = performance.now();
  index.load(file);
  return { index, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The usearch ef sweep: per ef, the saved index is loaded with that
 * expansion_search; a warm-up pass, a timed single-query pass (1 thread),
 * then a timed batch search on `threads` threads; each timed pass runs
 * the queries `reps` times.
 */
export function usearchSweep(file: string, queries: Rows, truth: Int32Array, k: number, m: number, efConstruction: number, efs: readonly number[], threads: number, reps: number): SweepPoint[] {
  return efs.map((ef) => {
    const { index } = usearchLoad(file, queries.dims, m, efConstruction, ef);
    for (let i = 0; i < queries.rows; i++) index.search(row(queries, i), 10, 1);
    const found: BigUint64Array[] = new Array(queries.rows);
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) for (let i = 0; i < queries.rows; i++) found[i] = index.search(row(queries, i), 10, 1).keys;
    const qps = (queries.rows * reps) / ((performance.now() - t0) / 1000);
    let batch = index.search(queries.data, 10, threads);
    const b0 = performance.now();
    for (let r = 0; r < reps; r++) batch = index.search(queries.data, 10, threads);
    const batchQps = (queries.rows * reps) / ((performance.now() - b0) / 1000);
    if (batch.keys.length !== queries.rows * 10) throw new Error(`usearch batch search returned ${batch.keys.length} keys for ${queries.rows} queries`);
    const labels = found.map((keys) => Array.from(keys, Number));
    return { ef, recall: recallAt10(labels, truth, k), qps, batchQps };
  });
}

/**
 * Builds an hnswlib-node graph of the first `rows` rows, one `addPoint`
 * per row on the calling thread (its only way). Timed: the addPoint loop;
 * the rows are turned into the number[] it takes beforehand.
 */
export function hnswlibNodeBuild(base: Rows, rows: number, m: number, efConstruction: number): PeerBuild {
  const arrays = Array.from({ length: rows }, (_, i) => Array.from(row(base, i)));
  const index = new hnswlibNode.HierarchicalNSW('cosine', base.dims);
  index.initIndex(rows, m, efConstruction, 100);
  const t0 = performance.now();
  for (let i = 0; i < rows; i++) index.addPoint(arrays[i] ?? [], i);
  const seconds = (performance.now() - t0) / 1000;
  if (index.getCurrentCount() !== rows) throw new Error(`hnswlib-node holds ${index.getCurrentCount()} points after adding ${rows}`);
  return { seconds, rows, threads: 1, bytesPerVector: Number.NaN };
}

/**
 * Loads a graph file with hnswlib-node's readIndex (timed) and sweeps ef:
 * per ef a warm-up pass and a timed pass of `searchKnn`, one query at a
 * time. hnswlib-node reads hnswlib's own format, so this searches the very
 * graph native hnswlib built and searched.
 * @returns the load's seconds and the sweep.
 */
export async function hnswlibNodeSweep(file: string, capacity: number, queries: Rows, truth: Int32Array, k: number, efs: readonly number[], reps: number): Promise<{ loadSeconds: number; sweep: SweepPoint[] }> {
  const index = new hnswlibNode.HierarchicalNSW('cosine', queries.dims);
  const t0 = performance.now();
  await index.readIndex(file);
  const loadSeconds = (performance.now() - t0) / 1000;
  if (index.getCurrentCount() !== capacity) throw new Error(`hnswlib-node read ${index.getCurrentCount()} points from ${file}, expected ${capacity}`);
  const qs = Array.from({ length: queries.rows }, (_, i) => Array.from(row(queries, i)));
  const sweep = efs.map((ef) => {
    index.setEf(ef);
    for (const q of qs) index.searchKnn(q, 10);
    const found: number[][] = new Array(qs.length);
    const s0 = performance.now();
    for (let r = 0; r < reps; r++) qs.forEach((q, i) => {
      found[i] = index.searchKnn(q, 10).neighbors;
    });
    const qps = (qs.length * reps) / ((performance.now() - s0) / 1000);
    return { ef, recall: recallAt10(found, truth, k), qps };
  });
  return { loadSeconds, sweep };
}
