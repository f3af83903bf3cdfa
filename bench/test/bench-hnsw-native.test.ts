/**
 * The native baseline's options the index suite relies on: huge pages on
 * or off, a warmed sweep repeated --reps times, the load time of a saved
 * graph, and --evict (a file dropped from the page cache, checked by
 * mincore). Built from the real hnswlib headers with g++; run on small
 * seeded vectors with exact ground truth.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { writeFvecs, writeIvecs } from '../src/data/fvecs.js';
import { buildHnswBench } from '../src/native/build.js';
import type { NativeResult } from '../src/suites/index.js';
import { tempDir } from './helpers.js';

function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** Exact cosine top 10 of every query. */
function groundTruth(base: Float32Array, queries: Float32Array, dims: number): Int32Array {
  const norm = (v: Float32Array, i: number): number => Math.hypot(...v.subarray(i * dims, (i + 1) * dims));
  const nb = base.length / dims;
  const nq = queries.length / dims;
  const out = new Int32Array(nq * 10);
  for (let q = 0; q < nq; q++) {
    const scores = Array.from({ length: nb }, (_, b) => {
      let dot = 0;
      for (let j = 0; j < dims; j++) dot += (base[b * dims + j] ?? 0) * (queries[q * dims + j] ?? 0);
      return [dot / (norm(base, b) * norm(queries, q)), b] as const;
    });
    scores.sort((a, b) => b[0] - a[0]);
    for (let j = 0; j < 10; j++) out[q * 10 + j] = scores[j]?.[1] ?? -1;
  }
  return out;
}

describe('hnsw_bench', () => {
  let binary = '';
  let files: string[] = [];
  let dir = '';
  beforeAll(() => {
    binary = buildHnswBench({ verbose: false, outputName: 'hnsw_bench_test' }).binary;
  }, 180_000);

  const setup = (): void => {
    dir = tempDir();
    const dims = 8;
    const base = seeded(1500 * dims, 7);
    const queries = seeded(40 * dims, 11);
    files = [join(dir, 'base.fvecs'), join(dir, 'q.fvecs'), join(dir, 'gt.ivecs')];
    writeFvecs(files[0] ?? '', base, dims);
    writeFvecs(files[1] ?? '', queries, dims);
    writeIvecs(files[2] ?? '', groundTruth(base, queries, dims), 10);
  };
  const run = (args: readonly string[]): NativeResult & { huge_pages: number } => JSON.parse(execFileSync(binary, [...files, '16', '100', '2', join(dir, 'g.hnsw'), ...args], { encoding: 'utf8' })) as NativeResult & { huge_pages: number };

  test('builds, then searches the saved graph with huge pages on or off, warmed and repeated', () => {
    setup();
    const built = run(['--build-only', '--huge-pages=1']);
    expect(built.huge_pages).toBe(1);
    expect(built.build_seconds).toBeGreaterThan(0);
    expect(built.load_seconds).toBe(0);
    expect(built.sweep).toEqual([]);
    const on = run(['--search-only', '--huge-pages=1', '--reps=3']);
    const off = run(['--search-only', '--huge-pages=0']);
    expect(off.huge_pages).toBe(0);
    for (const r of [on, off]) {
      expect(r.load_seconds).toBeGreaterThan(0);
      expect(r.sweep.map((s) => s.ef)).toEqual([10, 20, 40, 80, 160, 320]);
      for (const s of r.sweep) expect(s.queries_per_second).toBeGreaterThan(0);
      // 1,500 rows and ef 320: the search is exhaustive enough to find the exact top 10.
      expect(r.sweep.at(-1)?.recall_at_10).toBeGreaterThanOrEqual(0.99);
    }
    // Huge pages change memory, not results: the same graph gives the same recall.
    expect(on.sweep.map((s) => s.recall_at_10)).toEqual(off.sweep.map((s) => s.recall_at_10));
  });

  test('--evict drops a file from the page cache and says how much stayed', () => {
    setup();
    run(['--build-only']);
    const out = JSON.parse(execFileSync(binary, ['--evict', join(dir, 'g.hnsw'), files[0] ?? ''], { encoding: 'utf8' })) as { evicted: Array<{ bytes: number; resident_fraction: number }> };
    expect(out.evicted).toHaveLength(2);
    expect(out.evicted[0]?.bytes).toBeGreaterThan(1500 * 8 * 4);
    for (const e of out.evicted) {
      expect(e.resident_fraction).toBeGreaterThanOrEqual(0);
      expect(e.resident_fraction).toBeLessThanOrEqual(1);
    }
    expect(() => execFileSync(binary, ['--evict', join(dir, 'missing')], { stdio: 'pipe' })).toThrow();
  });
});
