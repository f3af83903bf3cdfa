import { PCA } from 'ml-pca';
import { beforeAll, describe, expect, test } from 'vitest';
import { defaultOversample, fitPca, kDefaultFitPcaOptions, type FitPcaOptions } from '../src/pca/fit.js';
import type { PcaModel } from '../src/pca/model.js';
import { ReservoirSampler } from '../src/pca/reservoir.js';
import { loadTf, type Tf } from '../src/tensor/backend.js';
import { decayingSpectrumSample, toNestedRows } from './fixtures/pca-data.js';

let tf: Tf;

beforeAll(async () => {
  tf = await loadTf('wasm');
});

/** Row i of the model's components dotted with row j. */
function componentDot(model: PcaModel, i: number, j: number): number {
  const d = model.inputDims;
  let dot = 0;
  for (let t = 0; t < d; t++) dot += model.components[i * d + t]! * model.components[j * d + t]!;
  return dot;
}

function expectOrthonormal(model: PcaModel): void {
  for (let i = 0; i < model.outputDims; i++) {
    for (let j = i; j < model.outputDims; j++) expect(componentDot(model, i, j)).toBeCloseTo(i === j ? 1 : 0, 5);
  }
}

function expectNoNaN(model: PcaModel): void {
  for (const array of [model.mean, model.components, model.explainedVariance]) {
    expect(array.every((value) => Number.isFinite(value))).toBe(true);
  }
  expect(Number.isFinite(model.explainedVarianceRatio)).toBe(true);
}

describe('fitPca against ml-pca', () => {
  const rows = 300;
  const dims = 20;
  const components = 5;
  const sample = decayingSpectrumSample({ rows, dims, seed: 1 });
  const reference = new PCA(toNestedRows(sample, dims));

  test.each<[string, Omit<FitPcaOptions, 'components'>]>([
    ['default options', {}],
    ['a block narrower than the input (oversample 4)', { oversample: 4 }],
    ['minimal oversampling, more iterations', { oversample: 1, iterations: 40 }],
  ])('%s: components match up to sign, variances match', async (_name, options) => {
    const model = await fitPca(sample, dims, { components, ...options }, tf);
    expect(model.inputDims).toBe(dims);
    expect(model.outputDims).toBe(components);
    expect(model.fittedOn).toBe(rows);
    const eigenvectors = reference.getEigenvectors();
    const eigenvalues = reference.getEigenvalues();
    for (let c = 0; c < components; c++) {
      let dot = 0;
      for (let j = 0; j < dims; j++) dot += model.components[c * dims + j]! * eigenvectors.get(j, c);
      expect(Math.abs(dot)).toBeCloseTo(1, 5);
      expect(model.explainedVariance[c]! / eigenvalues[c]!).toBeCloseTo(1, 5);
    }
    expect(model.explainedVarianceRatio).toBeCloseTo(reference.getCumulativeVariance()[components - 1]!, 5);
  });

  test('the mean matches ml-pca and components are orthonormal', async () => {
    const model = await fitPca(sample, dims, { components }, tf);
    const means = reference.toJSON().means;
    for (let j = 0; j < dims; j++) expect(model.mean[j]).toBeCloseTo(means[j]!, 5);
    expectOrthonormal(model);
  });

  test('explained variances decrease and each component has its largest entry positive', async () => {
    const model = await fitPca(sample, dims, { components }, tf);
    for (let c = 1; c < components; c++) expect(model.explainedVariance[c]).toBeLessThanOrEqual(model.explainedVariance[c - 1]!);
    for (let c = 0; c < components; c++) {
      const row = Array.from(model.components.subarray(c * dims, (c + 1) * dims));
      const largest = row.reduce((best, value) => (Math.abs(value) > Math.abs(best) ? value : best), 0);
      expect(largest).toBeGreaterThan(0);
    }
  });

  test('the fit leaves no tensor behind, even when it fails', async () => {
    const before = tf.memory().numTensors;
    await fitPca(sample, dims, { components, oversample: 2 }, tf);
    await fitPca(new Float32Array(rows * dims), dims, { components }, tf);
    await expect(fitPca(sample, dims, { components, signal: AbortSignal.abort() }, tf)).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the fit is deterministic for a seed', async () => {
    const first = await fitPca(sample, dims, { components, seed: 7, oversample: 3 }, tf);
    const second = await fitPca(sample, dims, { components, seed: 7, oversample: 3 }, tf);
    expect(second.components).toEqual(first.components);
    expect(second.explainedVariance).toEqual(first.explainedVariance);
  });
});

