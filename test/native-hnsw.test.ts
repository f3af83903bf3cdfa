import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import hnswlibNode from 'hnswlib-node';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { createFallbackHnswCore } from '../src/index/hnsw/fallback-core.js';
import { kHnswNoLabel, type HnswCore, type HnswSpace } from '../src/index/hnsw/core.js';
import {
  loadHnswCore,
  loadNativeHnswCore,
  nativeHnswAddonPath,
  nativeHnswAvailable,
  nativeHnswOpenHandles,
} from '../src/index/hnsw/native-core.js';

// ---------------------------------------------------------------------------
// Data: seeded Gaussian rows for mechanics, a clustered set for recall.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

function randomRows(rows: number, dims: number, seed: number, buffer?: ArrayBufferLike): Float32Array {
  const normal = gaussian(mulberry32(seed));
  const out = buffer === undefined ? new Float32Array(rows * dims) : new Float32Array(buffer, 0, rows * dims);
  for (let i = 0; i < out.length; i++) out[i] = normal();
  return out;
}

/** `rows` points around `clusters` Gaussian centres (spread 1 around centres of scale 4). */
function clusteredRows(
  rows: number,
  dims: number,
  clusters: number,
  seed: number,
  buffer?: ArrayBufferLike,
): Float32Array {
  const rand = mulberry32(seed);
  const normal = gaussian(rand);
  const centres = new Float32Array(clusters * dims);
  for (let i = 0; i < centres.length; i++) centres[i] = 4 * normal();
  const out = buffer === undefined ? new Float32Array(rows * dims) : new Float32Array(buffer, 0, rows * dims);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(rand() * clusters);
    for (let j = 0; j < dims; j++) out[r * dims + j] = (centres[c * dims + j] ?? 0) + normal();
  }
  return out;
}

function iota(n: number, start = 0, buffer?: ArrayBufferLike): Uint32Array {
  const out = buffer === undefined ? new Uint32Array(n) : new Uint32Array(buffer, 0, n);
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}

function distance(space: HnswSpace, a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    aa += x * x;
    bb += y * y;
    l2 += (x - y) * (x - y);
  }
  if (space === 'l2') return l2;
  if (space === 'ip') return 1 - dot;
  return 1 - dot / (Math.sqrt(aa) * Math.sqrt(bb));
}

/** Exact k nearest labels (row index = label) of each query. */
function bruteForce(space: HnswSpace, base: Float32Array, queries: Float32Array, dims: number, k: number): number[][] {
  const n = base.length / dims;
  const out: number[][] = [];
  for (let q = 0; q < queries.length / dims; q++) {
    const query = queries.subarray(q * dims, (q + 1) * dims);
    const scored: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) scored.push([distance(space, query, base.subarray(i * dims, (i + 1) * dims)), i]);
    scored.sort((x, y) => x[0] - y[0]);
    out.push(scored.slice(0, k).map((s) => s[1]));
  }
  return out;
}

function recallAt(truth: number[][], labels: Uint32Array, k: number): number {
  let hits = 0;
  truth.forEach((row, q) => {
    const found = new Set(labels.subarray(q * k, (q + 1) * k));
    for (const label of row) if (found.has(label)) hits++;
  });
  return hits / (truth.length * k);
}

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

