/**
 * One engine build in a process of its own, for the index suite's
 * huge-pages-off build: the addon reads VECFORGE_HUGEPAGES once per
 * process, so a build without huge pages needs a process started with
 * VECFORGE_HUGEPAGES=0. Timed like the suite's own engine builds: the
 * addBatch only.
 *
 *   node index-build-child.js BASE.fvecs M EF_CONSTRUCTION THREADS
 *
 * Prints `{"seconds": …, "rows": …}` on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from 'vecforge';
import { readFvecs } from '../data/fvecs.js';

const [file, m, efConstruction, threads] = process.argv.slice(2);
if (file === undefined || m === undefined || efConstruction === undefined || threads === undefined) {
  process.stderr.write('usage: index-build-child BASE.fvecs M EF_CONSTRUCTION THREADS\n');
  process.exit(2);
}
const base = readFvecs(file);
const items = Array.from({ length: base.rows }, (_, i) => ({ id: String(i), vector: base.data.subarray(i * base.dims, (i + 1) * base.dims) }));
const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-build-child-'));
const engine = await Engine.create({ workers: Number(threads), backend: 'wasm' });
try {
  const index = await engine.createIndex({ dir: join(work, 'index'), m: Number(m), efConstruction: Number(efConstruction), capacity: base.rows });
  const t0 = performance.now();
  await index.addBatch(items);
  const seconds = (performance.now() - t0) / 1000;
  await index.close();
  process.stdout.write(`${JSON.stringify({ seconds, rows: base.rows })}\n`);
} finally {
  await engine.close();
  rmSync(work, { recursive: true, force: true });
}
