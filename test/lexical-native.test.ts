/**
 * The lexical index's two walks agree: the native kernel
 * (native/bm25_ops.cc) and the JavaScript walk (walk.ts) give the same
 * labels and bit-equal scores on Zipf corpora, with removals, filters,
 * labels added out of order and batches on several threads; the postings
 * arena keeps every list across growth and repacking; and the kernel
 * refuses bad arguments with errors that name them.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { LexicalIndex } from '../src/index/lexical/bm25.js';
import { PostingArena } from '../src/index/lexical/postings.js';
import { decodeSegment, encodeSegment } from '../src/index/lexical/segment.js';
import type { LexicalHits } from '../src/index/lexical/top-k.js';
import { nativeAddon } from '../src/native/addon.js';
import { mulberry32 } from '../src/random.js';

const addon = nativeAddon();
const kParams = { k1: 1.2, b: 0.75 };

/** An index on the JavaScript walk whatever the binding. */
function jsIndex(): LexicalIndex {
  const before = process.env['VECFORGE_NATIVE'];
  process.env['VECFORGE_NATIVE'] = '0';
  try {
    return new LexicalIndex(kParams);
  } finally {
    if (before === undefined) delete process.env['VECFORGE_NATIVE'];
    else process.env['VECFORGE_NATIVE'] = before;
  }
}

/** Documents of Zipf-distributed terms (`t0` the most common). */
function zipfDocs(count: number, vocabulary: number, seed: number): string[][] {
  const random = mulberry32(seed);
  const weights = Array.from({ length: vocabulary }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, w) => a + w, 0);
  const draw = (): string => {
    let x = random() * total;
    for (let i = 0; i < vocabulary; i++) {
      x -= weights[i] as number;
      if (x <= 0) return `t${i}`;
    }
    return `t${vocabulary - 1}`;
  };
  return Array.from({ length: count }, () => Array.from({ length: 3 + Math.floor(random() * 40) }, draw));
}

function queriesOf(seed: number, vocabulary: number, count: number): string[][] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(random() * 12) }, () => `t${Math.floor(random() ** 2 * vocabulary)}`));
}