describe('fitPca on wider inputs', () => {
  // 520 dims: the covariance is computed in two column blocks; 40 + 16 columns: the Gram–Schmidt fallback runs in two panels.
  test('several covariance blocks and Gram–Schmidt panels still match ml-pca', async () => {
    const rows = 560;
    const dims = 520;
    const components = 40;
    const sample = decayingSpectrumSample({ rows, dims, seed: 21, rank: 120 });
    const model = await fitPca(sample, dims, { components }, tf);
    const reference = new PCA(toNestedRows(sample, dims), { method: 'covarianceMatrix' });
    const eigenvectors = reference.getEigenvectors();
    const eigenvalues = reference.getEigenvalues();
    for (let c = 0; c < components; c++) {
      let dot = 0;
      for (let j = 0; j < dims; j++) dot += model.components[c * dims + j]! * eigenvectors.get(j, c);
      expect(Math.abs(dot)).toBeCloseTo(1, c < 20 ? 4 : 2);
      expect(model.explainedVariance[c]! / eigenvalues[c]!).toBeCloseTo(1, 3);
    }
    expect(model.explainedVarianceRatio).toBeCloseTo(reference.getCumulativeVariance()[components - 1]!, 5);
    expectOrthonormal(model);
  });

  test('rank-deficient data across several panels is completed orthonormally', async () => {
    const dims = 64;
    const sample = decayingSpectrumSample({ rows: 100, dims, seed: 22, rank: 3, noise: 0 });
    const model = await fitPca(sample, dims, { components: 40 }, tf);
    expectNoNaN(model);
    expectOrthonormal(model);
    expect(Array.from(model.explainedVariance.subarray(3))).toEqual(new Array<number>(37).fill(0));
    expect(model.explainedVarianceRatio).toBeCloseTo(1, 5);
  });
});

describe('fitPca on degenerate data', () => {
  test('constant data: no NaN, the first standard basis vectors, variance 0', async () => {
    const dims = 8;
    const sample = new Float32Array(50 * dims).fill(2.5);
    const model = await fitPca(sample, dims, { components: 3 }, tf);
    expectNoNaN(model);
    expect(Array.from(model.mean)).toEqual(new Array<number>(dims).fill(2.5));
    for (let c = 0; c < 3; c++) {
      for (let j = 0; j < dims; j++) expect(model.components[c * dims + j]).toBe(c === j ? 1 : 0);
    }
    expect(Array.from(model.explainedVariance)).toEqual([0, 0, 0]);
    expect(model.explainedVarianceRatio).toBe(0);
  });

  test('rank below components: real axes first, then orthonormal completion with variance 0', async () => {
    const dims = 12;
    const sample = decayingSpectrumSample({ rows: 80, dims, seed: 3, rank: 2, noise: 0 });
    const model = await fitPca(sample, dims, { components: 5 }, tf);
    expectNoNaN(model);
    expectOrthonormal(model);
    expect(model.explainedVariance[0]).toBeGreaterThan(0);
    expect(model.explainedVariance[1]).toBeGreaterThan(0);
    expect(Array.from(model.explainedVariance.subarray(2))).toEqual([0, 0, 0]);
    expect(model.explainedVarianceRatio).toBeCloseTo(1, 5);
  });

  test('as many rows as components (rank n - 1 after centring) still fits', async () => {
    const dims = 10;
    const sample = decayingSpectrumSample({ rows: 4, dims, seed: 4 });
    const model = await fitPca(sample, dims, { components: 4 }, tf);
    expectNoNaN(model);
    expectOrthonormal(model);
    expect(model.explainedVariance[3]).toBe(0);
  });
});

