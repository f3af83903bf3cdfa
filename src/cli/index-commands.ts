/**
 * `vecforge build --vectors` and `vecforge search`: indexes of vectors
 * computed elsewhere, and searching any index.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, VecforgeError, readNpy, type EngineOptions, type Hit, type IndexItem } from '../index.js';
import { kExitOk, kExitPartial } from './exit-codes.js';
import { createProgress } from './progress.js';

/** Flags of `build --vectors`. */
export interface BuildVectorsOptions {
  readonly vectors: string;
  readonly ids?: string | undefined;
  readonly out: string;
  readonly space: 'cosine' | 'ip' | 'l2';
  readonly m: number;
  readonly efConstruction: number;
  readonly json: boolean;
  readonly engine: EngineOptions;
  readonly configFile?: string | undefined;
}

const kChunkRows = 50_000;

/**
 * Builds an index from a float32 .npy matrix.
 * @param o - the flags.
 * @returns the exit code.
 */
export async function runBuildVectors(o: BuildVectorsOptions): Promise<number> {
  const started = performance.now();
  const { data, rows, dims } = readNpy(o.vectors);
  let ids: string[];
  if (o.ids !== undefined) {
    ids = readFileSync(o.ids, 'utf8').split('\n');
    if (ids[ids.length - 1] === '') ids.pop();
    if (ids.length !== rows) throw new VecforgeError('ERR_INVALID_INPUT', `${o.ids} has ${ids.length} ids but ${o.vectors} has ${rows} rows`);
  } else ids = Array.from({ length: rows }, (_, i) => String(i));
  const engine = await Engine.create(o.engine, o.configFile !== undefined ? { configFile: o.configFile } : {});
  let failed = 0;
  let added = 0;
  try {
    const index = await engine.createIndex({ dir: o.out, dims, space: o.space, m: o.m, efConstruction: o.efConstruction, capacity: Math.max(1, rows) });
    const errors = createWriteStream(join(o.out, 'errors.jsonl'));
    const progress = createProgress(rows, process.stderr.isTTY && !o.json);
    try {
      for (let start = 0; start < rows; start += kChunkRows) {
        const end = Math.min(rows, start + kChunkRows);
        const items: IndexItem[] = [];
        for (let i = start; i < end; i++) items.push({ id: ids[i] ?? String(i), vector: data.subarray(i * dims, (i + 1) * dims) });
        const out = await index.addBatch(items);
        out.forEach((r, j) => {
          if (r.state === 'ok') added++;
          else {
            failed++;
            errors.write(`${JSON.stringify({ row: start + j, line: start + j + 1, id: r.id, code: r.code, reason: r.reason })}\n`);
          }
        });
        progress.update(end, added, failed);
      }
      await index.save();
    } finally {
      progress.stop();
      await new Promise((r) => errors.end(r));
      await index.close();
    }
  } finally {
    await engine.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = { count: added, failed, dims, seconds: Number(seconds.toFixed(3)), insertsPerSecond: Math.round(added / seconds), out: o.out };
  if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`built ${o.out}: ${added} vectors of ${dims} dims in ${summary.seconds}s (${summary.insertsPerSecond}/s)${failed > 0 ? `, ${failed} failed: ${join(o.out, 'errors.jsonl')}` : ''}\n`);
  return failed > 0 ? kExitPartial : kExitOk;
}

/** Flags of `search`. */
export interface SearchCommandOptions {
  readonly dir: string;
  readonly vectors?: string | undefined;
  readonly query?: string | undefined;
  readonly k: number;
  readonly ef?: number | undefined;
  readonly namespace?: string | undefined;
  readonly json: boolean;
  readonly engine: EngineOptions;
  readonly configFile?: string | undefined;
}

/**
 * Searches an index with query vectors from a .npy file or one query text.
 * @param o - the flags.
 * @returns the exit code.
 */
export async function runSearch(o: SearchCommandOptions): Promise<number> {
  if ((o.vectors === undefined) === (o.query === undefined)) throw new TypeError('search needs exactly one of --vectors FILE.npy and --query TEXT');
  const engine = await Engine.create(o.engine, o.configFile !== undefined ? { configFile: o.configFile } : {});
  try {
    const index = await engine.openIndex(o.dir);
    try {
      const opts = { k: o.k, ...(o.ef !== undefined ? { ef: o.ef } : {}), ...(o.namespace !== undefined ? { namespace: o.namespace } : {}) };
      let results: Hit[][];
      let labels: Array<string | number>;
      if (o.vectors !== undefined) {
        const q = readNpy(o.vectors);
        if (q.dims !== index.dims) throw new VecforgeError('ERR_INVALID_INPUT', `${o.vectors} has ${q.dims} dims, the index has ${index.dims}`);
        results = await index.searchBatch(q.data, opts);
        labels = results.map((_, i) => i);
      } else {
        results = [await index.search(o.query ?? '', opts)];
        labels = [o.query ?? ''];
      }
      results.forEach((hits, i) => {
        if (o.json) process.stdout.write(`${JSON.stringify({ query: labels[i], ids: hits.map((h) => h.id), scores: hits.map((h) => Number(h.score.toFixed(6))) })}\n`);
        else {
          process.stdout.write(`query ${JSON.stringify(labels[i])}\n`);
          for (const h of hits) process.stdout.write(`  ${h.score.toFixed(4)}  ${h.id}${h.namespace !== 'default' ? `  [${h.namespace}]` : ''}\n`);
        }
      });
    } finally {
      await index.close();
    }
  } finally {
    await engine.close();
  }
  return kExitOk;
}
