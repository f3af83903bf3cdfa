/**
 * The diff of a job's input against its index: which ids were read where
 * (duplicates, and in a reindex the ids to delete), which records are
 * unchanged, which go on to be embedded and upserted, and which lines the
 * version this job publishes can remember as known (see known-lines.ts).
 */
import { jobIndexHandle } from '../index/internal.js';
import type { IndexItemOutcome } from '../index/types.js';
import type { VectorIndex } from '../index/vector-index.js';
import { sameContent } from '../store/record.js';
import type { Failure } from './errors-file.js';
import { KeptLines, type LineSettings, type LineSnapshot } from './known-lines.js';
import { readId, toItem, type FieldNames, type ItemLimits, type JobItem } from './records.js';
import type { SameRun, SourceRecord } from './source-records.js';
import type { JobCounts } from './types.js';


/** How a {@link InputDiff} reads records. */
export interface DiffSettings {
  /** A reindex that is not full: records are compared with the index. */
  readonly incremental: boolean;
  readonly fields: FieldNames;
  readonly limits: ItemLimits;
  /** The input is CSV (every other column is metadata). */
  readonly csv: boolean;
  readonly lines: LineSettings;
}

/** The diff of one run of a job: updated record by record, in input order. */
export class InputDiff {
  readonly #index: VectorIndex;
  readonly #counts: JobCounts;
  readonly #settings: DiffSettings;
  /** First line of every id read so far (duplicates and, in a reindex, deletions), but those of known lines (#knownFirst). */
  readonly #seen = new Map<string, number>();
  /**
   * First line of every known line read so far, by its place among the
   * base version's known lines (0: not read), or of the line that read
   * that line's id first; ids read only on known lines are not in #seen.
   */
  readonly #knownFirst: Int32Array | null;
  /** The known place after the last run of known lines read (at first 0): where the next line is expected. */
  #nextKnown = 0;
  /** Ids read that the index held when they were first read (past the resume point). */
  #seenInIndex = 0;
  /**
   * The snapshot this run publishes: lines read by this run whose record
   * the index holds as they make it. Unchanged lines, and upserted ones,
   * each in line order; merged at the end.
   */
  readonly #keptLines = { unchanged: new KeptLines(), upserted: new KeptLines() };
  /** Lines of the items waiting or being upserted that were read before the doc store was decoded (lazyDocs). */
  readonly #heldUnknown = new Set<number>();
  /** Ids of such items that failed before the index was asked about them: resolved before the deletions. */
  #unresolved: string[] = [];
  /** Line digests of the items waiting or being upserted, by line. */
  readonly #pendingDigests = new Map<number, Uint8Array>();

  /**
   * @param index - the work index.
   * @param counts - the job's counters (`unchanged` is counted here).
   * @param settings - how records are read.
   */
  constructor(index: VectorIndex, counts: JobCounts, settings: DiffSettings) {
    this.#index = index;
    this.#counts = counts;
    this.#settings = settings;
    this.#knownFirst = settings.lines.known === null ? null : new Int32Array(settings.lines.known.size);
  }

