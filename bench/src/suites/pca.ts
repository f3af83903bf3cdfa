/**
 * pca suite: the engine's PCA (fitPca: TF.js covariance + randomized
 * subspace iteration; PcaProjector: one TF.js matmul per batch) vs ml-pca
 * (pure JS, the reference the tests compare against) vs native float32
 * matmul (bench/src/native/matmul.cpp, g++ -O3 -march=native, blocked kernel,
 * and OpenBLAS where installed), side by side in one run.
 *
 * - Fit: 1536 → 256 dims on 20,000 rows (quick: 256 → 32 on 2,000). ml-pca
 *   computes every component by SVD and is far slower (2,000 × 1536 took
 *   84 s), so it runs on a smaller sample (1,000 rows; quick: 200), and the
 *   engine is timed on that same sample too, which gives the paired ratio.
 *   Native code has no PCA here: its baseline is the fit's dominant cost,
 *   the covariance product Xᵀ·X (dims × rows · rows × dims), a lower bound
 *   for any fit that forms the covariance.
 * - Projection: rows/s of `PcaProjector.project` (centre, matmul,
 *   re-normalise) vs TF.js matmul alone vs the native matmul of the same
 *   shapes (4,096 × 1536 · 1536 × 256; quick: 1,024 × 256 · 256 × 32).
 *
 * Data recipe (seeded, {@link spectrumSample}): a random orthonormal basis
 * b₀ … b_{r-1} of a rank-r subspace of R^d (Gram–Schmidt of Gaussian
 * vectors); each row is x = offset + Σᵢ zᵢ · bᵢ / (i + 1) + noise with
 * zᵢ ~ N(0, 1), offset_j = 0.5 + 0.1·j and noise ~ N(0, 0.01²) per value:
 * covariance eigenvalues about 1/(i+1)² + 10⁻⁴, then a flat noise floor,
 * the shape of real embedding spectra (the same recipe as
 * test/fixtures/pca-data.ts, with r < d so the sample builds in seconds).
 *
 * The engine's fit and projection run on one thread (TF.js wasm), so the
 * ratios are taken against native code on one thread; native code on every
 * core is shown beside them.
 */