describe('fitPca on extreme magnitudes', () => {
  const dims = 10;
  const base = decayingSpectrumSample({ rows: 120, dims, seed: 12 });
  const scaled = (factor: number): Float32Array => base.map((value) => value * factor);

  // Unscaled, squares of 1e-25 values underflow float32 to 0 and squares of 1e19 values overflow it.
  test.each([1e-25, 1e19])('data scaled by %d gives the same axes and variance ratio', async (factor) => {
    const reference = await fitPca(base, dims, { components: 3 }, tf);
    const model = await fitPca(scaled(factor), dims, { components: 3 }, tf);
    expectNoNaN(model);
    for (let c = 0; c < 3; c++) {
      let dot = 0;
      for (let j = 0; j < dims; j++) dot += model.components[c * dims + j]! * reference.components[c * dims + j]!;
      expect(dot).toBeCloseTo(1, 5);
    }
    expect(model.explainedVarianceRatio).toBeCloseTo(reference.explainedVarianceRatio, 5);
  });

  test('variances scale with the square of the data', async () => {
    const reference = await fitPca(base, dims, { components: 3 }, tf);
    const model = await fitPca(scaled(1e19), dims, { components: 3 }, tf);
    for (let c = 0; c < 3; c++) expect(model.explainedVariance[c]! / (reference.explainedVariance[c]! * 1e38)).toBeCloseTo(1, 5);
  });

  test('a variance beyond the float32 range is a RangeError', async () => {
    await expect(fitPca(scaled(1e20), dims, { components: 3 }, tf)).rejects.toThrow(
      /^the PCA sample's variance .* exceeds the float32 range of a model$/,
    );
  });
});

describe('fitPca validation', () => {
  const dims = 6;
  const sample = decayingSpectrumSample({ rows: 10, dims, seed: 5 });

  test('fewer rows than components is a RangeError', async () => {
    const few = sample.subarray(0, 3 * dims);
    await expect(fitPca(few, dims, { components: 4 }, tf)).rejects.toThrow(RangeError);
    await expect(fitPca(few, dims, { components: 4 }, tf)).rejects.toThrow(
      'the PCA sample has 3 rows, fewer than options.components (4)',
    );
  });

  test('components >= input dims is a RangeError', async () => {
    await expect(fitPca(sample, dims, { components: dims }, tf)).rejects.toThrow(RangeError);
    await expect(fitPca(sample, dims, { components: dims + 3 }, tf)).rejects.toThrow(
      'PCA target dims must be smaller than the input dims: options.components is 9, the input has 6 dims',
    );
  });

  test('a single row is a RangeError', async () => {
    await expect(fitPca(sample.subarray(0, dims), dims, { components: 1 }, tf)).rejects.toThrow(
      'the PCA sample needs at least 2 rows, got 1',
    );
  });

  test('a non-finite value is a RangeError naming its position', async () => {
    const bad = sample.slice();
    bad[2 * dims + 4] = Number.NaN;
    await expect(fitPca(bad, dims, { components: 2 }, tf)).rejects.toThrow(
      'the PCA sample must hold finite values, got NaN at row 2, column 4',
    );
    bad[2 * dims + 4] = Number.POSITIVE_INFINITY;
    await expect(fitPca(bad, dims, { components: 2 }, tf)).rejects.toThrow(RangeError);
  });

  test.each<[string, Partial<FitPcaOptions>, string]>([
    ['components 0', { components: 0 }, 'options.components must be an integer in [1, 8192], got 0'],
    ['fractional components', { components: 1.5 }, 'options.components must be an integer in [1, 8192], got 1.5'],
    ['iterations 0', { components: 2, iterations: 0 }, 'options.iterations must be an integer in [1, 1000], got 0'],
    ['negative oversample', { components: 2, oversample: -1 }, 'options.oversample must be an integer in [0, 10000], got -1'],
    ['seed out of range', { components: 2, seed: 2 ** 32 }, 'options.seed must be an integer in [0, 4294967295], got 4294967296'],
  ])('%s is a RangeError', async (_name, options, message) => {
    await expect(fitPca(sample, dims, options as FitPcaOptions, tf)).rejects.toThrow(RangeError);
    await expect(fitPca(sample, dims, options as FitPcaOptions, tf)).rejects.toThrow(message);
  });

  test('wrong types are TypeErrors', async () => {
    await expect(fitPca(sample, dims, { components: '2' as unknown as number }, tf)).rejects.toThrow(
      'options.components must be an integer in [1, 8192], got "2"',
    );
    await expect(fitPca(Array.from(sample) as unknown as Float32Array, dims, { components: 2 }, tf)).rejects.toThrow(
      'sample must be a Float32Array of row-major rows, got Array',
    );
    await expect(fitPca(sample, dims, { components: 2, signal: {} as AbortSignal }, tf)).rejects.toThrow(TypeError);
  });

  test('bad dims are RangeErrors', async () => {
    await expect(fitPca(sample, 1, { components: 1 }, tf)).rejects.toThrow('dims must be an integer in [2, 8192], got 1');
    await expect(fitPca(sample.subarray(1), dims, { components: 2 }, tf)).rejects.toThrow(
      'sample.length must be a multiple of dims (6), got 59',
    );
  });

  test('errors are rejections, never synchronous throws', () => {
    const pending = fitPca(sample, dims, { components: 0 }, tf);
    expect(pending).toBeInstanceOf(Promise);
    return expect(pending).rejects.toThrow(RangeError);
  });

  test('the defaults are documented values', () => {
    expect(kDefaultFitPcaOptions).toEqual({ iterations: 16, seed: 0x5eed });
    expect(Object.isFrozen(kDefaultFitPcaOptions)).toBe(true);
    expect([1, 64, 65, 256, 1000].map(defaultOversample)).toEqual([16, 16, 17, 64, 250]);
  });
});

