/**
 * What a job source yields: records with their positions, runs of lines
 * the caller already knows, and the options of the file readers.
 */

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
