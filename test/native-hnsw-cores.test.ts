import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { createFallbackHnswCore } from '../src/index/hnsw/fallback-core.js';
import { kHnswNoLabel, type HnswCore } from '../src/index/hnsw/core.js';
import {
  loadHnswCore,
  loadNativeHnswCore,
  nativeHnswAvailable,
} from '../src/index/hnsw/native-core.js';
import { randomRows, clusteredRows, iota, bruteForce, recallAt } from './native-hnsw-helpers.js';

// ---------------------------------------------------------------------------

const kNativeAvailable = nativeHnswAvailable();
const kCores: Array<[string, () => HnswCore]> = [
  ...(kNativeAvailable ? [['native', loadNativeHnswCore] as [string, () => HnswCore]] : []),
  ['hnswlib-node', createFallbackHnswCore],
];

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vecforge-hnsw-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('the native addon is built (set VECFORGE_NATIVE=0 to run without it)', () => {
  if (process.env['VECFORGE_NATIVE'] === '0') return;
  expect(kNativeAvailable).toBe(true);
  expect(loadHnswCore().kind).toBe('native');
});

test('VECFORGE_NATIVE=0 selects the hnswlib-node fallback', () => {
  const saved = process.env['VECFORGE_NATIVE'];
  process.env['VECFORGE_NATIVE'] = '0';
  try {
    const core = loadHnswCore();
    expect(core.kind).toBe('hnswlib-node');
    expect(core.sharedAcrossThreads).toBe(false);
  } finally {
    if (saved === undefined) delete process.env['VECFORGE_NATIVE'];
    else process.env['VECFORGE_NATIVE'] = saved;
  }
});