function expectSame(a: readonly LexicalHits[], b: readonly LexicalHits[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((hits, i) => {
    expect(hits.labels, `query ${i}`).toEqual(b[i]?.labels);
    // Bit-equal: the same sums in the same order.
    expect(hits.scores, `query ${i}`).toEqual(b[i]?.scores);
  });
}

describe.runIf(addon !== undefined)('native BM25 kernel', () => {
  afterEach(() => {
    delete process.env['VECFORGE_NATIVE'];
  });

  test('equals the JavaScript walk, with removals, a filter and several threads', () => {
    const docs = zipfDocs(3000, 400, 7);
    const native = new LexicalIndex(kParams);
    const js = jsIndex();
    docs.forEach((d, label) => {
      native.add(label, d);
      js.add(label, d);
    });
    // Removed documents stay in the postings until a compaction: both walks skip them.
    for (let label = 0; label < docs.length; label += 5) {
      native.remove(label);
      js.remove(label);
    }
    const queries = queriesOf(11, 400, 200);
    for (const k of [1, 10, 50, 5000]) {
      const expected = queries.map((q) => js.search(q, k));
      expect(expected.some((h) => h.labels.length > 0)).toBe(true);
      expectSame(native.searchMany(queries, k, undefined, 1), expected);
      expectSame(native.searchMany(queries, k, undefined, 4), expected);
      expectSame(
        queries.map((q) => native.search(q, k)),
        expected,
      );
    }
    const allowed = new Uint8Array(Math.ceil(docs.length / 8));
    for (let label = 0; label < docs.length; label += 3) allowed[label >> 3] = (allowed[label >> 3] as number) | (1 << (label & 7));
    const filtered = queries.map((q) => js.search(q, 10, allowed));
    expect(filtered.flatMap((h) => h.labels).every((l) => l % 3 === 0 && l % 5 !== 0)).toBe(true);
    expectSame(native.searchMany(queries, 10, allowed, 2), filtered);
  });

  test('equals the JavaScript walk over labels added out of order, and past a compaction', () => {
    const docs = zipfDocs(1500, 200, 3);
    const native = new LexicalIndex(kParams);
    const js = jsIndex();
    // Descending labels: no list ascends, so the kernel walks each list whole.
    for (let label = docs.length - 1; label >= 0; label--) {
      native.add(label, docs[label] as string[]);
      js.add(label, docs[label] as string[]);
    }
    const queries = queriesOf(5, 200, 100);
    expectSame(
      native.searchMany(queries, 20, undefined, 2),
      queries.map((q) => js.search(q, 20)),
    );
    // A compaction re-adds documents in label order.
    for (let label = 0; label < 1400; label++) {
      native.remove(label);
      js.remove(label);
    }
    expect(native.docCount).toBe(100);
    expectSame(
      native.searchMany(queries, 20, undefined, 2),
      queries.map((q) => js.search(q, 20)),
    );
  });

  test('segments loaded out of label order: the lists are unsorted until a compaction puts them in order, same hits throughout', () => {
    const docs = zipfDocs(400, 100, 13);
    const source = new LexicalIndex(kParams);
    docs.forEach((d, label) => {
      source.add(label, d);
    });
    const older = encodeSegment(source, Array.from({ length: 200 }, (_, i) => i + 200));
    const newer = encodeSegment(source, Array.from({ length: 200 }, (_, i) => i));
    const loaded = new LexicalIndex(kParams);
    decodeSegment(older, loaded, () => true, 400, 'a');
    decodeSegment(newer, loaded, () => true, 400, 'b');
    expect(loaded.listsSorted).toBe(false);
    const queries = queriesOf(17, 100, 50);
    const expected = queries.map((q) => source.search(q, 10));
    expectSame(loaded.searchMany(queries, 10, undefined, 2), expected);
    loaded.compact();
    expect(loaded.listsSorted).toBe(true);
    expectSame(loaded.searchMany(queries, 10, undefined, 2), expected);
  });

  test('searches that find nothing, and empty batches', () => {
    const native = new LexicalIndex(kParams);
    // The hits alone (each result also carries its resolved terms).
    const hits = (r: readonly LexicalHits[]): LexicalHits[] => r.map(({ labels, scores }) => ({ labels, scores }));
    expect(hits(native.searchMany([['x']], 10))).toEqual([{ labels: [], scores: [] }]);
    native.add(0, ['a', 'b']);
    expect(native.searchMany([], 10)).toEqual([]);
    expect(hits(native.searchMany([[], ['zzz'], ['a']], 10, undefined, 2))).toEqual([{ labels: [], scores: [] }, { labels: [], scores: [] }, native.search(['a'], 10)]);
    expect(hits(native.searchMany([['a']], 0))).toEqual([{ labels: [], scores: [] }]);
  });

  test('refuses bad arguments, naming them', () => {
    const bm25 = (addon as NonNullable<typeof addon>).bm25Search;
    const arena = new Uint32Array([0, 1, 1, 2]);
    const norm = new Float64Array([1, 1]);
    const out = (): [Int32Array, Float64Array, Uint32Array] => [new Int32Array(4), new Float64Array(4), new Uint32Array(1)];
    const ok = (lists: Uint32Array, offsets: Uint32Array, queries: number, weights: Float64Array): void => bm25(arena, lists, offsets, queries, weights, norm, undefined, true, 4, ...out(), 1);
    ok(new Uint32Array([0, 4]), new Uint32Array([0, 1]), 1, new Float64Array([1]));
    expect(() => ok(new Uint32Array([2, 4]), new Uint32Array([0, 1]), 1, new Float64Array([1]))).toThrow(/lists\[0\] runs past the arena/);
    expect(() => ok(new Uint32Array([0, 4]), new Uint32Array([0, 2]), 1, new Float64Array([1]))).toThrow(/lists holds 1 \(start, length\) pairs for 2 terms/);
    expect(() => ok(new Uint32Array([0, 4]), new Uint32Array([1, 0]), 1, new Float64Array([1]))).toThrow(/offsets must not decrease/);
    expect(() => ok(new Uint32Array([0, 4]), new Uint32Array([0]), 1, new Float64Array([1]))).toThrow(/offsets holds 1 values for 1 queries/);
    expect(() => ok(new Uint32Array([0, 4]), new Uint32Array([0, 1]), 1, new Float64Array(0))).toThrow(/weights holds 0 values for 1 terms/);
    expect(() => bm25(arena, new Uint32Array([0, 4]), new Uint32Array([0, 1]), 1, new Float64Array([1]), norm, undefined, true, 4, new Int32Array(1), new Float64Array(4), new Uint32Array(1), 1)).toThrow(/outLabels and outScores/);
    expect(() => bm25(arena, new Uint32Array([0, 4]), new Uint32Array([0, 1]), 1, new Float32Array([1]) as unknown as Float64Array, norm, undefined, true, 4, ...out(), 1)).toThrow(/weights must be a Float64Array/);
    expect(() => bm25(arena, new Uint32Array([0, 4]), new Uint32Array([0, 1]), 1, new Float64Array([1]), norm, undefined, 1 as unknown as boolean, 4, ...out(), 1)).toThrow(/sorted must be a boolean/);
    expect(() => bm25(arena, new Uint32Array([0, 4]), new Uint32Array([0, 1]), 1, new Float64Array([1]), norm, undefined, true, 0, ...out(), 1)).toThrow(/k/);
  });

  test('labels past the norms are skipped, not read', () => {
    const bm25 = (addon as NonNullable<typeof addon>).bm25Search;
    // Label 7 is past the 2 norms; label 1's norm is negative (removed).
    const lists: Record<string, Uint32Array> = { unsorted: new Uint32Array([7, 1, 0, 2, 1, 1]), sorted: new Uint32Array([0, 2, 1, 1, 7, 1]) };
    const [labels, scores, counts] = [new Int32Array(4), new Float64Array(4), new Uint32Array(1)];
    for (const sorted of [true, false]) {
      const arena = lists[sorted ? 'sorted' : 'unsorted'] as Uint32Array;
      bm25(arena, new Uint32Array([0, 6]), new Uint32Array([0, 1]), 1, new Float64Array([2]), new Float64Array([1, -1]), undefined, sorted, 4, labels, scores, counts, 1);
      expect(counts[0]).toBe(1);
      expect(labels[0]).toBe(0);
      expect(scores[0]).toBe((2 * 2) / (2 + 1));
    }
  });
});

describe('postings arena', () => {
  test('keeps every list across growth, moves and repacking', () => {
    const arena = new PostingArena();
    const expected: number[][] = [];
    const random = mulberry32(9);
    for (let label = 0; label < 40_000; label++) {
      // Terms come and go so that lists grow out of order and move.
      const id = Math.floor(random() ** 3 * 500);
      while (arena.terms <= id) {
        arena.addTerm();
        expected.push([]);
      }
      arena.push(id, label, 1 + (label % 7));
      expected[id]?.push(label, 1 + (label % 7));
    }
    expect(arena.sorted).toBe(true);
    for (let id = 0; id < arena.terms; id++) {
      const start = arena.start[id] as number;
      expect(Array.from(arena.values.subarray(start, start + (arena.length[id] as number)))).toEqual(expected[id]);
    }
    // The space left behind is bounded: repacked once it outweighs the live postings.
    expect(arena.allocated).toBeLessThan(4 * 2 * 40_000);
    arena.pack();
    expect(arena.allocated).toBeLessThan(1.25 * 2 * 40_000 + 2 * 500);
    arena.push(0, 3, 1);
    expect(arena.sorted).toBe(false);
    arena.clear();
    expect(arena.terms).toBe(0);
    expect(arena.sorted).toBe(true);
  });
});