import { execFileSync } from 'node:child_process';
import { PCA } from 'ml-pca';
import { createRng, fitPca, loadTf, PcaProjector, randomOrthonormalRows, type Tf } from '../internals.js';
import { buildMatmulBench, type MatmulBenchBuild } from '../native/build.js';
import { timeTasks } from '../measure.js';
import { speedRatio, type Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

/** The shapes of one pca suite run. */
export interface PcaShapes {
  /** Input dims. */
  readonly dims: number;
  /** Output dims (components kept). */
  readonly components: number;
  /** Rows of the engine's main fit. */
  readonly fitRows: number;
  /** Rows of the sample both ml-pca and the engine fit. */
  readonly mlPcaRows: number;
  /** Rows of one projection call. */
  readonly projectRows: number;
  /** Rank of the synthetic signal (the rest is the noise floor). */
  readonly rank: number;
}

/** Full and quick shapes. */
export const kPcaShapes: Readonly<{ full: PcaShapes; quick: PcaShapes }> = Object.freeze({
  full: Object.freeze({ dims: 1536, components: 256, fitRows: 20_000, mlPcaRows: 1_000, projectRows: 4_096, rank: 512 }),
  quick: Object.freeze({ dims: 256, components: 32, fitRows: 2_000, mlPcaRows: 200, projectRows: 1_024, rank: 128 }),
});

/** The seed of the suite's sample. */
export const kPcaSampleSeed = 0x5eed;

/** The recipe of {@link spectrumSample}. */
export interface SpectrumRecipe {
  readonly rows: number;
  readonly dims: number;
  /** Latent directions with a non-zero scale; at most dims. */
  readonly rank: number;
  readonly seed: number;
  /** Standard deviation of the per-value noise. @default 0.01 */
  readonly noise?: number;
}

/** Rows generated per TF.js matmul, so the sample builds in bounded memory. */
const kChunkRows = 2048;

/**
 * Draws a seeded sample with a decaying spectrum (the recipe at the top of
 * this file); the latent-to-input product runs as TF.js matmuls.
 * @param recipe - sizes, rank, seed and noise.
 * @param tf - TF.js, from `loadTf`.
 * @returns `rows × dims` row-major values.
 */
export function spectrumSample(recipe: SpectrumRecipe, tf: Tf): Float32Array {
  const { rows, dims, rank, seed } = recipe;
  const noise = recipe.noise ?? 0.01;
  const rng = createRng(seed);
  // Orthonormal directions, the i-th scaled by 1/(i + 1): the decaying spectrum.
  const basis = randomOrthonormalRows(rank, dims, () => rng.nextGaussian());
  for (let i = 0; i < rank; i++) {
    for (let j = 0; j < dims; j++) basis[i * dims + j]! /= i + 1;
  }
  const weights = tf.tensor2d(Float32Array.from(basis), [rank, dims]);
  const out = new Float32Array(rows * dims);
  try {
    for (let start = 0; start < rows; start += kChunkRows) {
      const count = Math.min(kChunkRows, rows - start);
      const z = new Float32Array(count * rank);
      for (let i = 0; i < z.length; i++) z[i] = rng.nextGaussian();
      const signal = tf.tidy(() => tf.matMul(tf.tensor2d(z, [count, rank]), weights));
      const values = signal.dataSync() as Float32Array;
      signal.dispose();
      for (let r = 0; r < count; r++) {
        const at = (start + r) * dims;
        for (let j = 0; j < dims; j++) out[at + j] = values[r * dims + j]! + 0.5 + 0.1 * j + noise * rng.nextGaussian();
      }
    }
  } finally {
    weights.dispose();
  }
  return out;
}

/** One line of the native matmul baseline's JSON output. */
interface MatmulResult {
  readonly impl: string;
  readonly seconds: number;
  readonly reps: number;
  readonly threads: number;
  readonly maxRelError: number;
}

function runMatmul(binary: string, m: number, k: number, n: number, reps: number, threads: number): MatmulResult {
  return JSON.parse(execFileSync(binary, [m, k, n, reps, threads].map(String), { encoding: 'utf8' }).trim()) as MatmulResult;
}

function toNestedRows(values: Float32Array, dims: number): number[][] {
  const rows: number[][] = [];
  for (let start = 0; start < values.length; start += dims) rows.push(Array.from(values.subarray(start, start + dims)));
  return rows;
}

/**
 * Runs the pca figures.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode, workers).
 */
export async function runPcaSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const shapes = ctx.quick ? kPcaShapes.quick : kPcaShapes.full;
  const { dims, components, fitRows, mlPcaRows, projectRows, rank } = shapes;
  const threads = Math.max(2, ctx.maxWorkers);
  const tf = await loadTf('wasm');
  const native: MatmulBenchBuild = buildMatmulBench({ verbose: false });

  const sample = spectrumSample({ rows: fitRows, dims, rank, seed: kPcaSampleSeed }, tf);
  const small = sample.subarray(0, mlPcaRows * dims);
  const recipe = `synthetic decaying spectrum (1/(i+1) scales, rank ${rank}, noise 0.01, seed ${kPcaSampleSeed})`;
  const bigSet = `${recipe}, ${fitRows} × ${dims}`;
  const smallSet = `${recipe}, ${mlPcaRows} × ${dims}`;
  const params = { backend: 'wasm', dims, components };

  // Fit: the engine on the full sample; the engine and ml-pca on the small one.
  const fitIterations = 2;
  let bigModel: Awaited<ReturnType<typeof fitPca>> | undefined;
  const [bigFit] = await timeTasks(
    [
      [
        `engine fitPca ${fitRows}×${dims}→${components}`,
        async () => {
          bigModel = await fitPca(sample, dims, { components }, tf);
        },
      ],
    ],
    fitIterations,
  );
  let smallModel: Awaited<ReturnType<typeof fitPca>> | undefined;
  let mlModel: PCA | undefined;
  // ml-pca takes tens of seconds at full size: one timed iteration each,
  // both on the same sample and both warm: the engine from the fits above,
  // ml-pca from one untimed fit of the sample's first 50 rows (its code
  // compiled by V8 before the timed fit, as the engine's is).
  const nested = toNestedRows(small, dims);
  new PCA(nested.slice(0, Math.min(50, nested.length)), { method: 'SVD', center: true, scale: false });
  const [smallFit, mlFit] = await timeTasks(
    [
      [
        `engine fitPca ${mlPcaRows}×${dims}→${components}`,
        async () => {
          smallModel = await fitPca(small, dims, { components }, tf);
        },
      ],
      [
        `ml-pca SVD ${mlPcaRows}×${dims}`,
        () => {
          mlModel = new PCA(nested, { method: 'SVD', center: true, scale: false });
        },
      ],
    ],
    1,
    false,
  );
  const seconds = (ms: number | undefined): number => (ms ?? Number.NaN) / 1000;
  const fBig = report.figure({ suite: 'pca', name: `fit seconds: engine fitPca ${fitRows}×${dims}→${components}`, value: seconds(bigFit?.meanMs), unit: 's', conditions: { ...params, dataset: bigSet, rows: fitRows, iterations: fitIterations } });
  const fSmall = report.figure({ suite: 'pca', name: `fit seconds: engine fitPca ${mlPcaRows}×${dims}→${components}`, value: seconds(smallFit?.meanMs), unit: 's', conditions: { ...params, dataset: smallSet, rows: mlPcaRows, iterations: 1 } });
  const fMl = report.figure({ suite: 'pca', name: `fit seconds: ml-pca SVD ${mlPcaRows}×${dims} (every component)`, value: seconds(mlFit?.meanMs), unit: 's', conditions: { dims, dataset: smallSet, rows: mlPcaRows, iterations: 1, method: 'SVD' } });

  // How far the engine's top variances are from ml-pca's on the same sample: a sanity check, not a race.
  const mlVariances = mlModel?.getEigenvalues() ?? [];
  const top = Math.min(10, components);
  let varianceGap = 0;
  for (let i = 0; i < top; i++) {
    const want = mlVariances[i] ?? Number.NaN;
    varianceGap = Math.max(varianceGap, Math.abs((smallModel?.explainedVariance[i] ?? Number.NaN) - want) / want);
  }

  // The native lower bound of a fit: the covariance product, one thread and every core.
  const covReps = ctx.quick ? 3 : 1;
  const covariance = (binary: string, t: number): MatmulResult => runMatmul(binary, dims, fitRows, dims, covReps, t);
  const covShape = `dense float32 ${dims}×${fitRows} · ${fitRows}×${dims}`;
  const cov1 = covariance(native.blocked.binary, 1);
  const covN = covariance(native.blocked.binary, threads);
  const covBlas = native.openblas === undefined ? undefined : covariance(native.openblas.binary, threads);
  const nativeCondition = (impl: string, t: number, reps: number): Record<string, string | number> => ({ dataset: covShape, impl, threads: t, reps, values: 'seeded uniform in [-1, 1)' });
  const fCov1 = report.figure({ suite: 'pca', name: `native covariance matmul seconds: blocked, 1 thread`, value: cov1.seconds / cov1.reps, unit: 's', conditions: nativeCondition('blocked', 1, covReps) });
  const fCovN = report.figure({ suite: 'pca', name: `native covariance matmul seconds: blocked, ${threads} threads`, value: covN.seconds / covN.reps, unit: 's', conditions: nativeCondition('blocked', threads, covReps) });
  const fCovBlas =
    covBlas === undefined
      ? undefined
      : report.figure({ suite: 'pca', name: `native covariance matmul seconds: openblas, ${threads} threads`, value: covBlas.seconds / covBlas.reps, unit: 's', conditions: nativeCondition('openblas', threads, covReps) });

  const fitVsMl = speedRatio(fSmall, fMl);
  // The native product runs on other values of the same shape; a dense matmul's time does not depend on them.
  const fitVsNative = speedRatio(fBig, fCov1, { sameDataset: false });
  report.figure({
    suite: 'pca',
    name: `ratio: engine fit (randomized, top ${components}) / ml-pca fit (full SVD, every component) speed, ${mlPcaRows}×${dims}, both warm`,
    value: fitVsMl,
    unit: '×',
    conditions: { ...params, dataset: smallSet, differs: 'fit kind: randomized top-k vs full SVD', warm: 'both' },
  });
  report.figure({ suite: 'pca', name: `ratio: engine fit / native covariance product speed, ${fitRows}×${dims}, 1 thread`, value: fitVsNative, unit: '×', conditions: { ...params, dataset: bigSet, baseline: covShape } });
  report.table({
    suite: 'pca',
    title: `fit ${dims} → ${components} dims, ${recipe}`,
    columns: ['fit', 'rows', 'seconds', 'engine speed ×'],
    rows: [
      [`engine fitPca (TF.js wasm, 1 thread)`, fitRows, fBig.value ?? Number.NaN, 1],
      [`native covariance product only (blocked, 1 thread)`, fitRows, fCov1.value ?? Number.NaN, fitVsNative],
      [`native covariance product only (blocked, ${threads} threads)`, fitRows, fCovN.value ?? Number.NaN, speedRatio(fBig, fCovN, { sameDataset: false })],
      ...(fCovBlas === undefined ? [] : [[`native covariance product only (OpenBLAS, ${threads} threads)`, fitRows, fCovBlas.value ?? Number.NaN, speedRatio(fBig, fCovBlas, { sameDataset: false })]]),
      [`engine fitPca (TF.js wasm, 1 thread)`, mlPcaRows, fSmall.value ?? Number.NaN, 1],
      [`ml-pca SVD (pure JS, every component)`, mlPcaRows, fMl.value ?? Number.NaN, fitVsMl],
    ],
    note:
      `engine speed × = baseline seconds / engine seconds on the same rows (above 1: the engine is faster). Native code has no PCA here: its rows time only the covariance product Xᵀ·X, a lower bound for a fit. ` +
      `On the ${mlPcaRows}-row sample the engine's top ${top} variances differ from ml-pca's by at most ${(varianceGap * 100).toPrecision(2)} %. ` +
      `Engine fits: mean of ${fitIterations} after a warm-up (big sample), 1 after a warm-up (small); ml-pca: 1, no warm-up.` +
      (native.openblasMissing === undefined ? '' : ` ${native.openblasMissing.split(':')[0]}.`),
  });

  // Projection: the projector vs TF.js matmul alone vs native matmul, same shapes.
  const model = bigModel;
  if (model === undefined) throw new Error('the PCA fit did not run');
  const projector = new PcaProjector(model, tf);
  const tfProjector = new PcaProjector(model, tf, 'tfjs');
  const batch = sample.slice(0, projectRows * dims);
  const out = new Float32Array(projectRows * components);
  const weights = tf.tidy(() => tf.transpose(tf.tensor2d(model.components, [components, dims])));
  const projectReps = ctx.quick ? 5 : 20;
  const projShape = `dense float32 ${projectRows}×${dims} · ${dims}×${components}`;
  try {
    const [projTiming, tfProjTiming, matmulTiming] = await timeTasks(
      [
        [`PcaProjector.project (${projector.kernel})`, () => projector.project(batch, out)],
        ['PcaProjector.project (tfjs)', () => tfProjector.project(batch, out)],
        [
          'TF.js matmul only',
          () => {
            const y = tf.tidy(() => tf.matMul(tf.tensor2d(batch, [projectRows, dims]), weights));
            y.dataSync();
            y.dispose();
          },
        ],
      ],
      projectReps,
    );
    const rate = (ms: number | undefined): number => projectRows / ((ms ?? Number.NaN) / 1000);
    const fProj = report.figure({ suite: 'pca', name: `rows/s: engine PcaProjector.project ${projectRows}×${dims}→${components}`, value: rate(projTiming?.meanMs), unit: 'rows/s', conditions: { ...params, dataset: projShape, values: recipe, iterations: projectReps, kernel: projector.kernel } });
    const fTfProj = report.figure({ suite: 'pca', name: `rows/s: engine PcaProjector.project, TF.js kernel ${projectRows}×${dims}→${components}`, value: rate(tfProjTiming?.meanMs), unit: 'rows/s', conditions: { ...params, dataset: projShape, values: recipe, iterations: projectReps, kernel: 'tfjs' } });
    const fTf = report.figure({ suite: 'pca', name: `rows/s: TF.js wasm matmul only ${projectRows}×${dims}→${components}`, value: rate(matmulTiming?.meanMs), unit: 'rows/s', conditions: { ...params, dataset: projShape, values: recipe, iterations: projectReps } });
    const nativeRuns: Array<readonly [string, string, number]> = [
      ['blocked', native.blocked.binary, 1],
      ['blocked', native.blocked.binary, threads],
      ...(native.openblas === undefined ? [] : ([['openblas', native.openblas.binary, 1], ['openblas', native.openblas.binary, threads]] as const)),
    ];
    const rows: Array<Array<string | number>> = [
      [`engine PcaProjector.project, ${projector.kernel} kernel (centre, matmul, re-normalise)`, 1, fProj.value ?? Number.NaN, 1],
      ['engine PcaProjector.project, TF.js kernel (VECFORGE_NATIVE=0 or no addon)', 1, fTfProj.value ?? Number.NaN, speedRatio(fProj, fTfProj)],
      ['TF.js wasm matmul alone', 1, fTf.value ?? Number.NaN, speedRatio(fProj, fTf)],
    ];
    let vsNative1 = Number.NaN;
    for (const [impl, binary, t] of nativeRuns) {
      const r = runMatmul(binary, projectRows, dims, components, projectReps, t);
      const f = report.figure({
        suite: 'pca',
        name: `rows/s: native matmul ${impl} ${projectRows}×${dims}→${components}, ${t} thread${t === 1 ? '' : 's'}`,
        value: (projectRows * r.reps) / r.seconds,
        unit: 'rows/s',
        conditions: { dataset: projShape, impl, threads: t, reps: r.reps, values: 'seeded uniform in [-1, 1)' },
      });
      const ratio = speedRatio(fProj, f);
      if (impl === 'blocked' && t === 1) vsNative1 = ratio;
      rows.push([`native matmul, ${impl}`, t, f.value ?? Number.NaN, ratio]);
    }
    report.figure({ suite: 'pca', name: `ratio: engine projection / native matmul rows/s, ${projectRows}×${dims}→${components}, 1 thread`, value: vsNative1, unit: '×', conditions: { ...params, dataset: projShape } });
    report.table({
      suite: 'pca',
      title: `projection throughput, ${projShape}`,
      columns: ['projector', 'threads', 'rows/s', 'engine speed ×'],
      rows,
      note: `engine speed × = engine rows/s / this row's rows/s (above 1: the engine is faster). Mean of ${projectReps} iterations after a warm-up. In the engine the projection runs in every pool worker, one thread each; its default kernel is the addon's blocked matmul (native/sgemm.h, the same code as the native blocked baseline), TF.js when the addon is missing.`,
    });
  } finally {
    weights.dispose();
    projector.dispose();
    tfProjector.dispose();
  }
}