describe.each(kCores)('%s core', (_name, getCore) => {
  const dims = 16;

  test('adds and finds points; pads short results', async () => {
    const core = getCore();
    const data = randomRows(300, dims, 1);
    const h = core.create('l2', dims, 300, 16, 100, 7, false);
    core.addPoints(h, data, iota(300, 1000));
    expect(core.getCurrentCount(h)).toBe(300);
    expect(core.getMaxElements(h)).toBe(300);
    expect(core.getInfo(h)).toEqual({
      space: 'l2',
      dims,
      M: 16,
      efConstruction: 100,
      maxElements: 300,
      count: 300,
      deleted: 0,
      allowReplaceDeleted: false,
    });
    const res = core.searchKnn(h, data.subarray(0, 3 * dims), 5, 50);
    expect(res.labels.length).toBe(15);
    expect(Array.from(res.counts)).toEqual([5, 5, 5]);
    for (let q = 0; q < 3; q++) {
      expect(res.labels[q * 5]).toBe(1000 + q);
      expect(res.distances[q * 5]).toBeCloseTo(0, 5);
      for (let j = 1; j < 5; j++) {
        expect(res.distances[q * 5 + j] ?? 0).toBeGreaterThanOrEqual(res.distances[q * 5 + j - 1] ?? 0);
      }
    }
    const asyncRes = await core.searchKnnAsync(h, data.subarray(0, 3 * dims), 5, 50);
    expect(Array.from(asyncRes.labels)).toEqual(Array.from(res.labels));
    expect(Array.from(asyncRes.distances)).toEqual(Array.from(res.distances));

    const vector = core.getVector(h, 1002);
    expect(Array.from(vector)).toEqual(Array.from(data.subarray(2 * dims, 3 * dims)));

    const small = core.create('cosine', dims, 10, 16, 100, 7, false);
    core.addPoints(small, data.subarray(0, 3 * dims), iota(3));
    const few = core.searchKnn(small, data.subarray(0, dims), 5, 10);
    expect(few.counts[0]).toBe(3);
    expect(few.labels[0]).toBe(0);
    expect(Array.from(few.labels.subarray(3))).toEqual([kHnswNoLabel, kHnswNoLabel]);
    expect(few.distances[4]).toBe(Number.POSITIVE_INFINITY);
    expect(core.free(small)).toBe(true);
    expect(core.free(small)).toBe(false);
    expect(() => core.getCurrentCount(small)).toThrow(
      new RangeError(`handle ${small} is not an open graph (never created, or already freed)`),
    );
    core.free(h);
  });

  test('addPointsParallel inserts every row', async () => {
    const core = getCore();
    const data = randomRows(2000, dims, 2);
    const h = core.create('ip', dims, 2000, 16, 100, 1, false);
    await core.addPointsParallel(h, data, iota(2000), 2);
    expect(core.getCurrentCount(h)).toBe(2000);
    await expect(core.addPointsParallel(h, data, iota(3), 2)).rejects.toThrow(
      new RangeError('labels.length (3) must equal the number of rows in data (2000)'),
    );
    core.free(h);
  });

  test.each(['l2', 'cosine'] as const)('recall@10 >= 0.95 at ef=100 on 5,000 x 32 clustered (%s)', async (space) => {
    const core = getCore();
    const d = 32;
    const base = clusteredRows(5000, d, 50, 11);
    const queries = clusteredRows(200, d, 50, 11 + 1);
    const h = core.create(space, d, 5000, 16, 200, 3, false);
    await core.addPointsParallel(h, base, iota(5000), 2);
    const res = core.searchKnn(h, queries, 10, 100);
    const recall = recallAt(bruteForce(space, base, queries, d, 10), res.labels, 10);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    core.free(h);
  });

  test('save then load gives identical results', () => {
    const core = getCore();
    const data = randomRows(1000, dims, 3);
    const h = core.create('cosine', dims, 1000, 12, 80, 5, false);
    core.addPoints(h, data, iota(1000));
    core.markDelete(h, 4);
    const file = path.join(dir, 'graph.bin');
    core.save(h, file);
    const loaded = core.load(file, 'cosine', dims, 2000);
    expect(core.getCurrentCount(loaded)).toBe(1000);
    expect(core.getMaxElements(loaded)).toBe(2000);
    expect(core.getDeletedCount(loaded)).toBe(1);
    expect(core.getInfo(loaded)).toMatchObject({ M: 12, efConstruction: 80, dims, space: 'cosine' });
    const queries = randomRows(50, dims, 33);
    const a = core.searchKnn(h, queries, 10, 40);
    const b = core.searchKnn(loaded, queries, 10, 40);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(Array.from(b.distances)).toEqual(Array.from(a.distances));
    expect(() => core.load(file, 'cosine', dims + 1)).toThrow(
      new RangeError(`dims (${dims + 1}) does not match the graph file '${file}' (${dims} dims)`),
    );
    expect(() => core.load(path.join(dir, 'missing.bin'), 'l2', dims)).toThrow(/^cannot open '.*missing\.bin' for reading$/);
    core.free(h);
    core.free(loaded);
  });

  test('markDelete hides labels; replaceDeleted reuses their slots', () => {
    const core = getCore();
    const n = 500;
    const data = randomRows(n, dims, 4);
    const h = core.create('l2', dims, n, 16, 100, 9, true);
    core.addPoints(h, data, iota(n));
    const deleted = [0, 1, 2, 3, 4, 50, 51, 52, 53, 54];
    for (const label of deleted) core.markDelete(h, label);
    expect(core.getDeletedCount(h)).toBe(10);
    const res = core.searchKnn(h, data, 10, 64);
    const returned = new Set(res.labels);
    for (const label of deleted) expect(returned.has(label)).toBe(false);
    expect(() => core.markDelete(h, 3)).toThrow('hnswlib: The requested to delete element is already deleted');
    expect(() => core.markDelete(h, 9999)).toThrow('hnswlib: Label not found');
    expect(() => core.getVector(h, 3)).toThrow('hnswlib: Label not found');

    // The graph is full: new labels fit only by reusing deleted slots.
    expect(() => core.addPoints(h, randomRows(1, dims, 5), iota(1, 10_000))).toThrow(
      'hnswlib: The number of elements exceeds the specified limit',
    );
    const fresh = randomRows(10, dims, 6);
    core.addPoints(h, fresh, iota(10, 20_000), true);
    expect(core.getCurrentCount(h)).toBe(n);
    expect(core.getDeletedCount(h)).toBe(0);
    const again = core.searchKnn(h, fresh, 1, 64);
    expect(Array.from(again.labels)).toEqual(Array.from(iota(10, 20_000)));
    const all = new Set(core.searchKnn(h, data, 10, 64).labels);
    for (const label of deleted) expect(all.has(label)).toBe(false);

    core.markDelete(h, 100);
    expect(core.getDeletedCount(h)).toBe(1);
    core.unmarkDelete(h, 100);
    expect(core.getDeletedCount(h)).toBe(0);
    expect(core.searchKnn(h, data.subarray(100 * dims, 101 * dims), 1, 64).labels[0]).toBe(100);
    expect(() => core.unmarkDelete(h, 100)).toThrow('hnswlib: The requested to undelete element is not deleted');
    core.free(h);
  });

  test('resize grows capacity and refuses to shrink below the count', () => {
    const core = getCore();
    const data = randomRows(200, dims, 7);
    const h = core.create('l2', dims, 100, 16, 100, 1, false);
    core.addPoints(h, data.subarray(0, 100 * dims), iota(100));
    expect(() => core.resize(h, 50)).toThrow(new RangeError('newMaxElements (50) must be >= the current count (100)'));
    core.resize(h, 200);
    core.addPoints(h, data.subarray(100 * dims), iota(100, 100));
    expect(core.getCurrentCount(h)).toBe(200);
    expect(core.getMaxElements(h)).toBe(200);
    expect(core.searchKnn(h, data.subarray(150 * dims, 151 * dims), 1, 20).labels[0]).toBe(150);
    core.free(h);
  });

  test.each(['Uint8Array', 'Uint32Array'] as const)('a %s filter bitset restricts results', (kind) => {
    const core = getCore();
    const n = 1000;
    const data = randomRows(n, dims, 8);
    const h = core.create('l2', dims, n, 16, 100, 2, false);
    core.addPoints(h, data, iota(n));
    const allowed = (label: number): boolean => label % 7 === 3;
    const filter = kind === 'Uint8Array' ? new Uint8Array(Math.ceil(n / 8)) : new Uint32Array(Math.ceil(n / 32));
    for (let label = 0; label < n; label++) {
      if (!allowed(label)) continue;
      if (filter instanceof Uint8Array) filter[label >>> 3] = (filter[label >>> 3] ?? 0) | (1 << (label & 7));
      else filter[label >>> 5] = ((filter[label >>> 5] ?? 0) | (1 << (label & 31))) >>> 0;
    }
    const queries = data.subarray(0, 20 * dims);
    const res = core.searchKnn(h, queries, 10, 100, filter);
    for (let q = 0; q < 20; q++) {
      expect(res.counts[q]).toBe(10);
      for (let j = 0; j < 10; j++) expect(allowed(res.labels[q * 10 + j] ?? 0)).toBe(true);
    }
    const truth = bruteForce('l2', data, queries, dims, n).map((row) => row.filter(allowed).slice(0, 10));
    expect(recallAt(truth, res.labels, 10)).toBeGreaterThanOrEqual(0.95);
    // Labels past the end of the bitset are excluded.
    const none = core.searchKnn(h, queries.subarray(0, dims), 5, 50, new Uint8Array(0));
    expect(none.counts[0]).toBe(0);
    core.free(h);
  });

  test('invalid arguments throw TypeError / RangeError with clear messages', async () => {
    const core = getCore();
    const h = core.create('l2', 4, 10, 16, 100, 1, false);
    const bad = core as unknown as Record<string, (...args: unknown[]) => unknown>;
    const call =
      (name: string, ...args: unknown[]) =>
      (): unknown =>
        bad[name]?.apply(core, args);
    const cases: Array<[() => unknown, ErrorConstructor, string]> = [
      [call('create', 'hamming', 4, 10, 16, 100, 1, false), RangeError, "space must be one of 'l2', 'ip', 'cosine', got 'hamming'"],
      [call('create', 3, 4, 10, 16, 100, 1, false), TypeError, "space must be a string ('l2', 'ip' or 'cosine'), got 3"],
      [call('create', 'l2', 0, 10, 16, 100, 1, false), RangeError, 'dims must be an integer in [1, 65536], got 0'],
      [call('create', 'l2', 2.5, 10, 16, 100, 1, false), RangeError, 'dims must be an integer in [1, 65536], got 2.5'],
      [call('create', 'l2', '4', 10, 16, 100, 1, false), TypeError, "dims must be a number, got '4'"],
      [call('create', 'l2', 4, 10, 1, 100, 1, false), RangeError, 'M must be an integer in [2, 2048], got 1'],
      [call('create', 'l2', 4, 10, 16, 0, 1, false), RangeError, 'efConstruction must be an integer in [1, 1048576], got 0'],
      [call('create', 'l2', 4, 10, 16, 100, -1, false), RangeError, 'seed must be an integer in [0, 4294967295], got -1'],
      [call('create', 'l2', 4, 10, 16, 100, 1, 'yes'), TypeError, "allowReplaceDeleted must be a boolean, got 'yes'"],
      [call('addPoints', h, [1, 2, 3, 4], new Uint32Array(1)), TypeError, 'data must be a Float32Array, got Array'],
      [call('addPoints', h, new Float64Array(4), new Uint32Array(1)), TypeError, 'data must be a Float32Array, got Float64Array'],
      [call('addPoints', h, new Float32Array(4), new Int32Array(1)), TypeError, 'labels must be a Uint32Array, got Int32Array'],
      [call('addPoints', h, new Float32Array(6), new Uint32Array(1)), RangeError, 'data.length (6) must be a multiple of dims (4)'],
      [call('addPoints', h, new Float32Array(8), new Uint32Array(1)), RangeError, 'labels.length (1) must equal the number of rows in data (2)'],
      [call('addPoints', h, new Float32Array(4), new Uint32Array(1), true), RangeError, 'replaceDeleted is true but the graph was created with allowReplaceDeleted = false'],
      [call('addPoints', 0, new Float32Array(4), new Uint32Array(1)), RangeError, 'handle must be an integer in [1, 4294967295], got 0'],
      [call('addPoints', 'h', new Float32Array(4), new Uint32Array(1)), TypeError, "handle must be a number, got 'h'"],
      [call('searchKnn', 123_456, new Float32Array(4), 1, 10), RangeError, 'handle 123456 is not an open graph (never created, or already freed)'],
      [call('searchKnn', h, new Float32Array(5), 1, 10), RangeError, 'queries.length (5) must be a multiple of dims (4)'],
      [call('searchKnn', h, new Float32Array(4), 0, 10), RangeError, 'k must be an integer in [1, 65536], got 0'],
      [call('searchKnn', h, new Float32Array(4), 1, Number.NaN), RangeError, 'ef must be an integer in [1, 1048576], got NaN'],
      [call('searchKnn', h, new Float32Array(4), 1, 10, new Int8Array(2)), TypeError, 'filter must be a Uint8Array or Uint32Array bitset (or undefined), got Int8Array'],
      [call('searchKnn', h, new Float32Array(4), 1, 10, [1]), TypeError, 'filter must be a Uint8Array or Uint32Array bitset (or undefined), got Array'],
      [call('markDelete', h, -1), RangeError, 'label must be an integer in [0, 4294967295], got -1'],
      [call('resize', h, 0), RangeError, 'newMaxElements must be an integer in [1, 4294967295], got 0'],
      [call('save', h, ''), RangeError, 'path must be a non-empty string'],
      [call('save', h, 42), TypeError, 'path must be a string, got 42'],
      [call('load', path.join(dir, 'x'), 'l2', 4, -5), RangeError, 'maxElements must be an integer in [0, 4294967295], got -5'],
    ];
    for (const [fn, type, message] of cases) {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
      let caught: unknown;
      try {
        fn();
      } catch (error: unknown) {
        caught = error;
      }
      expect((caught as Error).message).toBe(message);
    }
    // Async variants reject instead of throwing synchronously.
    const pending = core.searchKnnAsync(h, new Float32Array(5), 1, 10);
    await expect(pending).rejects.toThrow(new RangeError('queries.length (5) must be a multiple of dims (4)'));
    await expect(core.addPointsParallel(h, new Float32Array(4), new Uint32Array(1), 0)).rejects.toThrow(
      new RangeError('numThreads must be an integer in [1, 1024], got 0'),
    );
    expect(() => core.save(h, path.join(dir, 'no-such-dir', 'g.bin'))).toThrow(/^cannot open '.*g\.bin' for writing$/);
    core.free(h);
  });
});
