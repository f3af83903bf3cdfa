/**
 * The input of `vecforge embed`: JSONL lines of {id, text} read, decoded,
 * parsed and checked in chunks. Runs in the reader worker
 * (workers/embed-reader.ts), so the main thread only receives records.
 */
import type { SerializedError } from '../errors.js';
import { readLines } from '../io/lines.js';

/** A line that cannot become a record, with its 1-based line number. */
export interface EmbedInputFailure {
  readonly line: number;
  readonly id?: string;
  readonly code: string;
  readonly reason: string;
}

/** Consecutive records and the failures among their lines, in input order. */
export interface EmbedInputChunk {
  readonly ids: string[];
  readonly texts: string[];
  /** The 1-based line of each record. */
  readonly lines: Int32Array;
  readonly failures: EmbedInputFailure[];
  /** Input bytes consumed up to the end of this chunk. */
  readonly bytesRead: number;
  /** Lines consumed up to the end of this chunk. */
  readonly linesRead: number;
}

/** Records per chunk: big enough that a chunk's message costs little, small enough to start embedding early. */
export const kEmbedInputChunkRecords = 4096;
/** Input bytes per chunk at most (a chunk ends at the first line past it), so chunks ahead bound the memory held. */
export const kEmbedInputChunkBytes = 1 << 20;

/**
 * Why an id cannot be written as one line of the ids file, if it cannot:
 * the file holds one id a line, read back by `build --vectors --ids`, so an
 * id must not hold a line break (LF, or a CR, which a CRLF reader strips)
 * or a lone UTF-16 surrogate (written as U+FFFD, so it would not round-trip).
 * @param id - the id.
 * @returns the reason, or undefined for an id that round-trips.
 */
export function idProblem(id: string): string | undefined {
  if (id.includes('\n') || id.includes('\r')) return 'id holds a line break (LF or CR); ids are written one a line to the ids file';
  if (!id.isWellFormed()) return 'id holds a lone UTF-16 surrogate';
  return undefined;
}

/**
 * Reads an embed input file in chunks of records. Blank lines are skipped;
 * a line that is too long, not UTF-8, not a JSON object, or without a
 * string id and text is a failure of that line only.
 * @param path - the JSONL file.
 * @param maxRecordBytes - the longest line kept (`--max-record-bytes`).
 * @param chunkRecords - records per chunk.
 * @returns chunks in input order; the last may hold no record.
 */
export async function* readEmbedInput(path: string, maxRecordBytes: number, chunkRecords = kEmbedInputChunkRecords): AsyncGenerator<EmbedInputChunk> {
  let ids: string[] = [];
  let texts: string[] = [];
  let lines = new Int32Array(chunkRecords);
  let failures: EmbedInputFailure[] = [];
  let bytesRead = 0;
  let linesRead = 0;
  let chunkStart = 0;
  const take = (): EmbedInputChunk => {
    const chunk = { ids, texts, lines: lines.subarray(0, ids.length), failures, bytesRead, linesRead };
    ids = [];
    texts = [];
    lines = new Int32Array(chunkRecords);
    failures = [];
    chunkStart = bytesRead;
    return chunk;
  };
  for await (const l of readLines(path, { maxLineBytes: maxRecordBytes })) {
    bytesRead = l.bytesRead;
    linesRead = l.line;
    if (l.state === 'failed') {
      failures.push({ line: l.line, code: l.code, reason: l.code === 'TOO_LARGE' ? `${l.reason} (--max-record-bytes)` : l.reason });
      continue;
    }
    if (l.text.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(l.text);
    } catch {
      failures.push({ line: l.line, code: 'MALFORMED_LINE', reason: 'line is not valid JSON' });
      continue;
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      failures.push({ line: l.line, code: 'MALFORMED_LINE', reason: 'line is not a JSON object' });
      continue;
    }
    const { id, text } = row as { id?: unknown; text?: unknown };
    if (typeof id !== 'string' || id === '') {
      failures.push({ line: l.line, code: 'MISSING_ID', reason: 'missing or non-string "id"' });
      continue;
    }
    const badId = idProblem(id);
    if (badId !== undefined) {
      failures.push({ line: l.line, id, code: 'INVALID_ID', reason: badId });
      continue;
    }
    if (typeof text !== 'string') {
      failures.push({ line: l.line, id, code: 'MISSING_TEXT', reason: 'missing or non-string "text"' });
      continue;
    }
    lines[ids.length] = l.line;
    ids.push(id);
    texts.push(text);
    if (ids.length === chunkRecords || bytesRead - chunkStart >= kEmbedInputChunkBytes) yield take();
  }
  yield take();
}

/** What the main thread tells the reader worker: it consumed one chunk, so one more may be posted. */
export interface EmbedReaderAck {
  readonly kind: 'ack';
}

/** What the reader worker posts, in order: chunks, then `done` or `failed`. */
export type EmbedReaderMessage =
  | { readonly kind: 'chunk'; readonly chunk: EmbedInputChunk }
  | { readonly kind: 'done'; readonly busyMs: number }
  | { readonly kind: 'failed'; readonly error: SerializedError };

/** What the reader worker starts with. */
export interface EmbedReaderInit {
  readonly path: string;
  readonly maxRecordBytes: number;
  /** Chunks posted and not yet acknowledged, at most. */
  readonly chunksAhead: number;
}
