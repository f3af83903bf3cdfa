/**
 * One run of a job over its input: reads it in chunks, diffs it against
 * the index, embeds and upserts what changed, and checkpoints.
 */
import type { Engine } from '../engine.js';
import { throwIfAborted } from '../errors.js';
import type { IndexItem, VectorIndex } from '../index/vector-index.js';
import type { DocRecord } from '../store/doc-store.js';
import type { EmbeddingCache } from '../store/embedding-cache.js';
import { writeCheckpoint, type Progress } from './checkpoint.js';
import type { ErrorsFile, Failure } from './errors-file.js';
import { KeptLines, type LineSettings, type LineSnapshot } from './known-lines.js';
import { jsonEqual, readId, toItem, type ItemLimits, type JobItem } from './records.js';
import { restOfRun, type KnownSourceRecord, type RecordPosition, type SameRun, type SourceFormat } from './source-records.js';
import { readFileRecordsKnowing, readIterableRecords } from './sources.js';
import { StageTimers } from './stage-timers.js';
import type { JobCounts, JobSpec } from './types.js';
import type { JobPaths } from './workdir.js';

const kDeleteBatch = 10_000;
/** A reindex starts upserting changed records once this many gathered, while it reads on. */
const kEagerFlushItems = 64;

/** Whether an item is what the index holds for its id: same content hash, namespace and metadata. */
function unchanged(existing: DocRecord, item: JobItem): boolean {
  if (existing.hash !== item.hash || existing.namespace !== item.namespace) return false;
  return jsonEqual(existing.metadata ?? {}, item.metadata);
}
export class JobRun {
  readonly counts: JobCounts;
  readonly #spec: JobSpec;
  readonly #engine: Engine;
  readonly #index: VectorIndex;
  readonly #cache: EmbeddingCache | null;
  readonly #errors: ErrorsFile;
  readonly #timers: StageTimers;
  readonly #paths: JobPaths;
  readonly #fingerprint: Readonly<Record<string, unknown>>;
  readonly #incremental: boolean;
  readonly #format: SourceFormat | null;
  readonly #file: string | null;
  readonly #limits: ItemLimits;
  readonly #modelId: string;
  readonly #dims: number;
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
  #committed: Progress;
  #position: RecordPosition;
  #dirty = false;
  #sinceCheckpoint = 0;
  #lastCheckpointAt = performance.now();
  #totalBytes: number | null = null;
  #cacheWrites: Array<Promise<void>> = [];
  /** New or changed items read, waiting to be embedded and upserted together. */
  #waiting: JobItem[] = [];
  /** Failures of the records read since the last flush. */
  #failuresWaiting: Failure[] = [];
  /** Upserts running alongside the reading (a reindex), at most one at a time. */
  #inflight: Promise<void> | null = null;
  /** Stage times of work that overlaps the reading: not the job's. */
  readonly #overlapped = new StageTimers();
  readonly #committedAtStart: number;
  readonly #lines: LineSettings;
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

  constructor(
    spec: JobSpec,
    engine: Engine,
    index: VectorIndex,
    cache: EmbeddingCache | null,
    errors: ErrorsFile,
    timers: StageTimers,
    paths: JobPaths,
    fingerprint: Readonly<Record<string, unknown>>,
    progress: Progress,
    incremental: boolean,
    format: SourceFormat | null,
    file: string | null,
    lines: LineSettings,
  ) {
    this.#spec = spec;
    this.#engine = engine;
    this.#index = index;
    this.#cache = cache;
    this.#errors = errors;
    this.#timers = timers;
    this.#paths = paths;
    this.#fingerprint = fingerprint;
    this.#committed = progress;
    this.#position = progress.position;
    this.#committedAtStart = progress.position.item;
    this.counts = { ...progress.counts };
    this.#incremental = incremental;
    this.#format = format;
    this.#file = file;
    this.#lines = lines;
    this.#knownFirst = lines.known === null ? null : new Int32Array(lines.known.size);
    const info = engine.info();
    this.#limits = { maxTextBytes: info.options.maxTextBytes, snippetChars: spec.snippetChars };
    this.#modelId = info.modelId;
    this.#dims = info.dims;
    if (fingerprint.source !== null && typeof fingerprint.source === 'object' && 'sizeBytes' in fingerprint.source) this.#totalBytes = Number(fingerprint.source.sizeBytes);
  }

