/**
 * The convex fusion and what it reads: fuse() with each side's scores of the
 * other side's candidates (hand-made and against a plain reference), BM25
 * of given documents (equal to a search's scores, bit for bit), the native
 * binding's distances to given labels (equal to a search's) and the
 * portable path's, and a term repeated in a query counting as often as it
 * appears.
 */
import { describe, expect, test } from 'vitest';
import { vectorScoresMany, vectorScoresOf } from '../src/index/cross-scores.js';
import { createFallbackHnswCore } from '../src/index/hnsw/fallback-core.js';
import { loadNativeHnswCore, nativeHnswAvailable } from '../src/index/hnsw/native-core.js';
import { LexicalIndex } from '../src/index/lexical/bm25.js';
import { fuse, type Ranking } from '../src/index/lexical/fusion.js';
import { resolveFusionOptions } from '../src/index/lexical/options.js';
import { nativeAddon } from '../src/native/addon.js';
import type { IndexState } from '../src/index/state.js';
import { mulberry32 } from '../src/random.js';

const kParams = { k1: 1.2, b: 0.75 };

describe('convex fusion', () => {
  const vector: Ranking = { keys: [1, 2, 3], scores: [0.9, 0.8, 0.1], length: 3, cross: [3, 0, 12], floor: -1 };
  const lexical: Ranking = { keys: [3, 4, 1], scores: [12, 6, 3], length: 3, cross: [0.1, Number.NaN, 0.9] };

  test('each side over its theoretical range up to its best candidate, then the weighted mean', () => {
    const fused = fuse(vector, lexical, resolveFusionOptions({ method: 'convex' }, 4), 4);
    const nv = (x: number): number => (x + 1) / 1.9;
    const nl = (x: number): number => x / 12;
    // 4 has no vector (NaN): its vector part is the least, 0.
    const want = new Map([
      [1, 0.5 * nv(0.9) + 0.5 * nl(3)],
      [2, 0.5 * nv(0.8) + 0.5 * nl(0)],
      [3, 0.5 * nv(0.1) + 0.5 * nl(12)],
      [4, 0.5 * nl(6)],
    ]);
    expect(fused.map((f) => f.key)).toEqual([3, 1, 2, 4]);
    for (const f of fused) expect(f.score).toBeCloseTo(want.get(f.key) as number, 12);
    // Ranks say which side found a document, not which side scored it.
    expect(fused.map((f) => [f.vectorRank, f.lexicalRank])).toEqual([
      [3, 1],
      [1, 3],
      [2, undefined],
      [undefined, 2],
    ]);
  });

  test('weights tilt the mean; a space without a least score is min-max over the candidates; no cross scores count as the least', () => {
    const lexHeavy = fuse(vector, lexical, resolveFusionOptions({ method: 'convex', weights: { vector: 1, lexical: 3 } }, 4), 4);
    expect(lexHeavy[0]?.score).toBeCloseTo(0.25 * (1.1 / 1.9) + 0.75, 12);
    const noFloor = fuse({ ...vector, floor: undefined }, lexical, resolveFusionOptions({ method: 'convex' }, 4), 4);
    // Vector scores 0.1 … 0.9 over the union: (x − 0.1) / 0.8.
    expect(noFloor.find((f) => f.key === 2)?.score).toBeCloseTo(0.5 * (0.7 / 0.8), 12);
    const bare = fuse({ keys: [1, 2], scores: [0.5, 0.4], length: 2 }, { keys: [3], scores: [2], length: 1 }, resolveFusionOptions({ method: 'convex' }, 3), 3);
    // Unknown scores: 1 and 2 have no BM25 (0), 3 no vector score (the least).
    expect(bare.map((f) => [f.key, f.score])).toEqual([
      [1, 0.5],
      [3, 0.5],
      [2, 0],
    ]);
    const zero = fuse(vector, lexical, resolveFusionOptions({ method: 'convex', weights: { vector: 0, lexical: 0 } }, 4), 4);
    expect(zero.every((f) => f.score === 0)).toBe(true);
    expect(zero.map((f) => f.key)).toEqual([1, 2, 3, 4]);
  });

  test('equals a plain computation over every candidate, for random rankings and any k', () => {
    const rand = mulberry32(11);
    for (let trial = 0; trial < 40; trial++) {
      const side = (n: number, scale: number): { keys: number[]; scores: number[]; cross: number[] } => {
        const keys = Array.from({ length: n }, () => Math.floor(rand() * 60));
        return { keys, scores: keys.map((_, i) => scale * (1 - i / (n + 1))), cross: keys.map(() => (rand() < 0.2 ? 0 : rand() * scale)) };
      };
      const v = side(Math.floor(rand() * 40), 1);
      const l = side(Math.floor(rand() * 40), 20);
      // Some lexical candidates without a vector.
      const lCross = l.cross.map((x) => (rand() < 0.15 ? Number.NaN : x / 20));
      const floor = trial % 2 === 0 ? -1 : undefined;
      const weights = { vector: rand() * 2, lexical: rand() * 2 };
      const all = new Map<number, { v: number; l: number; vr?: number; lr?: number }>();
      v.keys.forEach((key, i) => {
        if (!all.has(key)) all.set(key, { v: v.scores[i] as number, l: v.cross[i] as number, vr: i + 1 });
      });
      l.keys.forEach((key, i) => {
        const e = all.get(key);
        if (e === undefined) all.set(key, { v: lCross[i] as number, l: l.scores[i] as number, lr: i + 1 });
        else if (e.lr === undefined) {
          e.l = l.scores[i] as number;
          e.lr = i + 1;
        }
      });
      const vs = [...all.values()].map((e) => e.v).filter((x) => !Number.isNaN(x));
      const lo = floor ?? Math.min(...vs);
      const vMax = Math.max(...vs);
      const lMax = Math.max(0, ...[...all.values()].map((e) => e.l));
      const total = weights.vector + weights.lexical;
      const score = (e: { v: number; l: number }): number =>
        (weights.vector / total) * (Number.isNaN(e.v) ? 0 : vMax > lo ? (e.v - lo) / (vMax - lo) : 1) + (weights.lexical / total) * (lMax > 0 ? e.l / lMax : 0);
      const r = (x: number | undefined): number => x ?? Number.POSITIVE_INFINITY;
      const sorted = [...all.entries()].map(([key, e]) => ({ key, score: score(e), vr: e.vr, lr: e.lr })).sort((a, b) => b.score - a.score || r(a.vr) - r(b.vr) || r(a.lr) - r(b.lr) || a.key - b.key);
      for (const k of [1, 5, 100]) {
        const got = fuse({ keys: v.keys, scores: v.scores, length: v.keys.length, cross: v.cross, ...(floor !== undefined ? { floor } : {}) }, { keys: l.keys, scores: l.scores, length: l.keys.length, cross: lCross }, resolveFusionOptions({ method: 'convex', weights }, 1), k);
        expect(got.map((c) => [c.key, c.vectorRank, c.lexicalRank])).toEqual(sorted.slice(0, k).map((c) => [c.key, c.vr, c.lr]));
        for (const [j, c] of got.entries()) expect(c.score).toBeCloseTo(sorted[j]?.score ?? Number.NaN, 12);
      }
    }
  });
});