  /**
   * Re-reads a record before the resume point: only marks its id read.
   * @param record - an ok record.
   */
  replayRecord(record: SourceRecord & { readonly state: 'ok' }): void {
    const r = readId(record.value, this.#settings.fields.id);
    const held = r.id !== null && this.#settings.incremental && (!jobIndexHandle(this.#index).docsLoaded || this.#index.get(r.id) !== undefined);
    if (r.id !== null && this.#firstLine(r.id, held) === undefined) this.#markRead(r.id, record.line, held);
  }

  /**
   * Re-reads the first `lines` lines of a run before the resume point: only marks their ids read.
   * @param run - the run.
   * @param lines - its lines before the resume point.
   */
  replayRun(run: SameRun, lines: number): void {
    const knownFirst = this.#knownFirst;
    if (knownFirst === null) throw new Error('a run of known lines in a job without known lines');
    for (let k = 0; k < lines; k++) if (knownFirst[run.position + k] === 0) knownFirst[run.position + k] = run.line + k;
    this.#nextKnown = run.position + lines;
  }

  /**
   * Lines the base version's snapshot knows. The work index started as the
   * base version, and changed since only for ids this run read, so each
   * line's record is in it exactly as the line makes it, unless this run
   * already read its id (its known place is marked): then the line is a
   * duplicate.
   * @param run - the run.
   * @param failures - receives its duplicates.
   */
  sameRun(run: SameRun, failures: Failure[]): void {
    const knownFirst = this.#knownFirst;
    const known = this.#settings.lines.known;
    if (knownFirst === null || known === null) throw new Error('a run of known lines in a job without known lines');
    const kept = this.#keptLines.unchanged;
    let from = 0;
    let duplicates = 0;
    for (let k = 0; k < run.count; k++) {
      const first = knownFirst[run.position + k] ?? 0;
      if (first === 0) {
        knownFirst[run.position + k] = run.line + k;
        continue;
      }
      kept.pushRun(run.line + from, run.position + from, k - from);
      failures.push({ line: run.line + k, id: known.idAt(run.position + k), code: 'DUPLICATE_ID', reason: `id already appears on line ${first}; the first occurrence is kept` });
      duplicates++;
      from = k + 1;
    }
    kept.pushRun(run.line + from, run.position + from, run.count - from);
    this.#seenInIndex += run.count - duplicates;
    this.#counts.unchanged += run.count - duplicates;
    this.#nextKnown = run.position + run.count;
  }

  /**
   * Diffs one record past the resume point.
   * @param record - the record.
   * @param failures - receives it when it fails.
   * @returns the item to embed and upsert, or undefined (failed, duplicate or unchanged).
   */
  read(record: SourceRecord, failures: Failure[]): JobItem | undefined {
    if (record.state === 'failed') {
      failures.push({ line: record.line, code: record.code, reason: record.reason });
      return undefined;
    }
    const { incremental, fields } = this.#settings;
    const r = readId(record.value, fields.id);
    if (r.id === null) {
      failures.push({ line: record.line, code: r.code, reason: r.reason });
      return undefined;
    }
    // Looked up first: an id the index does not hold is no known line's.
    // Before the doc store is decoded (lazyDocs) that is not known yet:
    // the record is compared with the index when it is upserted.
    let docs = !incremental || jobIndexHandle(this.#index).docsLoaded;
    // Only a changed line in its known place, or an id no known line
    // has, is sent on unread: an id whose known line is elsewhere (a
    // moved line) most likely holds the same record, and is compared
    // now, so that an unchanged text is not embedded again.
    if (!docs && !this.#inPlaceOrNew(r.id)) {
      jobIndexHandle(this.#index).loadDocs();
      docs = true;
    }
    const existing = incremental && docs ? this.#index.get(r.id) : undefined;
    const held = !docs || existing !== undefined;
    const first = this.#firstLine(r.id, held);
    if (first !== undefined) {
      failures.push({ line: record.line, id: r.id, code: 'DUPLICATE_ID', reason: `id already appears on line ${first}; the first occurrence is kept` });
      return undefined;
    }
    if (existing !== undefined) this.#seenInIndex++;
    // The index's own copy of an id it holds: the one just parsed dies young.
    this.#markRead(existing?.id ?? r.id, record.line, held);
    const c = toItem(record.value, r.id, record.line, fields, this.#settings.limits, this.#settings.csv);
    if (c.state === 'failed') {
      failures.push({ line: record.line, id: r.id, code: c.code, reason: c.reason });
      return undefined;
    }
    if (existing !== undefined && sameContent(existing, c.item)) {
      this.#counts.unchanged++;
      if (record.digest !== undefined) this.#keptLines.unchanged.push(record.line, record.digest, existing.id);
      return undefined;
    }
    if (record.digest !== undefined) this.#pendingDigests.set(c.item.line, record.digest);
    if (!docs) this.#heldUnknown.add(c.item.line);
    return c.item;
  }

  /**
   * An item got no vector (its embedding failed).
   * @param item - the item.
   */
  notEmbedded(item: JobItem): void {
    // Whether the index holds its id is worked out before the deletions.
    if (this.#heldUnknown.delete(item.line)) this.#unresolved.push(item.id);
  }

  /**
   * An item was upserted (or failed to be).
   * @param line - its line.
   * @param id - its id.
   * @param outcome - the upsert's outcome.
   */
  upserted(line: number, id: string, outcome: IndexItemOutcome): void {
    const digest = this.#pendingDigests.get(line);
    const unknown = this.#heldUnknown.delete(line);
    if (outcome.state !== 'ok') {
      if (unknown) this.#unresolved.push(id);
      return;
    }
    if (unknown && outcome.change !== 'added') this.#seenInIndex++;
    // Kept lines, in line order (the flushes are): upserted or found unchanged only now.
    if (digest !== undefined) this.#keptLines.upserted.push(line, digest, id);
  }

  /**
   * A flush of these items ended: forgets their line digests.
   * @param items - the items flushed.
   */
  flushed(items: readonly JobItem[]): void {
    for (const item of items) this.#pendingDigests.delete(item.line);
  }

  /**
   * The ids the index holds that the input no longer has (read to its end).
   * @param committedAtStart - the records before the resume point.
   * @returns the ids to delete.
   */
  missingIds(committedAtStart: number): string[] {
    // Ids of records that failed before the index was asked about them.
    for (const id of this.#unresolved) if (this.#index.get(id) !== undefined) this.#seenInIndex++;
    this.#unresolved = [];
    // Every id the index holds was either there when it was first read, or
    // added by this run: when those account for all of them, none is missing.
    if (committedAtStart === 0 && this.#seenInIndex + this.#counts.added === this.#index.count) return [];
    return this.#index.ids().filter((id) => this.#firstLine(id) === undefined);
  }

  /**
   * The line snapshot to publish with this run's version, or null (not a
   * JSONL file).
   * @returns the snapshot.
   */
  lineSnapshot(): LineSnapshot | null {
    const lines = this.#settings.lines;
    if (!lines.collect) return null;
    return { key: lines.key, ...KeptLines.merge(this.#keptLines.unchanged, this.#keptLines.upserted, lines.known) };
  }

  /** Whether an id's known line is where the next line was expected, or no known line has it. */
  #inPlaceOrNew(id: string): boolean {
    const known = this.#settings.lines.known;
    if (known === null) return false;
    const at = known.positionOf(id, this.#nextKnown);
    return at === undefined || known.isNear(at, this.#nextKnown);
  }

  /**
   * Marks an id read on a line that is not a known line: in #seen, and
   * the known line of that id, if any, as read (a later copy of it is a
   * duplicate).
   * @param id - the id.
   * @param line - the line.
   * @param held - whether the index holds the id (else it is no known line's: known lines are records of the base version, and no id is deleted before the input is read).
   */
  #markRead(id: string, line: number, held: boolean): void {
    this.#seen.set(id, line);
    const known = this.#settings.lines.known;
    if (!held || known === null || this.#knownFirst === null) return;
    const at = known.positionOf(id, this.#nextKnown);
    if (at !== undefined && this.#knownFirst[at] === 0) this.#knownFirst[at] = line;
  }

  /**
   * The first line of an id read so far: in #seen, or a known line's.
   * @param id - the id.
   * @param held - whether the index holds the id (see #markRead).
   * @returns the line, or undefined when not read yet.
   */
  #firstLine(id: string, held = true): number | undefined {
    const first = this.#seen.get(id);
    const known = this.#settings.lines.known;
    if (first !== undefined || !held || known === null || this.#knownFirst === null) return first;
    const at = known.positionOf(id, this.#nextKnown);
    const line = at === undefined ? 0 : (this.#knownFirst[at] ?? 0);
    return line > 0 ? line : undefined;
  }
}
