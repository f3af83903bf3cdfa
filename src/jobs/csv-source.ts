/**
 * The CSV reader: rows of {@link CsvScanner} as records keyed by the
 * header's column names.
 */
import { VecforgeError } from '../errors.js';
import { CsvScanner, type CsvRawRecord } from './csv.js';
import { chunks, startsWithBom } from './file-chunks.js';
import type { ReadFileOptions, RecordPosition, SourceRecord } from './source-records.js';

/**
 * Reads a CSV file from the start: the first non-blank row is the header.
 * @param path - the file.
 * @param options - record cap, signal.
 * @returns an async iterable of record batches.
 * @throws {VecforgeError} ERR_IO when the file cannot be read; ERR_INVALID_INPUT for a CSV without a usable header.
 */
export async function* readCsv(path: string, options: ReadFileOptions): AsyncGenerator<SourceRecord[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let scanner: CsvScanner | undefined;
  let header: string[] | undefined;
  let item = 0;
  const convert = (raw: CsvRawRecord): SourceRecord | undefined => {
    if (raw.blank) return undefined;
    if (header === undefined) {
      header = decodeHeader(raw, decoder, path);
      return undefined;
    }
    const at: RecordPosition = { item: ++item, line: raw.endLine, offset: raw.endOffset };
    if (raw.error !== null) return { state: 'failed', line: raw.line, code: raw.error.code, reason: raw.error.reason, at };
    if (raw.fields.length !== header.length) {
      return { state: 'failed', line: raw.line, code: 'CSV_COLUMNS', reason: `row has ${raw.fields.length} field${raw.fields.length === 1 ? '' : 's'}, the header has ${header.length}`, at };
    }
    const value: Record<string, unknown> = {};
    try {
      raw.fields.forEach((f, i) => {
        value[header?.[i] ?? String(i)] = decoder.decode(f);
      });
    } catch {
      return { state: 'failed', line: raw.line, code: 'INVALID_UTF8', reason: 'record is not valid UTF-8', at };
    }
    return { state: 'ok', line: raw.line, value, at };
  };
  for await (let chunk of chunks(path, options.signal)) {
    if (scanner === undefined) {
      const bom = startsWithBom(chunk);
      if (bom) chunk = chunk.subarray(3);
      scanner = new CsvScanner({ maxRecordBytes: options.maxRecordBytes, offset: bom ? 3 : 0 });
    }
    const batch: SourceRecord[] = [];
    for (const raw of scanner.push(chunk)) {
      const r = convert(raw);
      if (r !== undefined) batch.push(r);
    }
    if (batch.length > 0) yield batch;
  }
  const last = scanner?.end();
  if (last !== undefined) {
    const r = convert(last);
    if (r !== undefined) yield [r];
  }
  if (header === undefined) throw new VecforgeError('ERR_INVALID_INPUT', `${path} is empty: a CSV input needs a header row`);
}

function decodeHeader(raw: CsvRawRecord, decoder: InstanceType<typeof TextDecoder>, path: string): string[] {
  if (raw.error !== null) throw new VecforgeError('ERR_INVALID_INPUT', `${path}: the CSV header on line ${raw.line} is malformed: ${raw.error.reason}`);
  let names: string[];
  try {
    names = raw.fields.map((f) => decoder.decode(f).trim());
  } catch {
    throw new VecforgeError('ERR_INVALID_INPUT', `${path}: the CSV header on line ${raw.line} is not valid UTF-8`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new VecforgeError('ERR_INVALID_INPUT', `${path}: the CSV header names column ${JSON.stringify(name)} twice`);
    seen.add(name);
  }
  return names;
}
