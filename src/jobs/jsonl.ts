/**
 * The JSONL reader: lines decoded straight from each read where the read
 * is valid UTF-8, line digests a block at a time, and lines the caller
 * knows by their digests passed on as `same` runs, unparsed.
 */
import { isUtf8 } from 'node:buffer';
import { chunks, startsWithBom } from './file-chunks.js';
import { hashLinesJs, kLineDigestBytes, lineDigest, loadNativeLineDigests } from './line-digests.js';
import type { KnownSourceRecord, ReadFileOptions, RecordPosition, SourceRecord } from './source-records.js';

/** Lines hashed per call of the line hasher. */
const kDigestBlockLines = 16384;

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

/**
 * Reads a JSONL file from the start (see {@link readFileRecords} in sources.ts).
 * @param path - the file.
 * @param options - record cap, signal, digests, the known lines.
 * @returns an async iterable of record batches.
 * @throws {VecforgeError} ERR_IO when the file cannot be read.
 */
export async function* readJsonl(path: string, options: ReadFileOptions): AsyncGenerator<KnownSourceRecord[]> {
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
