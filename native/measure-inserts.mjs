#!/usr/bin/env node
// One side-by-side insert-throughput measurement of the HNSW build paths on
// the same data (default 100,000 x 100 seeded random-normal float32, cosine,
// M=16, efConstruction=200):
//   1. hnswlib-node, one addPoint at a time from a JS array (the fallback)
//   2. vecforge_hnsw addPointsParallel with 1 native thread
//   3. vecforge_hnsw addPointsParallel with 2 native threads
//   4. 2 worker_threads, each calling the addon's synchronous addPoints on its
//      half of a SharedArrayBuffer, into ONE shared graph (the engine's path)
//   5. optionally bench/dist/native/bin/hnsw_bench (pure C++, built by npm run native-bench) with 1 and 2 threads
// and prints one JSON object with inserts/s and ratios to hnswlib-node.
// Not a test: it takes minutes. Usage:
//   node native/measure-inserts.mjs [rows=100000] [dims=100] [--no-cxx]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const addonPath = path.join(kRoot, 'build', 'Release', 'vecforge_hnsw.node');
const addon = require(addonPath);
const { HierarchicalNSW } = require('hnswlib-node');

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rows = Number(args[0] ?? 100_000);
const dims = Number(args[1] ?? 100);
const withCxx = !process.argv.includes('--no-cxx');
const M = 16;
const efC = 200;
const seed = 100;
const space = 'cosine';

function mulberry32(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(42);
const normal = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());

const dataSab = new SharedArrayBuffer(rows * dims * 4);
const data = new Float32Array(dataSab);
for (let i = 0; i < data.length; i++) data[i] = normal();
const labelSab = new SharedArrayBuffer(rows * 4);
const labels = new Uint32Array(labelSab);
for (let i = 0; i < rows; i++) labels[i] = i;

const results = {};
const log = (msg) => console.error(`[measure] ${msg}`);

// cpuSeconds: CPU time of the whole process (all threads) during the run, so
// that a machine shared with other work still shows per-CPU efficiency.
function record(name, seconds, cpuSeconds) {
  results[name] = {
    seconds: Number(seconds.toFixed(3)),
    insertsPerSecond: Math.round(rows / seconds),
    cpuSeconds: Number(cpuSeconds.toFixed(3)),
    insertsPerCpuSecond: Math.round(rows / cpuSeconds),
  };
  log(`${name}: ${seconds.toFixed(1)} s, ${Math.round(rows / seconds)} inserts/s, ${cpuSeconds.toFixed(1)} CPU s`);
}
const cpuSince = (start) => {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
};

// 1. hnswlib-node
{
  const index = new HierarchicalNSW(space, dims);
  index.initIndex(rows, M, efC, seed);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < rows; i++) index.addPoint(Array.from(data.subarray(i * dims, (i + 1) * dims)), i);
  record('hnswlibNode', (performance.now() - t0) / 1000, cpuSince(c0));
}

// 2, 3. addPointsParallel
for (const threads of [1, 2]) {
  const h = addon.create(space, dims, rows, M, efC, seed, false);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await addon.addPointsParallel(h, data, labels, threads);
  record(`addPointsParallel${threads}`, (performance.now() - t0) / 1000, cpuSince(c0));
  addon.free(h);
}

// 4. two worker_threads into one shared graph
{
  const h = addon.create(space, dims, rows, M, efC, seed, false);
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = require(workerData.addonPath);
    const { handle, dims, begin, end } = workerData;
    const data = new Float32Array(workerData.dataSab, begin * dims * 4, (end - begin) * dims);
    const labels = new Uint32Array(workerData.labelSab, begin * 4, end - begin);
    parentPort.once('message', () => {
      addon.addPoints(handle, data, labels, false);
      parentPort.postMessage('done');
    });
    parentPort.postMessage('ready');
  `;
  const half = Math.floor(rows / 2);
  const workers = [
    [0, half],
    [half, rows],
  ].map(
    ([begin, end]) =>
      new Worker(source, { eval: true, workerData: { addonPath, handle: h, dims, begin, end, dataSab, labelSab } }),
  );
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.postMessage('go');
        }),
    ),
  );
  record('workers2', (performance.now() - t0) / 1000, cpuSince(c0));
  if (addon.getCurrentCount(h) !== rows) throw new Error('workers2: wrong count');
  await Promise.all(workers.map((w) => w.terminate()));
  addon.free(h);
}

// 5. pure C++ baseline (optional)
const bench = path.join(kRoot, 'bench', 'dist', 'native', 'bin', 'hnsw_bench');
if (withCxx && existsSync(bench)) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vecforge-measure-'));
  try {
    const fvecs = (arr, n) => {
      const buf = Buffer.alloc(n * (4 + dims * 4));
      for (let i = 0; i < n; i++) {
        buf.writeInt32LE(dims, i * (4 + dims * 4));
        Buffer.from(arr.buffer, arr.byteOffset + i * dims * 4, dims * 4).copy(buf, i * (4 + dims * 4) + 4);
      }
      return buf;
    };
    // 10 base rows as queries; ground truth by brute force (cosine).
    const nq = 10;
    const queries = new Float32Array(nq * dims);
    queries.set(data.subarray(0, nq * dims));
    const norms = new Float32Array(rows);
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < dims; j++) s += data[i * dims + j] ** 2;
      norms[i] = Math.sqrt(s);
    }
    const gt = Buffer.alloc(nq * (4 + 40));
    for (let q = 0; q < nq; q++) {
      const scored = [];
      for (let i = 0; i < rows; i++) {
        let dot = 0;
        for (let j = 0; j < dims; j++) dot += queries[q * dims + j] * data[i * dims + j];
        scored.push([-dot / norms[i], i]);
      }
      scored.sort((a, b) => a[0] - b[0]);
      gt.writeInt32LE(10, q * 44);
      for (let j = 0; j < 10; j++) gt.writeInt32LE(scored[j][1], q * 44 + 4 + j * 4);
    }
    writeFileSync(path.join(dir, 'b.fvecs'), fvecs(data, rows));
    writeFileSync(path.join(dir, 'q.fvecs'), fvecs(queries, nq));
    writeFileSync(path.join(dir, 'gt.ivecs'), gt);
    for (const threads of [1, 2]) {
      const out = spawnSync(
        bench,
        [path.join(dir, 'b.fvecs'), path.join(dir, 'q.fvecs'), path.join(dir, 'gt.ivecs'), M, efC, threads].map(String),
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      if (out.status !== 0) throw new Error(`hnsw_bench failed: ${out.stderr}`);
      const report = JSON.parse(out.stdout);
      record(`cxx${threads}`, report.build_seconds, report.build_cpu_seconds);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const base = results.hnswlibNode.insertsPerSecond;
const ratios = Object.fromEntries(
  Object.entries(results).map(([name, r]) => [name, Number((r.insertsPerSecond / base).toFixed(3))]),
);
const baseCpu = results.hnswlibNode.insertsPerCpuSecond;
const cpuRatios = Object.fromEntries(
  Object.entries(results).map(([name, r]) => [name, Number((r.insertsPerCpuSecond / baseCpu).toFixed(3))]),
);
console.log(
  JSON.stringify(
    {
      rows,
      dims,
      space,
      M,
      efConstruction: efC,
      cpus: os.cpus().length,
      loadAverageAtEnd: os.loadavg(),
      results,
      ratiosToHnswlibNode: ratios,
      perCpuSecondRatiosToHnswlibNode: cpuRatios,
    },
    null,
    2,
  ),
);
