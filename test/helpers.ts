/**
 * Shared test helpers: the model cache location, temp dirs, vector math and
 * a plain-JS reference of the SIF kernel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { ensureGloveCache } from '../src/models/glove/convert.js';
import { lookupWord, type GloveTable } from '../src/models/glove/layout.js';
import { kTestCacheDir } from './cache-dir.js';
import { tokenizeToRows } from '../src/models/glove/tokenize.js';

export { kRepoRoot, kTestCacheDir } from './cache-dir.js';

const temps: string[] = [];

/**
 * A fresh temporary directory, removed after the current test.
 * @param prefix - a name prefix.
 * @returns its path.
 */
export function tempDir(prefix = 'vecforge-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Cosine of rows a and b of a row-major matrix of unit vectors.
 * @param v - the matrix.
 * @param dims - row length.
 * @param a - first row.
 * @param b - second row.
 * @returns their dot product.
 */
export function dotRows(v: Float32Array, dims: number, a: number, b: number): number {
  let s = 0;
  for (let i = 0; i < dims; i++) s += (v[a * dims + i] ?? 0) * (v[b * dims + i] ?? 0);
  return s;
}

/**
 * Row i of a row-major matrix.
 * @param v - the matrix.
 * @param dims - row length.
 * @param i - the row.
 * @returns a copy of the row.
 */
export function row(v: Float32Array, dims: number, i: number): Float32Array {
  return v.slice(i * dims, (i + 1) * dims);
}

/**
 * Plain-JS SIF reference: weighted average, common component removed,
 * normalised; written independently of the TF.js kernel to check it.
 * @param t - the GloVe table.
 * @param text - one text.
 * @returns the unit vector, or zeros when no word is known.
 */
export function referenceSif(t: GloveTable, text: string): Float64Array {
  const dims = t.header.dims;
  const rows: number[] = [];
  tokenizeToRows(t, text, rows);
  const v = new Float64Array(dims);
  for (const r of rows) {
    const w = (t.weights[r] ?? 0) / rows.length;
    for (let d = 0; d < dims; d++) v[d] = (v[d] ?? 0) + w * (t.vectors[r * dims + d] ?? 0);
  }
  let proj = 0;
  for (let d = 0; d < dims; d++) proj += (v[d] ?? 0) * (t.pc[d] ?? 0);
  let norm = 0;
  for (let d = 0; d < dims; d++) {
    v[d] = (v[d] ?? 0) - proj * (t.pc[d] ?? 0);
    norm += (v[d] ?? 0) ** 2;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (let d = 0; d < dims; d++) v[d] = (v[d] ?? 0) / norm;
  return v;
}

/**
 * Real GloVe word vectors for tests: rows [from, from + n) of the converted
 * wink table, unit-normalised.
 * @param n - rows.
 * @param from - first row (the default skips the most frequent words).
 * @returns n × 100, row-major.
 */
export function gloveRows(n: number, from = 1000): Float32Array {
  const { buffer, header } = ensureGloveCache(kTestCacheDir);
  const all = new Float32Array(buffer, 128, header.count * header.dims);
  const out = all.slice(from * header.dims, (from + n) * header.dims);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < 100; d++) s += (out[i * 100 + d] ?? 0) ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < 100; d++) out[i * 100 + d] = (out[i * 100 + d] ?? 0) * inv;
  }
  return out;
}

/**
 * Exact top-k by inner product over 100-d rows (brute force).
 * @param base - n × 100 rows.
 * @param q - one query.
 * @param k - neighbours.
 * @returns row numbers, best first.
 */
export function exactTopK(base: Float32Array, q: Float32Array, k: number): number[] {
  const n = base.length / 100;
  const scores: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < 100; d++) s += (base[i * 100 + d] ?? 0) * (q[d] ?? 0);
    scores.push([s, i]);
  }
  return scores
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}

export { lookupWord };
