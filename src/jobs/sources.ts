/**
 * Job sources: JSONL and CSV files read as a stream with bounded memory, or
 * an (async) iterable of objects. Every record carries its 1-based line
 * number and the position just past it, which checkpoints record.
 */
import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { VecforgeError, throwIfAborted } from '../errors.js';
import { CsvScanner, type CsvRawRecord } from './csv.js';
import { loadNativeLineDigests, type NativeLineDigests } from '../index/hnsw/native-core.js';

/** A file format a job reads. */
export type SourceFormat = 'jsonl' | 'csv';

/** Where a record ends: what a checkpoint stores to resume after it. */
export interface RecordPosition {
  /** Records read so far, this one included (blank lines are not records). */
  readonly item: number;
  /** The last line this record occupies (1-based). */
  readonly line: number;
  /** Byte offset just past this record (for iterables: `item`). */
  readonly offset: number;
}

/** Why a record could not be read. */
export type ReadFailureCode = 'MALFORMED_LINE' | 'MALFORMED_RECORD' | 'INVALID_UTF8' | 'TOO_LARGE' | 'CSV_COLUMNS';

/** One record of a source, as a union on `state`. */
export type SourceRecord =
  | { readonly state: 'ok'; readonly line: number; readonly value: Readonly<Record<string, unknown>>; readonly at: RecordPosition; readonly digest?: Uint8Array }
  | { readonly state: 'failed'; readonly line: number; readonly code: ReadFailureCode; readonly reason: string; readonly at: RecordPosition };

/** A record of {@link readFileRecordsKnowing}: a source record, or a run of lines known by their digests. */
export type KnownSourceRecord = SourceRecord | SameRun;

/**
 * Consecutive JSONL lines whose bytes are those of consecutive lines the
 * caller already knows (see {@link ReadFileOptions.known}): lines `line`
 * to `line + count - 1` are the known lines at places `position` to
 * `position + count - 1`. They are not decoded or parsed, and each is one
 * record (one item) of the source.
 */
export interface SameRun {
  readonly state: 'same';
  /** The first line of the run. */
  readonly line: number;
  /** The place of its first line among the known lines. */
  readonly position: number;
  /** Lines in the run (at least 1). */
  readonly count: number;
  /** Where the run's last line ends. */
  readonly at: RecordPosition;
}

/**
 * The lines of a run from its `skip`-th on.
 * @param run - a run.
 * @param skip - lines to drop from its start, less than its count.
 * @returns the rest of the run.
 */
export function restOfRun(run: SameRun, skip: number): SameRun {
  if (!Number.isInteger(skip) || skip < 0 || skip >= run.count) throw new RangeError(`restOfRun: skip must be an integer in [0, ${run.count}), got ${skip}`);
  return { state: 'same', line: run.line + skip, position: run.position + skip, count: run.count - skip, at: run.at };
}

/** Lines a reader is told it knows, by {@link lineDigest}. */
export interface KnownLineLookup {
  /**
   * @param digests - line digests, {@link kLineDigestBytes} bytes (8 int32s) each.
   * @param at - which of them to look for.
   * @returns the known line's place, or -1.
   */
  find(digests: Int32Array, at: number): number;
  /**
   * `find` for each of the first `count` digests, in order.
   * @param digests - line digests, 8 int32s each.
   * @param count - how many.
   * @param positions - receives each one's place, or -1.
   */
  findBlock(digests: Int32Array, count: number, positions: Int32Array): void;
}

/** Options of {@link readFileRecords}. */
export interface ReadFileOptions {
  /** The file format. */
  readonly format: SourceFormat;
  /** A record larger than this is reported TOO_LARGE and skipped without being held in memory. */
  readonly maxRecordBytes: number;
  /** Stops reading. */
  readonly signal?: AbortSignal | undefined;
  /**
   * JSONL only: give every ok record the {@link lineDigest} of its bytes.
   * @default false
   */
  readonly lineDigests?: boolean | undefined;
  /**
   * JSONL only (implies `lineDigests`): asked about the digest of each
   * line; lines it knows come as `same` runs, without being decoded or
   * parsed.
   */
  readonly known?: KnownLineLookup | undefined;
}

/**
 * The digest of a JSONL line's bytes (without its line break): SHA-256,
 * {@link kLineDigestBytes} bytes.
 * @param bytes - the line.
 * @returns the digest.
 */
export function lineDigest(bytes: Uint8Array): Uint8Array {
  return hash('sha256', bytes, 'buffer');
}

/** Bytes of a {@link lineDigest}. */
export const kLineDigestBytes = 32;
/** Lines hashed per call of the line hasher. */
const kDigestBlockLines = 16384;

/**
 * The portable line hasher, with the contract of the native one
 * ({@link NativeLineDigests}): one `crypto.hash` per line.
 */