describe('fitPca cancellation', () => {
  const dims = 16;
  const sample = decayingSpectrumSample({ rows: 64, dims, seed: 6 });

  test('an aborted signal rejects with AbortError carrying the reason', async () => {
    const reason = new Error('stop');
    const promise = fitPca(sample, dims, { components: 4, signal: AbortSignal.abort(reason) }, tf);
    await expect(promise).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED', cause: reason });
  });

  test('aborting between power iterations rejects and frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const signal = controller.signal;
    // The fit reads signal.aborted at every step (before and after yielding a
    // macrotask). The signal aborts itself on the 6th read: a fixed step in
    // the subspace iteration, whatever the timing.
    const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')?.get;
    if (abortedGetter === undefined) throw new Error('AbortSignal.prototype.aborted has no getter');
    let reads = 0;
    Object.defineProperty(signal, 'aborted', {
      get(): boolean {
        if (++reads === 6) controller.abort('mid-way');
        return abortedGetter.call(signal) as boolean;
      },
    });
    await expect(fitPca(sample, dims, { components: 4, iterations: 50, signal }, tf)).rejects.toMatchObject({
      code: 'ERR_ABORTED',
      cause: 'mid-way',
    });
    // Refused at the read that aborted, not at a later step.
    expect(reads).toBe(6);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('aborting during the fit rejects with AbortError', async () => {
    const controller = new AbortController();
    const promise = fitPca(sample, dims, { components: 4, signal: controller.signal }, tf);
    controller.abort('late');
    await expect(promise).rejects.toMatchObject({ code: 'ERR_ABORTED', cause: 'late' });
  });
});

describe('ReservoirSampler', () => {
  /** A stream whose row i is [i, -i]. */
  function streamRows(start: number, count: number): Float32Array {
    const rows = new Float32Array(count * 2);
    for (let i = 0; i < count; i++) {
      rows[2 * i] = start + i;
      rows[2 * i + 1] = -(start + i);
    }
    return rows;
  }

  function feed(sampler: ReservoirSampler, total: number, batchSizes: readonly number[]): void {
    let position = 0;
    for (let b = 0; position < total; b++) {
      const size = Math.min(batchSizes[b % batchSizes.length]!, total - position);
      sampler.add(streamRows(position, size));
      position += size;
    }
  }

  test('keeps exactly capacity whole rows, spread uniformly over the stream', () => {
    const capacity = 1000;
    const total = 100_000;
    const sampler = new ReservoirSampler(capacity, 2, 42);
    feed(sampler, total, [1, 7, 333, 4096, 0, 50]);
    expect(sampler.count).toBe(capacity);
    expect(sampler.seen).toBe(total);
    const sample = sampler.sample();
    expect(sample.length).toBe(capacity * 2);
    const buckets = new Array<number>(10).fill(0);
    const distinct = new Set<number>();
    for (let i = 0; i < capacity; i++) {
      const index = sample[2 * i]!;
      expect(sample[2 * i + 1]).toBe(-index);
      distinct.add(index);
      buckets[Math.floor(index / (total / 10))]!++;
    }
    expect(distinct.size).toBe(capacity);
    // Pearson chi-square against 100 per bucket; 27.88 is the 0.999 quantile with 9 degrees of freedom.
    const chiSquare = buckets.reduce((sum, observed) => sum + (observed - 100) ** 2 / 100, 0);
    expect(chiSquare).toBeLessThan(27.88);
  });

  test('every stream position is kept with probability capacity / seen', () => {
    const total = 20;
    const capacity = 5;
    const trials = 4000;
    const hits = new Array<number>(total).fill(0);
    for (let seed = 0; seed < trials; seed++) {
      const sampler = new ReservoirSampler(capacity, 2, seed);
      feed(sampler, total, [3]);
      const sample = sampler.sample();
      for (let i = 0; i < capacity; i++) hits[sample[2 * i]!]!++;
    }
    const expected = (trials * capacity) / total;
    // 43.82 is the 0.999 quantile of chi-square with 19 degrees of freedom.
    const chiSquare = hits.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
    expect(chiSquare).toBeLessThan(43.82);
  });

  test('the sample depends on the seed and the rows, not on how they were batched', () => {
    const oneBatch = new ReservoirSampler(64, 2, 9);
    feed(oneBatch, 5000, [5000]);
    const rowByRow = new ReservoirSampler(64, 2, 9);
    feed(rowByRow, 5000, [1]);
    const mixed = new ReservoirSampler(64, 2, 9);
    feed(mixed, 5000, [63, 2, 1000]);
    expect(rowByRow.sample()).toEqual(oneBatch.sample());
    expect(mixed.sample()).toEqual(oneBatch.sample());
    const otherSeed = new ReservoirSampler(64, 2, 10);
    feed(otherSeed, 5000, [5000]);
    expect(otherSeed.sample()).not.toEqual(oneBatch.sample());
  });

  test('a stream shorter than capacity is kept whole and in order', () => {
    const sampler = new ReservoirSampler(10, 2);
    feed(sampler, 4, [3]);
    expect(sampler.count).toBe(4);
    expect(sampler.sample()).toEqual(streamRows(0, 4));
  });

  test('a fitted sample works end to end', async () => {
    const dims = 12;
    const sampler = new ReservoirSampler(200, dims, 1);
    sampler.add(decayingSpectrumSample({ rows: 1000, dims, seed: 8 }));
    const model = await fitPca(sampler.sample(), dims, { components: 3 }, tf);
    expect(model.fittedOn).toBe(200);
    expectOrthonormal(model);
  });

  test('validates its arguments', () => {
    expect(() => new ReservoirSampler(0, 4)).toThrow(new RangeError('capacity must be an integer in [1, 16777216], got 0'));
    expect(() => new ReservoirSampler(10, 0)).toThrow(new RangeError('dims must be an integer in [1, 100000], got 0'));
    expect(() => new ReservoirSampler(10, 4, -1)).toThrow(new RangeError('seed must be an integer in [0, 4294967295], got -1'));
    expect(() => new ReservoirSampler(16_777_216, 100)).toThrow(
      new RangeError('capacity × dims must be at most 1073741824, got 16777216 × 100'),
    );
    const sampler = new ReservoirSampler(10, 4);
    expect(() => sampler.add(new Float32Array(7))).toThrow(new RangeError('rows.length must be a multiple of dims (4), got 7'));
    expect(() => sampler.add([1, 2, 3, 4] as unknown as Float32Array)).toThrow(
      new TypeError('rows must be a Float32Array of row-major rows, got Array'),
    );
  });
});
