/**
 * `vecforge build --vectors`: an index of vectors computed elsewhere.
 */
import { createWriteStream } from 'node:fs';
import { ensureUsableDir } from '../io/usable-dir.js';
import { join } from 'node:path';
import { Engine, VecforgeError, type IndexItem, type PcaIndexOptions, type VectorIndex } from '../index.js';
import { readLines } from '../io/lines.js';
import { readNpy } from '../io/npy.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { namePcaFlag } from './pca-flags.js';
import { kExitOk, kExitPartial } from './exit-codes.js';
import { createProgress } from './progress.js';
import { UsageError } from './usage-error.js';
import { engineCreateOptions } from './provider-flags.js';

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
 * Reads an ids file, one id a line (as `embed` writes it), bounded: each
 * line by `maxLineBytes`, the whole by `rows` lines.
 * @param path - the ids file.
 * @param rows - the rows of the vectors file.
 * @param vectors - the vectors file, for messages.
 * @param maxLineBytes - the longest line (job.maxRecordBytes).
 * @returns exactly `rows` ids.
 * @throws {VecforgeError} ERR_INVALID_INPUT for a bad line or a count that does not match; ERR_IO when unreadable.
 */
async function readIds(path: string, rows: number, vectors: string, maxLineBytes: number): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const l of readLines(path, { maxLineBytes })) {
      if (l.state === 'failed') throw new VecforgeError('ERR_INVALID_INPUT', `${path}:${l.line}: ${l.reason}`);
      if (ids.length === rows) throw new VecforgeError('ERR_INVALID_INPUT', `${path} has more than ${rows} ids but ${vectors} has ${rows} rows`);
      ids.push(l.text);
    }
  } catch (error) {
    if (error instanceof VecforgeError) throw error;
    throw new VecforgeError('ERR_IO', `cannot read ids ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  if (ids.length !== rows) throw new VecforgeError('ERR_INVALID_INPUT', `${path} has ${ids.length} ids but ${vectors} has ${rows} rows`);
  return ids;
}

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
  ensureUsableDir(out, { what: 'output directory' });
  const ids = o.ids !== undefined ? await readIds(o.ids, rows, o.vectors, o.config.job.maxRecordBytes) : Array.from({ length: rows }, (_, i) => String(i));
  const engine = await Engine.create(engineCreateOptions(o.config));
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