const hashLinesJs: NativeLineDigests = (chunk, from, to, digests, ends) => {
  const capacity = Math.min(Math.floor(digests.length / kLineDigestBytes), ends.length);
  let n = 0;
  for (let start = from; n < capacity && start < to; n++) {
    const nl = chunk.indexOf(0x0a, start);
    if (nl === -1 || nl >= to) break;
    const e = nl > start && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
    digests.set(lineDigest(chunk.subarray(start, e)), n * kLineDigestBytes);
    ends[n] = nl;
    start = nl + 1;
  }
  return n;
};

function parseJsonlText(text: string, line: number, at: RecordPosition, digest: Uint8Array | undefined): SourceRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { state: 'failed', line, code: 'MALFORMED_LINE', reason: 'line is not valid JSON', at };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { state: 'failed', line, code: 'MALFORMED_LINE', reason: 'line is not a JSON object', at };
  }
  return digest === undefined ? { state: 'ok', line, value: value as Record<string, unknown>, at } : { state: 'ok', line, value: value as Record<string, unknown>, at, digest };
}

const kChunkBytes = 1 << 20;
const kBom = [0xef, 0xbb, 0xbf] as const;

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

async function openInput(path: string): Promise<import('node:fs/promises').FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read input ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
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

async function* chunks(path: string, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const handle = await openInput(path);
  try {
    let position = 0;
    for (;;) {
      throwIfAborted(signal);
      const buf = Buffer.allocUnsafe(kChunkBytes);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buf, 0, kChunkBytes, position));
      } catch (error) {
        throw new VecforgeError('ERR_IO', `cannot read input ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
      }
      if (bytesRead === 0) return;
      position += bytesRead;
      // Each read gets a fresh buffer: records may keep subarrays of it.
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
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

async function* readJsonl(path: string, options: ReadFileOptions): AsyncGenerator<KnownSourceRecord[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const max = options.maxRecordBytes;
  let parts: Uint8Array[] = [];
  let length = 0;
  let tooLarge = false;
  let line = 0;
  let item = 0;
  let offset = 0;
  let firstChunk = true;
  const at = (end: number): RecordPosition => ({ item: ++item, line, offset: end });
  const known = options.known;
  const digests = options.lineDigests === true || known !== undefined;
  // The digests of a chunk's lines are worked out a block at a time, natively where the addon allows.
  const hashLines = digests ? (loadNativeLineDigests() ?? hashLinesJs) : hashLinesJs;
  const blockDigests = digests ? new Uint8Array(kDigestBlockLines * kLineDigestBytes) : new Uint8Array(0);
  const blockDigests32 = new Int32Array(blockDigests.buffer);
  const blockEnds = new Int32Array(digests ? kDigestBlockLines : 0);
  const blockPositions = new Int32Array(known !== undefined ? kDigestBlockLines : 0);
  let blockAt = 0;
  let blockCount = 0;
  /** The run of known lines being gathered: its last line is the last line read. */
  let run: { line: number; position: number; count: number; end: number } | null = null;
  const endRun = (batch: KnownSourceRecord[]): void => {
    if (run === null) return;
    batch.push({ state: 'same', line: run.line, position: run.position, count: run.count, at: { item, line: run.line + run.count - 1, offset: run.end } });
    run = null;
  };
  /**
   * The line just read is the known line at `position`: it extends the run
   * (the caller ended a run it does not continue) or starts one. A known
   * line is a record (it was one when it became known): it takes its item
   * number without being parsed.
   */
  const continuesRun = (position: number): boolean => run !== null && position === run.position + run.count;
  const sameLine = (position: number, end: number): void => {
    if (run !== null && continuesRun(position)) {
      run.count++;
      run.end = end;
    } else run = { line, position, count: 1, end };
    item++;
  };
  const oneDigest32 = new Int32Array(kLineDigestBytes / 4);
  const oneDigest = new Uint8Array(oneDigest32.buffer);
  const parse = (text: string, end: number, digest: Uint8Array | undefined): SourceRecord | undefined => {
    if (text.length === 0 || (text.charCodeAt(0) !== 0x7b && text.trim() === '')) return undefined;
    return parseJsonlText(text, line, at(end), digest);
  };
  const finish = (end: number): SourceRecord | undefined => {
    line++;
    const bytes = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, length);
    const large = tooLarge;
    parts = [];
    length = 0;
    tooLarge = false;
    if (large) return { state: 'failed', line, code: 'TOO_LARGE', reason: `line is over ${max} bytes`, at: at(end) };
    const n = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    const digest = digests ? lineDigest(bytes.subarray(0, n)) : undefined;
    if (digest !== undefined && known !== undefined) {
      // A line read across reads (or the first) may be known too.
      oneDigest.set(digest);
      const position = known.find(oneDigest32, 0);
      if (position >= 0) {
        sameLine(position, end);
        return undefined;
      }
    }
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(0, n));
    } catch {
      return { state: 'failed', line, code: 'INVALID_UTF8', reason: 'line is not valid UTF-8', at: at(end) };
    }
    return parse(text, end, digest);
  };
  for await (let chunk of chunks(path, options.signal)) {
    if (firstChunk && startsWithBom(chunk)) {
      chunk = chunk.subarray(3);
      offset = 3;
    }
    firstChunk = false;
    const batch: KnownSourceRecord[] = [];
    let start = 0;
    // The lines that end in this chunk, when valid UTF-8 as a whole (the
    // usual case), are decoded straight from the chunk: no copy, no
    // decoder call and no Buffer view per line. A newline byte never occurs
    // inside a multi-byte sequence, so each line is valid UTF-8 too.
    const lastNl = chunk.lastIndexOf(0x0a);
    const firstNl = chunk.indexOf(0x0a);
    const fast = lastNl > firstNl && isUtf8(chunk.subarray(firstNl + 1, lastNl));
    blockAt = 0;
    blockCount = 0;
    for (let nl = firstNl; nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      if (fast && parts.length === 0 && !tooLarge && start > firstNl) {
        line++;
        offset += nl - start + 1;
        const e = nl > start && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
        // This line's digest: every line from here to the chunk's last newline is hashed in order.
        let d = -1;
        if (digests) {
          if (blockAt === blockCount) {
            blockCount = hashLines(chunk, start, lastNl + 1, blockDigests, blockEnds);
            blockAt = 0;
            known?.findBlock(blockDigests32, blockCount, blockPositions);
          }
          d = blockAt++;
          if (blockEnds[d] !== nl) throw new Error(`line digests out of step at line ${line}`);
        }
        let r: KnownSourceRecord | undefined;
        if (nl - start > max) {
          endRun(batch);
          r = { state: 'failed', line, code: 'TOO_LARGE', reason: `line is over ${max} bytes`, at: at(offset) };
        } else if (!digests) r = parse(withoutBom(chunk.toString('utf8', start, e)), offset, undefined);
        else {
          const position = known === undefined ? -1 : (blockPositions[d] ?? -1);
          if (position >= 0) {
            if (!continuesRun(position)) endRun(batch);
            sameLine(position, offset);
            start = nl + 1;
            continue;
          }
          // The run so far ends before this line takes its item number.
          endRun(batch);
          r = parse(withoutBom(chunk.toString('utf8', start, e)), offset, blockDigests.slice(d * kLineDigestBytes, (d + 1) * kLineDigestBytes));
        }
        start = nl + 1;
        if (r !== undefined) batch.push(r);
        continue;
      }
      endRun(batch);
      add(chunk.subarray(start, nl));
      offset += nl - start + 1;
      start = nl + 1;
      const r = finish(offset);
      if (r !== undefined) batch.push(r);
    }
    endRun(batch);
    if (start < chunk.length) {
      add(chunk.subarray(start));
      offset += chunk.length - start;
    }
    if (batch.length > 0) yield batch;
  }
  if (length > 0 || tooLarge) {
    const tail: KnownSourceRecord[] = [];
    const r = finish(offset);
    if (r !== undefined) tail.push(r);
    endRun(tail);
    if (tail.length > 0) yield tail;
  }

  function add(bytes: Uint8Array): void {
    if (tooLarge) return;
    if (length + bytes.length > max) {
      tooLarge = true;
      parts = [];
      length = 0;
      return;
    }
    parts.push(bytes);
    length += bytes.length;
  }
}

/** What a per-line TextDecoder (ignoreBOM false) returns: the text without a leading BOM. */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function startsWithBom(chunk: Uint8Array): boolean {
  return chunk.length >= 3 && chunk[0] === kBom[0] && chunk[1] === kBom[1] && chunk[2] === kBom[2];
}

async function* readCsv(path: string, options: ReadFileOptions): AsyncGenerator<SourceRecord[]> {
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

/**
 * Reads an (async) iterable of objects as records; item i is "line" i + 1.
 * @param source - the iterable.
 * @param signal - stops reading.
 * @returns an async iterable of one-record batches.
 */
export async function* readIterableRecords(source: AsyncIterable<unknown> | Iterable<unknown>, signal?: AbortSignal): AsyncGenerator<SourceRecord[]> {
  let item = 0;
  for await (const value of source as AsyncIterable<unknown>) {
    throwIfAborted(signal);
    item++;
    const at: RecordPosition = { item, line: item, offset: item };
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield [{ state: 'failed', line: item, code: 'MALFORMED_RECORD', reason: 'item is not an object', at }];
    } else yield [{ state: 'ok', line: item, value: value as Record<string, unknown>, at }];
  }
}