describe('BM25 of given documents', () => {
  const docs = [['a', 'b', 'c'], ['a', 'a', 'd'], ['b', 'e'], ['c', 'c', 'c', 'a'], ['f']];
  const build = (): LexicalIndex => {
    const index = new LexicalIndex(kParams);
    for (const [label, terms] of docs.entries()) index.add(label, terms);
    return index;
  };

  test('equal what a search gives them, bit for bit; 0 for a document without the terms, a removed one, a label past the index', () => {
    const index = build();
    for (const q of [['a'], ['a', 'c'], ['c', 'b', 'zz'], ['a', 'a', 'e']]) {
      const hits = index.search(q, 10);
      const scores = index.scoreLabels(q, hits.labels);
      expect(Array.from(scores)).toEqual(hits.scores);
      const [many] = index.searchMany([q], 10);
      expect(Array.from(index.scoreLabels(many?.resolved ?? q, hits.labels))).toEqual(hits.scores);
    }
    expect(Array.from(index.scoreLabels(['a'], [4, 2, 99, 0xffffffff]))).toEqual([0, 0, 0, 0]);
    index.remove(1);
    expect(index.scoreLabels(['a'], [1])[0]).toBe(0);
    expect(Array.from(index.scoreLabels(['a'], index.search(['a'], 10).labels))).toEqual(index.search(['a'], 10).scores);
  });

  test('terms resolved before the index changed are resolved again (a compaction renumbers terms)', () => {
    // Terms interned before the documents' own, then removed: a compaction moves every id down.
    const index = new LexicalIndex(kParams);
    for (let label = 100; label < 5100; label++) index.add(label, [`w${label}`]);
    for (const [label, terms] of docs.entries()) index.add(label, terms);
    const [before] = index.searchMany([['c', 'a']], 10);
    for (let label = 100; label < 5100; label++) index.remove(label);
    const now = index.search(['c', 'a'], 10);
    expect(now.labels.length).toBe(3);
    expect(Array.from(index.scoreLabels(before?.resolved ?? [], now.labels))).toEqual(now.scores);
  });

  test('a term repeated in the query counts as often as it appears', () => {
    const index = build();
    const once = index.search(['c'], 10);
    const twice = index.search(['c', 'c'], 10);
    expect(twice.labels).toEqual(once.labels);
    expect(twice.scores).toEqual(once.scores.map((s) => 2 * s));
  });
});

