import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import hnswlibNode from 'hnswlib-node';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { kHnswNoLabel, type HnswSearchResult } from '../src/index/hnsw/core.js';
import {
  loadNativeHnswCore,
  nativeHnswAvailable,
  nativeHnswOpenHandles,
} from '../src/index/hnsw/native-core.js';
import { nativeAddonPath } from '../src/native/addon.js';
import { randomRows, clusteredRows, iota, bruteForce, recallAt } from './native-hnsw-helpers.js';

const kNativeAvailable = nativeHnswAvailable();

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vecforge-hnsw-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
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
        for (const [j, dist] of theirs.distances.entries()) expect(ours.distances[q * 10 + j]).toBeCloseTo(dist, 5);
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
    const addonPath = nativeAddonPath();
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
    const inserting = core.addPointsParallel(h, data.subarray(1000 * d), iota(n - 1000, 1000), 2);
    // Everything below runs in the same synchronous stretch right after the
    // launch, and the element count proves the insert was still running
    // through all of it (it reaches n only when the last row goes in).
    const during: number[] = [core.getCurrentCount(h)];
    const asyncSearches: Array<Promise<HnswSearchResult>> = [];
    for (let round = 0; round < 3; round++) {
      asyncSearches.push(core.searchKnnAsync(h, data.subarray(0, 20 * d), 5, 32));
      const sync = core.searchKnn(h, data.subarray(0, d), 1, 16);
      expect(sync.labels[0]).toBe(0);
      if (round === 1) core.resize(h, n + 500);
      if (round === 2) core.markDelete(h, 999);
      during.push(core.getCurrentCount(h));
    }
    expect(during).toHaveLength(4);
    expect(during.every((count) => count < n)).toBe(true);
    for (const res of await Promise.all(asyncSearches)) {
      expect(res.labels).toHaveLength(100);
      for (let i = 0; i < res.labels.length; i++) {
        const label = res.labels[i] ?? kHnswNoLabel;
        expect(label === kHnswNoLabel || label < n).toBe(true);
      }
    }
    await inserting;
    expect(core.getCurrentCount(h)).toBe(n);
    expect(core.getDeletedCount(h)).toBe(1);
    expect(core.getMaxElements(h)).toBe(n + 500);
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
