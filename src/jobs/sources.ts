/**
 * Job sources: JSONL and CSV files read as a stream with bounded memory, or
 * an (async) iterable of objects. Every record carries its 1-based line
 * number and the position just past it, which checkpoints record.
 */
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { VecforgeError, throwIfAborted } from '../errors.js';
import { readCsv } from './csv-source.js';
import { openInput } from './file-chunks.js';
import { readJsonl } from './jsonl.js';
import { recordBytesOver } from './record-size.js';
import type { KnownSourceRecord, ReadFileOptions, RecordPosition, SourceFormat, SourceRecord } from './source-records.js';

export type { KnownLineLookup, KnownSourceRecord, ReadFailureCode, ReadFileOptions, RecordPosition, SameRun, SourceFormat, SourceRecord } from './source-records.js';

/**
 * Picks the format of a file: `.csv`/`.tsv`-less names by extension
 * (`.csv` → csv; `.jsonl`, `.ndjson`, `.json` → jsonl), otherwise by the
 * first non-blank byte (`{` → jsonl, anything else → csv).
 * @param path - the file.
 * @param format - `auto`, or a format to use as is.
 * @returns the format.
 * @throws {VecforgeError} ERR_IO when the file cannot be read.
 */
export async function detectFormat(path: string, format: 'auto' | SourceFormat): Promise<SourceFormat> {
  if (format !== 'auto') return format;
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  const handle = await openInput(path);
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8').replace(/^\ufeff/, '').trimStart();
    return text.startsWith('{') ? 'jsonl' : 'csv';
  } finally {
    await handle.close();
  }
}

/**
 * Size and modification time of an input file: what identifies it across
 * a resume.
 * @param path - the file.
 * @returns bytes and mtime in ms.
 * @throws {VecforgeError} ERR_IO when the file cannot be read.
 */
export async function inputIdentity(path: string): Promise<{ sizeBytes: number; mtimeMs: number }> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    return { sizeBytes: s.size, mtimeMs: Math.round(s.mtimeMs) };
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read input ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

/**
 * Reads a JSONL or CSV file from the start, with memory bounded by the
 * read size (1 MiB) and `maxRecordBytes`. Records come in batches, one per
 * read, which keeps the per-record cost of async iteration out of the loop.
 * @param path - the file.
 * @param options - format, record cap, signal.
 * @returns an async iterable of record batches.
 * @throws {VecforgeError} ERR_IO when the file cannot be read; ERR_INVALID_INPUT for a CSV without a usable header.
 */
export function readFileRecords(path: string, options: Omit<ReadFileOptions, 'known'>): AsyncGenerator<SourceRecord[]> {
  // Without `known` no line comes as a `same` record.
  return options.format === 'csv' ? readCsv(path, options) : (readJsonl(path, { ...options, known: undefined }) as AsyncGenerator<SourceRecord[]>);
}

/**
 * {@link readFileRecords}, where JSONL lines that `options.known` knows
 * come as `same` records.
 * @param path - the file.
 * @param options - format, record cap, signal, the known lines.
 * @returns an async iterable of record batches.
 * @throws {VecforgeError} as {@link readFileRecords}.
 */
export function readFileRecordsKnowing(path: string, options: ReadFileOptions): AsyncGenerator<KnownSourceRecord[]> {
  return options.format === 'csv' ? readCsv(path, options) : readJsonl(path, options);
}

/**
 * Reads an (async) iterable of objects as records; item i is "line" i + 1.
 * An object larger than `maxRecordBytes` as JSON (a cyclic one always is)
 * fails as TOO_LARGE, as a line of a file would, worked out in at most
 * `maxRecordBytes` steps.
 * @param source - the iterable.
 * @param options - the record cap; `signal` stops reading.
 * @returns an async iterable of one-record batches.
 */
export async function* readIterableRecords(
  source: AsyncIterable<unknown> | Iterable<unknown>,
  options: { readonly maxRecordBytes: number; readonly signal?: AbortSignal | undefined },
): AsyncGenerator<SourceRecord[]> {
  const { maxRecordBytes, signal } = options;
  let item = 0;
  for await (const value of source as AsyncIterable<unknown>) {
    throwIfAborted(signal);
    item++;
    const at: RecordPosition = { item, line: item, offset: item };
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield [{ state: 'failed', line: item, code: 'MALFORMED_RECORD', reason: 'item is not an object', at }];
    } else if (recordBytesOver(value, maxRecordBytes)) {
      yield [{ state: 'failed', line: item, code: 'TOO_LARGE', reason: `item is over ${maxRecordBytes} bytes as JSON`, at }];
    } else yield [{ state: 'ok', line: item, value: value as Record<string, unknown>, at }];
  }
}