describe.skipIf(nativeAddon() === undefined)('native distances to given labels', () => {
  test('equal the distances a search returns; NaN for a label not held or deleted; malformed arguments refused by name', () => {
    const addon = nativeAddon();
    if (addon === undefined) throw new Error('unreachable');
    const rand = mulberry32(3);
    for (const space of ['cosine', 'l2', 'ip'] as const) {
      const dims = 8;
      const handle = addon.create(space, dims, 200, 8, 50, 1, false);
      try {
        const data = Float32Array.from({ length: 100 * dims }, () => rand() - 0.5);
        addon.addPoints(handle, data, Uint32Array.from({ length: 100 }, (_, i) => i));
        addon.markDelete(handle, 7);
        const queries = Float32Array.from({ length: 2 * dims }, () => rand() - 0.5);
        const found = addon.searchKnn(handle, queries, 10, 100);
        const labels = new Uint32Array([...found.labels.subarray(0, 10), 7, 555, ...found.labels.subarray(10, 20)]);
        const offsets = new Uint32Array([0, 12, 22]);
        const out = addon.labelScores(handle, queries, labels, offsets, new Float32Array(22));
        expect(Array.from(out.subarray(0, 10))).toEqual(Array.from(found.distances.subarray(0, 10)));
        expect(Number.isNaN(out[10])).toBe(true);
        expect(Number.isNaN(out[11])).toBe(true);
        expect(Array.from(out.subarray(12, 22))).toEqual(Array.from(found.distances.subarray(10, 20)));
        expect(() => addon.labelScores(handle, queries, labels, new Uint32Array([0, 12]), new Float32Array(22))).toThrow(/offsets must hold queries \+ 1 = 3 entries, got 2/);
        expect(() => addon.labelScores(handle, queries, labels, new Uint32Array([0, 30, 40]), new Float32Array(40))).toThrow(/past labels/);
        expect(() => addon.labelScores(handle, queries, labels, new Uint32Array([0, 12, 5]), new Float32Array(22))).toThrow(/must not decrease/);
        expect(() => addon.labelScores(handle, queries, labels, offsets, new Float32Array(3))).toThrow(/out must hold at least 22 values, got 3/);
        expect(() => addon.labelScores(handle, queries, labels, offsets, new Float64Array(22) as unknown as Float32Array)).toThrow(/out must be a Float32Array/);
        expect(() => addon.labelScores(handle, queries.subarray(1), labels, offsets, new Float32Array(22))).toThrow(RangeError);
      } finally {
        addon.free(handle);
      }
    }
  });
});

describe('vector scores of given documents', () => {
  test('the portable path (stored vectors, any core) equals the native one, for every space', () => {
    const rand = mulberry32(9);
    const dims = 6;
    const data = Float32Array.from({ length: 50 * dims }, () => rand() - 0.5);
    const query = Float32Array.from({ length: dims }, () => rand() - 0.5);
    const labels = Uint32Array.from([3, 0, 49, 17, 77, 5]);
    const cores = [createFallbackHnswCore(), ...(nativeHnswAvailable() ? [loadNativeHnswCore()] : [])];
    for (const space of ['cosine', 'l2', 'ip'] as const) {
      const results = cores.map((core) => {
        const handle = core.create(space, dims, 64, 8, 50, 1, false);
        core.addPoints(handle, data, Uint32Array.from({ length: 50 }, (_, i) => i));
        core.markDelete(handle, 5);
        // The parts of an index's state the scoring reads.
        const s = { core, handle, graphLoad: null, pca: null, options: { space, dims } } as unknown as IndexState;
        const [many] = vectorScoresMany(s, [{ vector: query, labels }]);
        const one = vectorScoresOf(s, query, labels);
        core.free(handle);
        return { many: Array.from(many ?? []), one: Array.from(one) };
      });
      for (const r of results) {
        // Unknown (77) and deleted (5) labels have no score.
        expect(r.many.slice(4).every(Number.isNaN)).toBe(true);
        expect(r.one.slice(4).every(Number.isNaN)).toBe(true);
        const want = [3, 0, 49, 17].map((label) => {
          const v = data.subarray(label * dims, (label + 1) * dims);
          const dot = v.reduce((a, x, j) => a + x * (query[j] as number), 0);
          const nv = Math.hypot(...v);
          const nq = Math.hypot(...query);
          return space === 'l2' ? -v.reduce((a, x, j) => a + (x - (query[j] as number)) ** 2, 0) : space === 'cosine' ? dot / (nv * nq) : dot;
        });
        for (const [j, w] of want.entries()) {
          expect(r.many[j]).toBeCloseTo(w, 5);
          expect(r.one[j]).toBeCloseTo(w, 5);
        }
      }
    }
  });
});
