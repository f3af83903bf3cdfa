/**
 * `vecforge build --vectors` and `vecforge search`: indexes of vectors
 * computed elsewhere, and searching any index.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, VecforgeError, readNpy, type Hit, type IndexItem, type PcaIndexOptions, type ResolvedConfig, type VectorIndex } from '../index.js';
import { namePcaFlag } from './pca-flags.js';
import { kExitOk, kExitPartial } from './exit-codes.js';
import { createProgress } from './progress.js';
import { UsageError } from './usage-error.js';

/** What `build --vectors` needs. */
export interface BuildVectorsOptions {
  readonly vectors: string;
  readonly ids?: string | undefined;
  readonly config: ResolvedConfig;
  /** The `pca` index option (from --pca, --pca-sample, --no-rerank). */
  readonly pca?: PcaIndexOptions | undefined;
}

const kChunkRows = 50_000;

/**
 * Builds an index from a float32 .npy matrix.
 * @param o - the flags.
 * @returns the exit code.
 */
export async function runBuildVectors(o: BuildVectorsOptions): Promise<number> {
  const started = performance.now();
  const out = o.config.job.dir;
  if (out === undefined) throw new UsageError('build needs --out DIR (or job.dir in the config)');
  const json = o.config.output.json;
  const { space, m, efConstruction, efSearch } = o.config.index;
  const { data, rows, dims } = readNpy(o.vectors);
  let ids: string[];
  if (o.ids !== undefined) {
    ids = readFileSync(o.ids, 'utf8').split('\n');
    if (ids[ids.length - 1] === '') ids.pop();
    if (ids.length !== rows) throw new VecforgeError('ERR_INVALID_INPUT', `${o.ids} has ${ids.length} ids but ${o.vectors} has ${rows} rows`);
  } else ids = Array.from({ length: rows }, (_, i) => String(i));
  const engine = await Engine.create({ ...o.config.engine });
  let failed = 0;
  let added = 0;
  try {
    let index: VectorIndex;
    try {
      index = await engine.createIndex({ dir: out, dims, space, m, efConstruction, efSearch, capacity: Math.max(1, rows), ...(o.pca !== undefined ? { pca: o.pca } : {}) });
    } catch (error) {
      throw namePcaFlag(error);
    }
    const errors = createWriteStream(join(out, 'errors.jsonl'));
    const progress = createProgress(rows, process.stderr.isTTY && !json);
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
  const summary = { count: added, failed, dims, seconds: Number(seconds.toFixed(3)), insertsPerSecond: Math.round(added / seconds), out };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`built ${out}: ${added} vectors of ${dims} dims in ${summary.seconds}s (${summary.insertsPerSecond}/s)${failed > 0 ? `, ${failed} failed: ${join(out, 'errors.jsonl')}` : ''}\n`);
  return failed > 0 ? kExitPartial : kExitOk;
}

/** What `search` needs. */
export interface SearchCommandOptions {
  readonly dir: string;
  readonly vectors?: string | undefined;
  readonly config: ResolvedConfig;
}

interface QueryLine {
  readonly label: string | number;
  readonly query: string | Float32Array;
  readonly line?: number;
}

function readQueries(path: string): { queries: QueryLine[]; failed: Array<{ line: number; reason: string }> } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read queries ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  const queries: QueryLine[] = [];
  const failed: Array<{ line: number; reason: string }> = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      const row = JSON.parse(raw) as unknown;
      const q = typeof row === 'string' ? row : row !== null && typeof row === 'object' ? ((row as Record<string, unknown>).query ?? (row as Record<string, unknown>).text) : undefined;
      if (typeof q !== 'string' || q.trim() === '') failed.push({ line: i + 1, reason: 'no "query" string' });
      else queries.push({ label: q, query: q, line: i + 1 });
    } catch {
      failed.push({ line: i + 1, reason: 'line is not valid JSON' });
    }
  });
  return { queries, failed };
}

function snippetOf(hit: Hit, chars: number): string {
  const s = hit.metadata?._snippet;
  if (typeof s !== 'string') return '';
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > chars ? `${flat.slice(0, chars - 3)}...` : flat;
}

/**
 * Searches an index with one query text, a JSONL file of queries, or query
 * vectors from a .npy file; prints id, score and a snippet per hit, or one
 * JSON line per query with --json.
 * @param o - directory, vectors file and config.
 * @returns the exit code: 0, or 3 when some queries failed.
 * @throws {UsageError} unless exactly one of --query, --queries, --vectors is given.
 */
export async function runSearch(o: SearchCommandOptions): Promise<number> {
  const { search, output } = o.config;
  const given = [o.vectors, search.query, search.queries].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('search needs exactly one of --query TEXT, --queries FILE.jsonl and --vectors FILE.npy');
  const engine = await Engine.create({ ...o.config.engine });
  let failedCount = 0;
  try {
    const index = await engine.openIndex(o.dir);
    try {
      if (index.count === 0) throw new VecforgeError('ERR_INDEX', `${o.dir} holds no documents`);
      const k = Math.min(search.k, index.count);
      const opts = { k, ...(search.ef !== undefined ? { ef: Math.max(search.ef, k) } : {}), ...(search.namespace !== undefined ? { namespace: search.namespace } : {}) };
      let queries: QueryLine[];
      if (o.vectors !== undefined) {
        const q = readNpy(o.vectors);
        if (q.dims !== index.dims) throw new VecforgeError('ERR_INVALID_INPUT', `${o.vectors} has ${q.dims} dims, the index has ${index.dims}`);
        queries = Array.from({ length: q.rows }, (_, i) => ({ label: i, query: q.data.subarray(i * q.dims, (i + 1) * q.dims) }));
      } else if (search.queries !== undefined) {
        const r = readQueries(search.queries);
        for (const f of r.failed) process.stderr.write(`vecforge: ${search.queries}:${f.line}: ${f.reason}\n`);
        failedCount += r.failed.length;
        queries = r.queries;
      } else queries = [{ label: search.query ?? '', query: search.query ?? '' }];
      let results: Array<Hit[] | Error>;
      try {
        results = await index.searchBatch(
          queries.map((q) => q.query),
          opts,
        );
      } catch (error) {
        if (!(error instanceof VecforgeError) || error.code !== 'ERR_INVALID_INPUT') throw error;
        // One query cannot be embedded: search one by one to report it alone.
        results = [];
        for (const q of queries) results.push(await index.search(q.query, opts).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
      }
      results.forEach((hits, i) => {
        const q = queries[i] as QueryLine;
        if (hits instanceof Error) {
          failedCount++;
          process.stderr.write(`vecforge: query ${q.line !== undefined ? `on line ${q.line} ` : ''}${JSON.stringify(q.label)}: ${hits.message}\n`);
          return;
        }
        if (output.json) process.stdout.write(`${JSON.stringify({ query: q.label, ids: hits.map((h) => h.id), scores: hits.map((h) => Number(h.score.toFixed(6))) })}\n`);
        else {
          process.stdout.write(`query ${JSON.stringify(q.label)}\n`);
          hits.forEach((h, r) => {
            const ns = h.namespace !== 'default' ? `  [${h.namespace}]` : '';
            const snip = snippetOf(h, 80);
            process.stdout.write(`  ${String(r + 1).padStart(2)}  ${h.score.toFixed(4)}  ${h.id}${ns}${snip !== '' ? `  ${snip}` : ''}\n`);
          });
        }
      });
    } finally {
      await index.close();
    }
  } finally {
    await engine.close();
  }
  return failedCount > 0 ? kExitPartial : kExitOk;
}
