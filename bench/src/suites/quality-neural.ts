/**
 * The quality suite's q/s of the three modes when the vector side is a
 * neural model rather than glove-100d: the same documents and queries,
 * embedded by a random-weight model of all-MiniLM-L6-v2's shape
 * (data/minilm-random.ts). Throughput does not depend on the weights'
 * values; recall does, so none is measured here.
 *
 * With GloVe a whole vector search (SIF embedding and the graph) costs
 * less CPU than BM25 over a sentence-long query, so hybrid runs at a
 * fraction of vector-only; with a model that costs milliseconds a query,
 * the lexical side and the fusion are a small share of a hybrid search.
 * This table measures that share instead of assuming it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from 'vecforge';
import { miniLmBenchSet } from '../data/minilm-random.js';
import { median } from '../measure.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

const kModes = ['vector', 'lexical', 'hybrid'] as const;
const kAddChunk = 5000;

/**
 * Indexes `docs` with the random MiniLM and measures searchBatch q/s of each mode over `queries`.
 * @param name - the dictionary, for the figures' names.
 * @param dataset - the dataset's description, for the table's title.
 * @param docs - document texts.
 * @param queries - query texts every mode can answer (each has a BM25 term).
 * @param report - receives the table and figures.
 * @param ctx - suite context (workers, data directory).
 */
export async function measureNeuralQps(name: string, dataset: string, docs: readonly string[], queries: readonly string[], report: Report, ctx: SuiteContext): Promise<void> {
  const { model } = await miniLmBenchSet(ctx.dataDir, 1);
  const workers = Math.max(1, ctx.maxWorkers);
  const engine = await Engine.create({ workers, backend: 'wasm', model: model.dir });
  const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-quality-neural-'));
  try {
    const index = await engine.createIndex({ dir: join(work, 'idx'), capacity: docs.length + 16 });
    const t0 = performance.now();
    for (let at = 0; at < docs.length; at += kAddChunk) await index.addBatch(docs.slice(at, at + kAddChunk).map((text, j) => ({ id: String(at + j), text })));
    const buildS = (performance.now() - t0) / 1000;
    process.stdout.write(`quality (random MiniLM): ${docs.length} documents indexed in ${buildS.toFixed(0)} s\n`);
    const qps: Record<(typeof kModes)[number], number[]> = { vector: [], lexical: [], hybrid: [] };
    for (let rep = 0; rep < 3; rep++) {
      for (const mode of rep % 2 === 0 ? kModes : [...kModes].reverse()) {
        const t = performance.now();
        await index.searchBatch(queries, { k: 10, mode });
        qps[mode].push((queries.length * 1000) / (performance.now() - t));
      }
    }
    await index.close();
    const conditions = { dataset, model: 'random weights, all-MiniLM-L6-v2 shape (6 layers, hidden 384, FFN 1536; vocabulary of WordNet words)', k: 10, workers, backend: 'wasm (native BERT math)', queries: queries.length, iterations: 3, statistic: 'median' };
    for (const mode of kModes) report.figure({ suite: 'quality', name: `${name}: q/s ${mode} (searchBatch), random MiniLM`, value: median(qps[mode]), unit: 'q/s', conditions });
    const ratio = median(qps.hybrid) / median(qps.vector);
    report.figure({ suite: 'quality', name: `${name}: ratio: hybrid / vector q/s, random MiniLM`, value: ratio, unit: '×', conditions });
    report.table({
      suite: 'quality',
      title: `${dataset}: search q/s by mode with a neural vector side (random-weight MiniLM-L6 shape)`,
      columns: ['queries', 'documents', 'index build s', 'vector q/s', 'lexical q/s', 'hybrid q/s', 'hybrid / vector'],
      rows: [[queries.length, docs.length, buildS, median(qps.vector), median(qps.lexical), median(qps.hybrid), ratio]],
      note: `The same documents and queries as the GloVe tables, embedded by a model of all-MiniLM-L6-v2's shape with random weights (speed does not depend on the weights' values; its search quality is meaningless, so no recall is given). searchBatch, k 10, ${workers} pool workers, modes alternated, median of 3. The query's embedding is most of a vector search's cost here, and hybrid adds BM25 and the fusion to it.`,
    });
  } finally {
    await engine.close();
    rmSync(work, { recursive: true, force: true });
  }
}