describe.skipIf(!kNativeAvailable)('native core only', () => {
  test('hnswlib-node readIndex loads a saved graph and returns the same neighbours', async () => {
    const core = loadNativeHnswCore();
    const d = 24;
    const base = randomRows(3000, d, 21);
    const queries = randomRows(100, d, 22);
    for (const space of ['cosine', 'l2'] as const) {
      const h = core.create(space, d, 3000, 16, 100, 4, false);
      await core.addPointsParallel(h, base, iota(3000), 2);
      const file = path.join(dir, `${space}.bin`);
      core.save(h, file);

      const reader = new hnswlibNode.HierarchicalNSW(space, d);
      await reader.readIndex(file);
      expect(reader.getCurrentCount()).toBe(3000);
      const ef = 60;
      reader.setEf(ef);
      const ours = core.searchKnn(h, queries, 10, ef);
      for (let q = 0; q < 100; q++) {
        const theirs = reader.searchKnn(Array.from(queries.subarray(q * d, (q + 1) * d)), 10);
        expect(Array.from(ours.labels.subarray(q * 10, (q + 1) * 10))).toEqual(theirs.neighbors);
        theirs.distances.forEach((dist, j) => expect(ours.distances[q * 10 + j]).toBeCloseTo(dist, 5));
      }
      core.free(h);
    }
  });

  test('loadBuffer and loadFile build the same graph as load from the same bytes, and refuse damaged bytes naming the problem', async () => {
    const core = loadNativeHnswCore();
    const loadBuffer = core.loadBuffer;
    expect(loadBuffer).toBeTypeOf('function');
    if (loadBuffer === undefined) return;
    const d = 16;
    const n = 4000;
    const base = randomRows(n, d, 31);
    const queries = randomRows(60, d, 32);
    const h = core.create('cosine', d, n, 16, 100, 5, true);
    await core.addPointsParallel(h, base, iota(n), 2);
    for (let label = 0; label < n; label += 13) core.markDelete(h, label);
    const file = path.join(dir, 'buffer.bin');
    core.save(h, file);
    const bytes = readFileSync(file);
    const opened = nativeHnswOpenHandles();
    for (const hugePages of [false, true]) {
      const fromFile = core.load(file, 'cosine', d, 6000, true, hugePages);
      const fromBytes = loadBuffer(bytes, 'cosine', d, 6000, true, hugePages);
      expect(core.getInfo(fromBytes)).toEqual(core.getInfo(fromFile));
      expect(core.getDeletedCount(fromBytes)).toBe(Math.ceil(n / 13));
      const a = core.searchKnn(fromFile, queries, 10, 50);
      const b = core.searchKnn(fromBytes, queries, 10, 50);
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
      expect(Array.from(b.distances)).toEqual(Array.from(a.distances));
      // It grows, takes inserts that reuse deleted slots, and saves the same file as the file-loaded graph.
      const more = randomRows(200, d, 33);
      core.addPoints(fromFile, more, iota(200, n), true);
      core.addPoints(fromBytes, more, iota(200, n), true);
      core.save(fromFile, path.join(dir, 'a.bin'));
      core.save(fromBytes, path.join(dir, 'b.bin'));
      expect(readFileSync(path.join(dir, 'b.bin')).equals(readFileSync(path.join(dir, 'a.bin')))).toBe(true);
      core.free(fromFile);
      core.free(fromBytes);
    }
    // loadFile reads, checksums and builds in one pass: the same graph, the file's SHA-256, nothing built on a mismatch.
    const loadFile = core.loadFile;
    expect(loadFile).toBeTypeOf('function');
    if (loadFile !== undefined) {
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const read = loadFile(file, 'cosine', d, 6000, true, false, sha256);
      expect({ bytes: read.bytes, sha256: read.sha256 }).toEqual({ bytes: bytes.length, sha256 });
      const fromBytes = loadBuffer(bytes, 'cosine', d, 6000, true, false);
      expect(core.getInfo(read.handle)).toEqual(core.getInfo(fromBytes));
      expect(Array.from(core.searchKnn(read.handle, queries, 10, 50).labels)).toEqual(Array.from(core.searchKnn(fromBytes, queries, 10, 50).labels));
      core.free(read.handle);
      core.free(fromBytes);
      expect(loadFile(file, 'cosine', d, 0, true, false, '0'.repeat(64))).toEqual({ handle: 0, bytes: bytes.length, sha256 });
      expect(() => loadFile(file, 'cosine', d + 1, 0, true, false, sha256)).toThrow(/dims \(17\) does not match the graph \(16 dims\)/);
      const short = path.join(dir, 'short.bin');
      writeFileSync(short, bytes.subarray(0, 1000));
      expect(() => loadFile(short, 'cosine', d, 0, true, false)).toThrow(/level-0 block is cut short/);
      expect(loadFile(short, 'cosine', d, 0, true, false, sha256).handle).toBe(0);
    }
    // Damaged bytes: refused before anything is allocated or registered.
    const header = 8 * 6 + 4 + 4 + 8 * 3 + 8 + 8;
    const badNeighbour = Buffer.from(bytes);
    badNeighbour.writeUInt32LE(n + 7, header + 4);
    const badCount = Buffer.from(bytes);
    badCount.writeUInt16LE(40, header);
    const cases: Array<[Uint8Array, RegExp]> = [
      [bytes.subarray(0, 40), /header is cut short/],
      [bytes.subarray(0, header + 100), /level-0 block is cut short/],
      [bytes.subarray(0, bytes.length - 1), /upper-level list is out of range|upper levels are cut short/],
      [Buffer.concat([bytes, Buffer.alloc(1)]), /bytes after the last element/],
      [badNeighbour, /level-0 neighbour list is out of range/],
      [badCount, /level-0 neighbour list is out of range/],
    ];
    for (const [damaged, message] of cases) expect(() => loadBuffer(damaged, 'cosine', d)).toThrow(message);
    expect(() => loadBuffer(bytes, 'cosine', d + 1)).toThrow(/dims \(17\) does not match the graph \(16 dims\)/);
    expect(nativeHnswOpenHandles()).toBe(opened);
    core.free(h);
  });

  test('two worker_threads insert concurrently into one graph; recall within 0.02 of a one-thread build', async () => {
    const core = loadNativeHnswCore();
    const addonPath = nativeHnswAddonPath();
    expect(addonPath).toBeDefined();
    const d = 32;
    const n = 5000;
    const dataSab = new SharedArrayBuffer(n * d * 4);
    const labelSab = new SharedArrayBuffer(n * 4);
    const base = clusteredRows(n, d, 50, 31, dataSab);
    const labels = iota(n, 0, labelSab);
    const queries = clusteredRows(200, d, 50, 32);
    const truth = bruteForce('cosine', base, queries, d, 10);

    const single = core.create('cosine', d, n, 16, 200, 5, false);
    core.addPoints(single, base, labels);
    const singleRecall = recallAt(truth, core.searchKnn(single, queries, 10, 100).labels, 10);

    const shared = core.create('cosine', d, n, 16, 200, 5, false);
    const workerSource = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.addonPath);
      const { handle, dims, begin, end } = workerData;
      const data = new Float32Array(workerData.dataSab, begin * dims * 4, (end - begin) * dims);
      const labels = new Uint32Array(workerData.labelSab, begin * 4, end - begin);
      addon.addPoints(handle, data, labels, false);
      parentPort.postMessage(addon.getCurrentCount(handle));
    `;
    const half = n / 2;
    const run = (begin: number, end: number): Promise<number> =>
      new Promise((resolve, reject) => {
        const worker = new Worker(workerSource, {
          eval: true,
          workerData: { addonPath, handle: shared, dims: d, begin, end, dataSab, labelSab },
        });
        worker.once('message', (count: number) => resolve(count));
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`worker exited with ${code}`));
        });
      });
    await Promise.all([run(0, half), run(half, n)]);
    expect(core.getCurrentCount(shared)).toBe(n);
    const sharedRecall = recallAt(truth, core.searchKnn(shared, queries, 10, 100).labels, 10);
    expect(sharedRecall).toBeGreaterThanOrEqual(singleRecall - 0.02);
    expect(sharedRecall).toBeGreaterThanOrEqual(0.95);
    // Every label is present exactly once.
    const self = core.searchKnn(shared, base, 1, 50);
    let selfHits = 0;
    for (let i = 0; i < n; i++) if (self.labels[i] === i) selfHits++;
    expect(selfHits / n).toBeGreaterThan(0.99);
    core.free(single);
    core.free(shared);
  });

  test('free while an async insert runs is safe; the handle is gone afterwards', async () => {
    const core = loadNativeHnswCore();
    const d = 16;
    const data = randomRows(4000, d, 41);
    const h = core.create('l2', d, 4000, 16, 100, 1, false);
    const inserting = core.addPointsParallel(h, data, iota(4000), 2);
    const searching = core.searchKnnAsync(h, data.subarray(0, 10 * d), 5, 20);
    expect(core.free(h)).toBe(true);
    await expect(inserting).resolves.toBeUndefined();
    await expect(searching).resolves.toMatchObject({ counts: expect.any(Uint32Array) });
    expect(() => core.searchKnn(h, data.subarray(0, d), 1, 10)).toThrow(RangeError);
  });

  test('searches, deletes and resizes interleave safely with a parallel insert', async () => {
    const core = loadNativeHnswCore();
    const d = 16;
    const n = 12_000;
    const data = randomRows(n, d, 61);
    const h = core.create('l2', d, n / 2, 16, 100, 1, false);
    core.addPoints(h, data.subarray(0, 1000 * d), iota(1000));
    core.resize(h, n);
    let done = false;
    const inserting = core.addPointsParallel(h, data.subarray(1000 * d), iota(n - 1000, 1000), 2).finally(() => {
      done = true;
    });
    let rounds = 0;
    while (!done || rounds < 3) {
      const res = await core.searchKnnAsync(h, data.subarray(0, 20 * d), 5, 32);
      for (let i = 0; i < res.labels.length; i++) {
        const label = res.labels[i] ?? kHnswNoLabel;
        expect(label === kHnswNoLabel || label < n).toBe(true);
      }
      const sync = core.searchKnn(h, data.subarray(0, d), 1, 16);
      expect(sync.labels[0]).toBe(0);
      if (rounds === 1) core.resize(h, n + 500);
      if (rounds === 2) core.markDelete(h, 999);
      rounds++;
    }
    await inserting;
    expect(core.getCurrentCount(h)).toBe(n);
    expect(core.getDeletedCount(h)).toBe(1);
    expect(core.getMaxElements(h)).toBe(n + 500);
    expect(rounds).toBeGreaterThan(3);
    core.free(h);
  });

  test('a graph moved into huge pages on load searches, grows and saves exactly like one left in place', () => {
    // 6,000 × 96 dims is ~3 MB of level-0 block: above the 2 MiB huge page, so the move happens.
    const core = loadNativeHnswCore();
    const d = 96;
    const data = randomRows(6000, d, 61);
    const h = core.create('cosine', d, 6000, 12, 40, 7, false);
    core.addPoints(h, data.subarray(0, 5000 * d), iota(5000));
    const file = path.join(dir, 'huge.bin');
    core.save(h, file);
    const moved = core.load(file, 'cosine', d, 5000, false, true);
    const inPlace = core.load(file, 'cosine', d, 5000, false, false);
    const queries = randomRows(40, d, 62);
    const expectSame = (): void => {
      const a = core.searchKnn(inPlace, queries, 10, 60);
      const b = core.searchKnn(moved, queries, 10, 60);
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
      expect(Array.from(b.distances)).toEqual(Array.from(a.distances));
    };
    expectSame();
    expect(Array.from(core.searchKnn(moved, queries, 10, 60).labels)).toEqual(Array.from(core.searchKnn(h, queries, 10, 60).labels));
    // Growing reallocates the moved block; vectors and links must survive it.
    for (const g of [moved, inPlace]) {
      core.resize(g, 6000);
      core.addPoints(g, data.subarray(5000 * d), iota(1000, 5000));
    }
    expectSame();
    expect(Array.from(core.getVector(moved, 5999))).toEqual(Array.from(core.getVector(inPlace, 5999)));
    core.save(moved, path.join(dir, 'moved.bin'));
    core.save(inPlace, path.join(dir, 'in-place.bin'));
    expect(readFileSync(path.join(dir, 'moved.bin')).equals(readFileSync(path.join(dir, 'in-place.bin')))).toBe(true);
    expect(() => core.load(file, 'cosine', d, 5000, false, 'yes' as unknown as boolean)).toThrow(new TypeError("hugePages must be a boolean, got 'yes'"));
    for (const g of [h, moved, inPlace]) core.free(g);
  });

  test('inserts and searches from a SharedArrayBuffer view are read in place', () => {
    const core = loadNativeHnswCore();
    const d = 8;
    const sab = new SharedArrayBuffer(100 * d * 4);
    const data = randomRows(100, d, 51, sab);
    const h = core.create('l2', d, 100, 16, 50, 1, false);
    core.addPoints(h, data, iota(100));
    const res = core.searchKnn(h, new Float32Array(sab, 10 * d * 4, d), 1, 10);
    expect(res.labels[0]).toBe(10);
    core.free(h);
  });
});