  /**
   * Reads the whole source, processing records past the resume point.
   * @param started - when the job started (performance.now()).
   * @returns whether the input was finished or the job was stopped.
   */
  async execute(started: number): Promise<'done' | 'interrupted'> {
    const spec = this.#spec;
    const known = this.#lines.known;
    const records: AsyncGenerator<KnownSourceRecord[]> =
      this.#file !== null
        ? readFileRecordsKnowing(this.#file, { format: this.#format ?? 'jsonl', maxRecordBytes: spec.maxRecordBytes, signal: spec.signal, lineDigests: this.#lines.collect, known: known ?? undefined })
        : readIterableRecords(spec.source as AsyncIterable<unknown>, spec.signal);
    const resumeItem = this.#committed.position.item;
    let chunk: KnownSourceRecord[] = [];
    /** Lines in `chunk` (a run of known lines counts its lines). */
    let weight = 0;
    try {
      for (;;) {
        const t0 = performance.now();
        const next = await records.next();
        if (next.done) break;
        const batch = next.value;
        // Records before the resume point only rebuild the set of ids seen: that time is not a stage's.
        if ((batch[batch.length - 1]?.at.item ?? 0) > resumeItem) this.#timers.ms.read += performance.now() - t0;
        for (let record of batch) {
          if (record.state === 'same') {
            const first = record.at.item - record.count + 1;
            if (first <= resumeItem) {
              const skip = Math.min(record.count, resumeItem - first + 1);
              this.#replayRun(record, skip);
              if (skip === record.count) continue;
              record = restOfRun(record, skip);
            }
          } else if (record.at.item <= resumeItem) {
            if (record.state === 'ok') {
              const r = readId(record.value, spec.fields.id);
              const held = r.id !== null && this.#incremental && (!this.#index.docsLoaded || this.#index.get(r.id) !== undefined);
              if (r.id !== null && this.#firstLine(r.id, held) === undefined) this.#markRead(r.id, record.line, held);
            }
            continue;
          }
          chunk.push(record);
          weight += record.state === 'same' ? record.count : 1;
          if (weight < spec.chunkSize) continue;
          const full = chunk;
          const lines = weight;
          chunk = [];
          weight = 0;
          if ((await this.#chunkDone(full, lines, started)) === 'stop') return 'interrupted';
        }
      }
      if (chunk.length > 0 && (await this.#chunkDone(chunk, weight, started)) === 'stop') return 'interrupted';
    } finally {
      await records.return(undefined);
    }
    await this.#flushUpserts();
    if (this.#incremental && !spec.keepMissing) await this.#deleteMissing();
    return 'done';
  }

  async #chunkDone(chunk: KnownSourceRecord[], lines: number, started: number): Promise<'go' | 'stop'> {
    throwIfAborted(this.#spec.signal);
    const unchangedBefore = this.counts.unchanged;
    await this.#process(chunk);
    // Unchanged records cost next to nothing to read again after a crash;
    // only records that needed work count towards a checkpoint, which saves
    // the whole work index.
    this.#sinceCheckpoint += lines - (this.counts.unchanged - unchangedBefore);
    const stop = this.#spec.stopSignal?.aborted === true;
    const due = stop || this.#sinceCheckpoint >= this.#spec.checkpointItems || performance.now() - this.#lastCheckpointAt >= this.#spec.checkpointSeconds * 1000;
    if (due) await this.checkpoint(false, 'running');
    const elapsedMs = performance.now() - started;
    this.#spec.onProgress?.({
      counts: { ...this.counts },
      position: this.#position,
      totalBytes: this.#totalBytes,
      elapsedMs,
      itemsPerSecond: elapsedMs > 0 ? (Math.max(0, this.counts.read - this.#committedAtStart) * 1000) / elapsedMs : 0,
      checkpoint: due,
    });
    return stop ? 'stop' : 'go';
  }

  async #process(chunk: readonly KnownSourceRecord[]): Promise<void> {
    const spec = this.#spec;
    const failures: Failure[] = [];
    const pending: JobItem[] = [];
    this.#timers.timeSync('read', () => {
      for (const record of chunk) {
        if (record.state === 'same') {
          this.counts.read += record.count;
          this.#sameRun(record, failures);
          continue;
        }
        this.counts.read++;
        if (record.state === 'failed') {
          failures.push({ line: record.line, code: record.code, reason: record.reason });
          continue;
        }
        const r = readId(record.value, spec.fields.id);
        if (r.id === null) {
          failures.push({ line: record.line, code: r.code, reason: r.reason });
          continue;
        }
        // Looked up first: an id the index does not hold is no known line's.
        // Before the doc store is decoded (lazyDocs) that is not known yet:
        // the record is compared with the index when it is upserted.
        let docs = !this.#incremental || this.#index.docsLoaded;
        // Only a changed line in its known place, or an id no known line
        // has, is sent on unread: an id whose known line is elsewhere (a
        // moved line) most likely holds the same record, and is compared
        // now, so that an unchanged text is not embedded again.
        if (!docs && !this.#inPlaceOrNew(r.id)) {
          this.#index.loadDocs();
          docs = true;
        }
        const existing = this.#incremental && docs ? this.#index.get(r.id) : undefined;
        const held = !docs || existing !== undefined;
        const first = this.#firstLine(r.id, held);
        if (first !== undefined) {
          failures.push({ line: record.line, id: r.id, code: 'DUPLICATE_ID', reason: `id already appears on line ${first}; the first occurrence is kept` });
          continue;
        }
        if (existing !== undefined) this.#seenInIndex++;
        // The index's own copy of an id it holds: the one just parsed dies young.
        this.#markRead(existing?.id ?? r.id, record.line, held);
        const c = toItem(record.value, r.id, record.line, spec.fields, this.#limits, this.#format === 'csv');
        if (c.state === 'failed') {
          failures.push({ line: record.line, id: r.id, code: c.code, reason: c.reason });
          continue;
        }
        if (existing !== undefined && unchanged(existing, c.item)) {
          this.counts.unchanged++;
          if (record.state === 'ok' && record.digest !== undefined) this.#keptLines.unchanged.push(record.line, record.digest, existing.id);
          continue;
        }
        if (record.state === 'ok' && record.digest !== undefined) this.#pendingDigests.set(c.item.line, record.digest);
        if (!docs) this.#heldUnknown.add(c.item.line);
        pending.push(c.item);
      }
    });
    for (const f of failures) this.#failuresWaiting.push(f);
    // Changed items wait until a chunk's worth gathered (or a checkpoint,
    // or the end): a few per chunk, embedded and inserted on their own,
    // would keep all but one pool worker idle.
    for (const item of pending) this.#waiting.push(item);
    if (this.#waiting.length >= this.#spec.chunkSize) {
      await this.#drain();
      await this.#flushUpserts(this.#timers);
    } else if (this.#incremental && this.#waiting.length >= kEagerFlushItems && this.#inflight === null && this.#index.docsLoaded) {
      // (Held back while the doc store is not decoded: the flush after the
      // reading decodes it while the pool inserts everything gathered.)
      // A reindex finds few changed records per chunk: they are embedded and
      // upserted on the pool while this thread goes on reading and diffing.
      const flush = this.#flushUpserts(this.#overlapped);
      this.#inflight = flush;
      // Once it is done the next one may start; a failed one stays, for #drain to throw.
      flush.then(
        () => {
          if (this.#inflight === flush) this.#inflight = null;
        },
        () => {},
      );
    }
    const last = chunk[chunk.length - 1];
    if (last !== undefined) this.#position = last.at;
  }

  /**
   * Lines the base version's snapshot knows. The work index started as the
   * base version, and changed since only for ids this run read, so each
   * line's record is in it exactly as the line makes it, unless this run
   * already read its id (its known place is marked): then the line is a
   * duplicate.
   */
  #sameRun(run: SameRun, failures: Failure[]): void {
    const knownFirst = this.#knownFirst;
    const known = this.#lines.known;
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
    this.counts.unchanged += run.count - duplicates;
    this.#nextKnown = run.position + run.count;
  }

  /** Re-reads the first `lines` lines of a run before the resume point: only marks their ids read. */
  #replayRun(run: SameRun, lines: number): void {
    const knownFirst = this.#knownFirst;
    if (knownFirst === null) throw new Error('a run of known lines in a job without known lines');
    for (let k = 0; k < lines; k++) if (knownFirst[run.position + k] === 0) knownFirst[run.position + k] = run.line + k;
    this.#nextKnown = run.position + lines;
  }

  /** Whether an id's known line is where the next line was expected, or no known line has it. */
  #inPlaceOrNew(id: string): boolean {
    const known = this.#lines.known;
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
    const known = this.#lines.known;
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
    const known = this.#lines.known;
    if (first !== undefined || !held || known === null || this.#knownFirst === null) return first;
    const at = known.positionOf(id, this.#nextKnown);
    const line = at === undefined ? 0 : (this.#knownFirst[at] ?? 0);
    return line > 0 ? line : undefined;
  }

  /**
   * The line snapshot to publish with this run's version, or null (not a
   * JSONL file).
   * @returns the snapshot.
   */
  lineSnapshot(): LineSnapshot | null {
    if (!this.#lines.collect) return null;
    return { key: this.#lines.key, ...KeptLines.merge(this.#keptLines.unchanged, this.#keptLines.upserted, this.#lines.known) };
  }

  #writeFailures(failures: Failure[]): void {
    if (failures.length === 0) return;
    failures.sort((a, b) => a.line - b.line);
    this.counts.failed += failures.length;
    this.#timers.timeSync('write', () => this.#errors.write(failures));
  }

  /**
   * Waits for the upserts running alongside the reading; only the wait
   * counts, as insert time.
   */
  async #drain(): Promise<void> {
    const flush = this.#inflight;
    if (flush === null) return;
    this.#inflight = null;
    await this.#timers.time('insert', () => flush);
  }

  /** Waits for upserts still running, whatever their outcome (the job is ending). */
  async settle(): Promise<void> {
    await this.#inflight?.catch(() => {});
    this.#inflight = null;
  }

  /**
   * Embeds (or takes from the cache) and upserts the gathered items;
   * checkpoints and the end of the input call it before they save.
   * @param timers - where the stages' time goes (not the job's when it runs alongside the reading).
   */
  async #flushUpserts(timers: StageTimers = this.#timers): Promise<void> {
    const pending = this.#waiting;
    // Failures are written with the items of their chunks, sorted by line:
    // errors.jsonl reads the same whichever chunks were flushed together.
    const failures = this.#failuresWaiting;
    this.#waiting = [];
    this.#failuresWaiting = [];
    // One flush at a time, in order: an earlier one writes its failures first.
    await this.#drain();
    if (pending.length === 0) {
      this.#writeFailures(failures);
      return;
    }
    const vectors = await this.#vectors(pending, failures, timers);
    const items: IndexItem[] = [];
    const lines: number[] = [];
    for (const item of pending) {
      const vector = vectors.get(item.hash);
      if (vector === undefined) {
        // Failed (embedding): whether the index holds its id is worked out before the deletions.
        if (this.#heldUnknown.delete(item.line)) this.#unresolved.push(item.id);
        continue;
      }
      items.push({ id: item.id, vector, hash: item.hash, namespace: item.namespace, metadata: item.metadata });
      lines.push(item.line);
    }
    if (items.length === 0) {
      for (const item of pending) this.#pendingDigests.delete(item.line);
      this.#writeFailures(failures);
      return;
    }
    // Unchanged records are left as they are: read before the doc store
    // was decoded, they were not compared with it then.
    const options = { skipUnchanged: true, ...(this.#spec.signal !== undefined ? { signal: this.#spec.signal } : {}) };
    const outcomes = await timers.time('insert', () => this.#index.upsert(items, options));
    outcomes.forEach((o, i) => {
      const line = lines[i] ?? 0;
      const digest = this.#pendingDigests.get(line);
      const unknown = this.#heldUnknown.delete(line);
      if (o.state !== 'ok') {
        if (unknown) this.#unresolved.push(items[i]?.id ?? '');
        failures.push({ line, id: items[i]?.id ?? '', code: o.code, reason: o.reason });
        return;
      }
      if (unknown && o.change !== 'added') this.#seenInIndex++;
      if (o.change === 'unchanged') this.counts.unchanged++;
      else {
        if (o.change === 'updated') this.counts.updated++;
        else this.counts.added++;
        this.#dirty = true;
      }
      // Kept lines, in line order (the flushes are): upserted or found unchanged only now.
      if (digest !== undefined) this.#keptLines.upserted.push(line, digest, items[i]?.id ?? '');
    });
    for (const item of pending) this.#pendingDigests.delete(item.line);
    this.#writeFailures(failures);
  }

  /** Vectors by content hash: from the cache, else embedded (and cached). Failed texts become failures. */
  async #vectors(pending: readonly JobItem[], failures: Failure[], timers: StageTimers): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    if (pending.length === 0) return out;
    const unique: JobItem[] = [];
    const seen = new Set<string>();
    for (const item of pending) {
      if (seen.has(item.hash)) continue;
      seen.add(item.hash);
      unique.push(item);
    }
    let misses = unique;
    if (this.#cache !== null) {
      const cache = this.#cache;
      const found = await timers.time('cache', () => cache.getMany(this.#modelId, unique.map((u) => u.hash), this.#dims));
      misses = [];
      found.forEach((v, i) => {
        const u = unique[i] as JobItem;
        if (v === undefined) misses.push(u);
        else out.set(u.hash, v);
      });
    }
    this.counts.cacheHits += unique.length - misses.length;
    if (misses.length === 0) return out;
    const result = await timers.time('embed', () => this.#engine.embed(misses.map((m) => m.text), this.#spec.signal !== undefined ? { signal: this.#spec.signal } : {}));
    const fresh: Array<readonly [string, Float32Array]> = [];
    const failedHashes = new Map<string, { code: string; reason: string }>();
    const dims = result.dims;
    result.items.forEach((o, i) => {
      const m = misses[i] as JobItem;
      if (o.state === 'ok') {
        const v = result.vectors.slice(i * dims, (i + 1) * dims);
        out.set(m.hash, v);
        fresh.push([m.hash, v]);
      } else failedHashes.set(m.hash, { code: o.code, reason: o.reason });
    });
    this.counts.embedded += fresh.length;
    if (this.#cache !== null && fresh.length > 0) {
      const cache = this.#cache;
      // lmdb commits (and fsyncs) on its own thread: the job does not wait for
      // it, except at checkpoints. The cache is only an optimisation, so a
      // failed write costs a later re-embedding, never the job.
      const write = timers.timeSync('cache', () => cache.putMany(this.#modelId, fresh)).catch(() => {});
      this.#cacheWrites.push(write);
    }
    if (failedHashes.size > 0) {
      for (const item of pending) {
        const f = failedHashes.get(item.hash);
        if (f !== undefined) failures.push({ line: item.line, id: item.id, code: f.code, reason: f.reason });
      }
    }
    return out;
  }

  async #deleteMissing(): Promise<void> {
    // Ids of records that failed before the index was asked about them.
    for (const id of this.#unresolved) if (this.#index.get(id) !== undefined) this.#seenInIndex++;
    this.#unresolved = [];
    // Every id the index holds was either there when it was first read, or
    // added by this run: when those account for all of them, none is missing.
    if (this.#committedAtStart === 0 && this.#seenInIndex + this.counts.added === this.#index.count) return;
    const gone = this.#index.ids().filter((id) => this.#firstLine(id) === undefined);
    for (let i = 0; i < gone.length; i += kDeleteBatch) {
      throwIfAborted(this.#spec.signal);
      const outcomes = await this.#timers.time('insert', () => this.#index.delete(gone.slice(i, i + kDeleteBatch)));
      for (const o of outcomes) if (o.state === 'ok') this.counts.deleted++;
      if (outcomes.length > 0) this.#dirty = true;
    }
  }

  /** Makes the next checkpoint save the work index (it changed outside the records: a PCA refit). */
  markChanged(): void {
    this.#dirty = true;
  }

  /** Waits for the embedding cache writes started so far. */
  async flushCache(): Promise<void> {
    const writes = this.#cacheWrites;
    this.#cacheWrites = [];
    if (writes.length > 0) await this.#timers.time('cache', () => Promise.all(writes));
  }

  /**
   * Saves progress: the work index (when it changed) and checkpoint.json,
   * in the two-step order described in workdir.ts.
   * @param force - save the work index even when nothing changed since the last save.
   * @param phase - `publishing` for the last checkpoint before publishing.
   */
  async checkpoint(force: boolean, phase: 'running' | 'publishing'): Promise<void> {
    await this.#flushUpserts();
    await this.flushCache();
    await this.#timers.time('write', async () => {
      const errorsBytes = this.#errors.sync();
      let version = this.#committed.version;
      if (this.#dirty || (force && version === null)) {
        writeCheckpoint(this.#paths, {
          fingerprint: this.#fingerprint,
          phase: 'running',
          committed: this.#committed,
          pending: { afterVersion: this.#committed.version, version: null, position: this.#position, errorsBytes, counts: { ...this.counts } },
        });
        version = await this.#index.save();
        this.#dirty = false;
      }
      this.#committed = { version, position: this.#position, errorsBytes, counts: { ...this.counts } };
      writeCheckpoint(this.#paths, { fingerprint: this.#fingerprint, phase, committed: this.#committed, pending: null });
      this.#sinceCheckpoint = 0;
      this.#lastCheckpointAt = performance.now();
    });
  }
}

