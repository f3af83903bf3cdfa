/**
 * `vecforge embed`: JSONL of {id, text} in, a float32 .npy matrix, an ids
 * file and an errors file out.
 */
import { createWriteStream, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensureUsableDir } from '../io/usable-dir.js';
import { Engine, VecforgeError, type EngineCreateOptions } from '../index.js';
import { NpyWriter } from '../io/npy.js';
import { readLines } from '../io/lines.js';
import { kExitOk, kExitPartial } from './exit-codes.js';
import { createProgress } from './progress.js';

/** Options of the embed command. */
export interface EmbedCommandOptions {
  readonly input: string;
  readonly output: string;
  readonly json: boolean;
  readonly engine: EngineCreateOptions;
  readonly configFile?: string | undefined;
  /** The longest input line, in bytes (`--max-record-bytes`); a longer one fails as TOO_LARGE. */
  readonly maxRecordBytes: number;
}

interface Pending {
  readonly id: string;
  readonly line: number;
}

function sidePath(output: string, suffix: string): string {
  return output.endsWith('.npy') ? `${output.slice(0, -4)}${suffix}` : `${output}${suffix}`;
}

/**
 * Why an id cannot be written as one line of the ids file, if it cannot:
 * the file holds one id a line, read back by `build --vectors --ids`, so an
 * id must not hold a line break (LF, or a CR, which a CRLF reader strips)
 * or a lone UTF-16 surrogate (written as U+FFFD, so it would not round-trip).
 * @param id - the id.
 * @returns the reason, or undefined for an id that round-trips.
 */
function idProblem(id: string): string | undefined {
  if (/[\n\r]/.test(id)) return 'id holds a line break (LF or CR); ids are written one a line to the ids file';
  if (!id.isWellFormed()) return 'id holds a lone UTF-16 surrogate';
  return undefined;
}

/**
 * Runs the command.
 * @param options - parsed flags.
 * @returns the process exit code.
 */
export async function runEmbed(options: EmbedCommandOptions): Promise<number> {
  const started = performance.now();
  let totalBytes: number;
  try {
    totalBytes = statSync(options.input).size;
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read input ${options.input}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  ensureUsableDir(dirname(resolve(options.output)), { what: 'output directory' });
  const engine = await Engine.create(options.engine, options.configFile !== undefined ? { configFile: options.configFile } : {});
  const idsPath = sidePath(options.output, '.ids.txt');
  const errorsPath = sidePath(options.output, '.errors.jsonl');
  const npy = new NpyWriter(options.output, engine.info().dims);
  const ids = createWriteStream(idsPath);
  const errors = createWriteStream(errorsPath);
  const progress = createProgress(totalBytes, process.stderr.isTTY && !options.json);
  const pending: Pending[] = [];
  let bytesRead = 0;
  let failed = 0;
  let count = 0;
  const fail = (line: number, code: string, reason: string, id?: string): void => {
    failed++;
    errors.write(`${JSON.stringify({ line, ...(id !== undefined ? { id } : {}), code, reason })}\n`);
  };
  async function* texts(): AsyncGenerator<string> {
    for await (const l of readLines(options.input, { maxLineBytes: options.maxRecordBytes })) {
      bytesRead = l.bytesRead;
      if (l.state === 'failed') {
        fail(l.line, l.code, l.code === 'TOO_LARGE' ? `${l.reason} (--max-record-bytes)` : l.reason);
        continue;
      }
      if (l.text.trim() === '') continue;
      let row: unknown;
      try {
        row = JSON.parse(l.text);
      } catch {
        fail(l.line, 'MALFORMED_LINE', 'line is not valid JSON');
        continue;
      }
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        fail(l.line, 'MALFORMED_LINE', 'line is not a JSON object');
        continue;
      }
      const { id, text } = row as { id?: unknown; text?: unknown };
      if (typeof id !== 'string' || id === '') {
        fail(l.line, 'MISSING_ID', 'missing or non-string "id"');
        continue;
      }
      const badId = idProblem(id);
      if (badId !== undefined) {
        fail(l.line, 'INVALID_ID', badId, id);
        continue;
      }
      if (typeof text !== 'string') {
        fail(l.line, 'MISSING_TEXT', 'missing or non-string "text"', id);
        continue;
      }
      pending.push({ id, line: l.line });
      yield text;
    }
  }
  try {
    for await (const batch of engine.embedStream(texts())) {
      const { dims } = batch;
      for (let i = 0; i < batch.items.length; i++) {
        const item = batch.items[i];
        const meta = pending.shift() as Pending;
        if (item?.state === 'ok') {
          npy.write(batch.vectors.subarray(i * dims, (i + 1) * dims));
          ids.write(`${meta.id}\n`);
          count++;
        } else if (item?.state === 'failed') {
          fail(meta.line, item.code, item.reason, meta.id);
        }
      }
      progress.update(bytesRead, count, failed);
    }
    npy.close();
  } catch (error) {
    npy.abort();
    throw error;
  } finally {
    progress.stop();
    await Promise.all([new Promise((r) => ids.end(r)), new Promise((r) => errors.end(r))]);
    await engine.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const info = engine.info();
  const provider = engine.metrics().provider;
  const summary = { count, failed, seconds: Number(seconds.toFixed(3)), itemsPerSecond: Math.round(count / seconds), backend: info.backend, workers: info.workers, ...(provider !== undefined ? { provider } : {}) };
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`embedded ${count} texts in ${summary.seconds}s (${summary.itemsPerSecond} items/s, ${info.backend}, ${info.workers} workers)\n`);
    process.stdout.write(`  vectors: ${options.output}\n  ids:     ${idsPath}\n`);
    if (failed > 0) process.stdout.write(`  ${failed} rows failed: ${errorsPath}\n`);
    if (provider !== undefined) process.stdout.write(`  provider: ${provider.requests} requests, ${provider.rateLimited} answered 429, breaker ${provider.breaker.state}\n`);
  }
  return failed > 0 ? kExitPartial : kExitOk;
}
