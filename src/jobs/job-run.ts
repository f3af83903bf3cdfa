/**
 * One run of a job over its input: reads it in chunks, diffs each record
 * against the index (diff.ts), gathers what changed and upserts it with
 * vectors from the cache or the model (vectors.ts), deletes what the input
 * no longer has, and checkpoints (checkpoint.ts) every N records or T
 * seconds.
 */
import type { Engine } from '../engine.js';
import { throwIfAborted } from '../errors.js';
import { jobIndexHandle } from '../index/internal.js';
import type { IndexItem } from '../index/types.js';
import type { VectorIndex } from '../index/vector-index.js';
import type { EmbeddingCache } from '../store/embedding-cache.js';
import { commitProgress, type Progress } from './checkpoint.js';
import { InputDiff } from './diff.js';
import type { ErrorsFile, Failure } from './errors-file.js';
import type { LineSettings, LineSnapshot } from './known-lines.js';
import type { JobItem } from './records.js';
import { restOfRun, type KnownSourceRecord, type RecordPosition, type SourceFormat } from './source-records.js';
import { readFileRecordsKnowing, readIterableRecords } from './sources.js';
import { StageTimers } from './stage-timers.js';
import type { JobCounts, JobSpec } from './types.js';
import { VectorSource } from './vectors.js';
import type { JobPaths } from './workdir.js';

const kDeleteBatch = 10_000;
/** A reindex starts upserting changed records once this many gathered, while it reads on. */
const kEagerFlushItems = 64;

/** What a {@link JobRun} runs on. */
export interface JobRunContext {
  readonly spec: JobSpec;
  readonly engine: Engine;
  readonly index: VectorIndex;
  readonly cache: EmbeddingCache | null;
  readonly errors: ErrorsFile;
  readonly timers: StageTimers;
  readonly paths: JobPaths;
  readonly fingerprint: Readonly<Record<string, unknown>>;
  /** Where the run starts: the last committed checkpoint, or nothing read. */
  readonly progress: Progress;
  readonly incremental: boolean;
  readonly format: SourceFormat | null;
  /** The input file, or null for an iterable. */
  readonly file: string | null;
  readonly lines: LineSettings;
}

/** The state of one running job. */
export class JobRun {
  /** The job's counters, updated as it goes. */
  readonly counts: JobCounts;
  readonly #spec: JobSpec;
  readonly #index: VectorIndex;
  readonly #errors: ErrorsFile;
  readonly #timers: StageTimers;
  readonly #paths: JobPaths;
  readonly #fingerprint: Readonly<Record<string, unknown>>;
  readonly #incremental: boolean;
  readonly #format: SourceFormat | null;
  readonly #file: string | null;
  readonly #lines: LineSettings;
  readonly #diff: InputDiff;
  readonly #vectors: VectorSource;
  #committed: Progress;
  #position: RecordPosition;
  #dirty = false;
  #sinceCheckpoint = 0;
  #lastCheckpointAt = performance.now();
  #totalBytes: number | null = null;
  /** New or changed items read, waiting to be embedded and upserted together. */
  #waiting: JobItem[] = [];
  /** Failures of the records read since the last flush. */
  #failuresWaiting: Failure[] = [];
  /** Upserts running alongside the reading (a reindex), at most one at a time. */
  #inflight: Promise<void> | null = null;
  /** Stage times of work that overlaps the reading: not the job's. */
  readonly #overlapped = new StageTimers();
  readonly #committedAtStart: number;

