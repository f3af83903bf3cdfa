/**
 * Data for the HNSW core tests: seeded Gaussian rows for mechanics, a
 * clustered set for recall, and exact neighbours to measure it against.
 */
import type { HnswSpace } from '../src/index/hnsw/core.js';
import { mulberry32 } from '../src/random.js';

function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

export function randomRows(rows: number, dims: number, seed: number, buffer?: ArrayBufferLike): Float32Array {
  const normal = gaussian(mulberry32(seed));
  const out = buffer === undefined ? new Float32Array(rows * dims) : new Float32Array(buffer, 0, rows * dims);
  for (let i = 0; i < out.length; i++) out[i] = normal();
  return out;
}

/** `rows` points around `clusters` Gaussian centres (spread 1 around centres of scale 4). */
export function clusteredRows(
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

export function iota(n: number, start = 0, buffer?: ArrayBufferLike): Uint32Array {
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
export function bruteForce(space: HnswSpace, base: Float32Array, queries: Float32Array, dims: number, k: number): number[][] {
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

export function recallAt(truth: number[][], labels: Uint32Array, k: number): number {
  let hits = 0;
  truth.forEach((row, q) => {
    const found = new Set(labels.subarray(q * k, (q + 1) * k));
    for (const label of row) if (found.has(label)) hits++;
  });
  return hits / (truth.length * k);
}