  /** @param context - what the run runs on, and where it starts. */
  constructor(context: JobRunContext) {
    const { spec, engine, progress, fingerprint } = context;
    this.#spec = spec;
    this.#index = context.index;
    this.#errors = context.errors;
    this.#timers = context.timers;
    this.#paths = context.paths;
    this.#fingerprint = fingerprint;
    this.#committed = progress;
    this.#position = progress.position;
    this.#committedAtStart = progress.position.item;
    this.counts = { ...progress.counts };
    this.#incremental = context.incremental;
    this.#format = context.format;
    this.#file = context.file;
    this.#lines = context.lines;
    const limits = { maxTextBytes: engine.info().options.maxTextBytes, snippetChars: spec.snippetChars };
    this.#diff = new InputDiff(context.index, this.counts, { incremental: context.incremental, fields: spec.fields, limits, csv: context.format === 'csv', lines: context.lines });
    this.#vectors = new VectorSource(engine, context.cache, this.counts, spec.signal);
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
        : readIterableRecords(spec.source as AsyncIterable<unknown>, { maxRecordBytes: spec.maxRecordBytes, signal: spec.signal });
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
              this.#diff.replayRun(record, skip);
              if (skip === record.count) continue;
              record = restOfRun(record, skip);
            }
          } else if (record.at.item <= resumeItem) {
            if (record.state === 'ok') this.#diff.replayRecord(record);
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
    const failures: Failure[] = [];
    const pending: JobItem[] = [];
    this.#timers.timeSync('read', () => {
      for (const record of chunk) {
        if (record.state === 'same') {
          this.counts.read += record.count;
          this.#diff.sameRun(record, failures);
          continue;
        }
        this.counts.read++;
        const item = this.#diff.read(record, failures);
        if (item !== undefined) pending.push(item);
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
    } else if (this.#incremental && this.#waiting.length >= kEagerFlushItems && this.#inflight === null && jobIndexHandle(this.#index).docsLoaded) {
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
   * The line snapshot to publish with this run's version, or null (not a
   * JSONL file).
   * @returns the snapshot.
   */
  lineSnapshot(): LineSnapshot | null {
    return this.#diff.lineSnapshot();
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
    // Texts with no word the model knows are upserted as texts: the index
    // stores them for its lexical side (or fails them, without one).
    const noKnownWords = new Set<string>();
    const vectors = await this.#vectors.vectors(pending, failures, timers, noKnownWords);
    const items: IndexItem[] = [];
    const lines: number[] = [];
    for (const item of pending) {
      const vector = vectors.get(item.hash);
      if (vector === undefined && !noKnownWords.has(item.hash)) {
        this.#diff.notEmbedded(item);
        continue;
      }
      // The text goes with its vector to the lexical index.
      items.push({ id: item.id, ...(vector !== undefined ? { vector, hash: item.hash } : {}), text: item.text, namespace: item.namespace, metadata: item.metadata });
      lines.push(item.line);
    }
    if (items.length === 0) {
      this.#diff.flushed(pending);
      this.#writeFailures(failures);
      return;
    }
    // Unchanged records are left as they are: read before the doc store
    // was decoded, they were not compared with it then.
    const options = { skipUnchanged: true, ...(this.#spec.signal !== undefined ? { signal: this.#spec.signal } : {}) };
    const outcomes = await timers.time('insert', () => this.#index.upsert(items, options));
    outcomes.forEach((o, i) => {
      const line = lines[i] ?? 0;
      const id = items[i]?.id ?? '';
      this.#diff.upserted(line, id, o);
      if (o.state !== 'ok') {
        failures.push({ line, id, code: o.code, reason: o.reason });
        return;
      }
      if (o.change === 'unchanged') this.counts.unchanged++;
      else {
        if (o.change === 'updated') this.counts.updated++;
        else this.counts.added++;
        this.#dirty = true;
      }
    });
    this.#diff.flushed(pending);
    this.#writeFailures(failures);
  }

  async #deleteMissing(): Promise<void> {
    const gone = this.#diff.missingIds(this.#committedAtStart);
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
    await this.#vectors.flushCache(this.#timers);
  }

  /**
   * Saves progress: the work index (when it changed) and checkpoint.json,
   * in the two-step order of {@link commitProgress}.
   * @param force - save the work index even when nothing changed since the last save.
   * @param phase - `publishing` for the last checkpoint before publishing.
   */
  async checkpoint(force: boolean, phase: 'running' | 'publishing'): Promise<void> {
    await this.#flushUpserts();
    await this.flushCache();
    await this.#timers.time('write', async () => {
      const errorsBytes = this.#errors.sync();
      const save = this.#dirty || (force && this.#committed.version === null) ? () => this.#index.save() : null;
      this.#committed = await commitProgress(this.#paths, this.#fingerprint, this.#committed, { position: this.#position, errorsBytes, counts: this.counts }, save, phase);
      if (save !== null) this.#dirty = false;
      this.#sinceCheckpoint = 0;
      this.#lastCheckpointAt = performance.now();
    });
  }
}
