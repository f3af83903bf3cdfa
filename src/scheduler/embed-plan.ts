/**
 * The pull side of an embedding call of more than one window: the plan the
 * workers claim batches from (see handleEmbedRun in worker-side.ts).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { AbortError } from '../errors.js';
import type { BatchRange } from './batcher.js';
import { kBatchDone, kEntryDone, kEntryEnd, kEntryStart, kEntryWindow, kPlanCancelled, kPlanComplete, kPlanEntryInts, kPlanHeaderInts, kPlanOpen, kPlanPublishedSlot, kPlanStateSlot, type EmbedSlab } from './layout.js';
import type { MetricsRecorder } from './metrics.js';
import { checkedReply, type EmbedRunReply, type InsertSpec, type WorkerReply, type WorkerRequest } from './protocol.js';

/** A batch of a window and the slab it reads. */
export interface PlannedBatch {
  readonly slab: EmbedSlab;
  readonly batch: BatchRange;
}

/**
 * The pull side of an embedding call: batches are published into a shared
 * Int32 plan as windows are packed, and one long task per worker claims them
 * from a shared cursor (handleEmbedRun). A worker then never waits on the
 * main thread's event loop between batches, and the main thread posts
 * `workers` messages per call instead of one per batch.
 *
 * A run that fails (its worker threw or died) is replaced while batches may
 * still come, up to maxRetries × workers times; batches left not done are
 * handed back by {@link EmbedPlan.finish} for the per-batch path.
 */
export class EmbedPlan {
  readonly #pool: Piscina<WorkerRequest, WorkerReply>;
  readonly #metrics: MetricsRecorder;
  readonly #buffer: SharedArrayBuffer;
  readonly #plan: Int32Array;
  readonly #insert: InsertSpec | null;
  readonly #signal: AbortSignal;
  readonly #slabs: EmbedSlab[] = [];
  readonly #ports: MessagePort[] = [];
  readonly #runs: Array<Promise<void>> = [];
  #published = 0;
  #restartsLeft: number;

  constructor(pool: Piscina<WorkerRequest, WorkerReply>, metrics: MetricsRecorder, items: number, workers: number, maxRetries: number, insert: InsertSpec | null, signal: AbortSignal) {
    this.#pool = pool;
    this.#metrics = metrics;
    // At most one batch per item; entries past the last published are never touched.
    this.#buffer = new SharedArrayBuffer((kPlanHeaderInts + Math.max(1, items) * kPlanEntryInts) * 4);
    this.#plan = new Int32Array(this.#buffer);
    this.#insert = insert;
    this.#signal = signal;
    this.#restartsLeft = maxRetries * workers;
    for (let w = 0; w < workers; w++) this.#startRun();
  }

  /** Sends a window's slab to every run, then publishes its batches. */
  publish(slab: EmbedSlab, batches: readonly BatchRange[]): void {
    const window = this.#slabs.length;
    this.#slabs.push(slab);
    for (const port of this.#ports) port.postMessage(slab);
    for (const { start, end } of batches) {
      const at = kPlanHeaderInts + this.#published * kPlanEntryInts;
      this.#plan[at + kEntryWindow] = window;
      this.#plan[at + kEntryStart] = start;
      this.#plan[at + kEntryEnd] = end;
      this.#published++;
    }
    // Plain stores of the entries above, then a sequentially consistent
    // store of the count: a worker that Atomics.loads the count and sees
    // batch i published also sees entry i (awaitPublished). The slab went
    // out on the ports before, so it is queued before any batch naming it.
    // notify after the store: a worker waiting on the old count wakes, or
    // sees the new count and never sleeps.
    Atomics.store(this.#plan, kPlanPublishedSlot, this.#published);
    Atomics.notify(this.#plan, kPlanPublishedSlot);
  }

  /**
   * Closes the plan and waits for every run.
   * @returns the published batches no run finished.
   */
  async finish(): Promise<PlannedBatch[]> {
    // Workers sleep on the published count, not on the state slot: notify
    // that address after the state store, so a sleeping worker wakes and
    // re-reads the state (awaitPublished reads the count again after the
    // state, so a batch published before completion is never dropped).
    Atomics.store(this.#plan, kPlanStateSlot, kPlanComplete);
    Atomics.notify(this.#plan, kPlanPublishedSlot);
    await this.settled();
    if (this.#signal.aborted) throw new AbortError(this.#signal.reason);
    const left: PlannedBatch[] = [];
    for (let i = 0; i < this.#published; i++) {
      const at = kPlanHeaderInts + i * kPlanEntryInts;
      // Every run has settled, and a run marks a batch done only after its
      // rows are written; a batch not done is re-run whatever it wrote.
      if (Atomics.load(this.#plan, at + kEntryDone) === kBatchDone) continue;
      left.push({ slab: this.#slabs[this.#plan[at + kEntryWindow] as number] as EmbedSlab, batch: { start: this.#plan[at + kEntryStart] as number, end: this.#plan[at + kEntryEnd] as number } });
    }
    return left;
  }

  /** Tells the runs to stop after their current batch (a cancelled call). */
  cancel(): void {
    // As in finish(): workers sleep on the published count, so notify it after the state store.
    Atomics.store(this.#plan, kPlanStateSlot, kPlanCancelled);
    Atomics.notify(this.#plan, kPlanPublishedSlot);
  }

  /** Resolves once every run, replacements included, has ended. */
  async settled(): Promise<void> {
    // Replacements are appended while earlier runs are awaited.
    for (let k = 0; k < this.#runs.length; k++) await this.#runs[k];
  }

  #startRun(): void {
    const { port1, port2 } = new MessageChannel();
    for (const slab of this.#slabs) port1.postMessage(slab);
    this.#ports.push(port1);
    const run = this.#pool
      .run({ kind: 'embed-run', plan: this.#buffer, windows: port2, insert: this.#insert }, { signal: this.#signal, transferList: [port2] })
      .then(checkedReply)
      .then(
        (reply) => {
          for (const ms of (reply as EmbedRunReply).durationsMs) this.#metrics.addBatch(ms);
        },
        () => {
          // Its claimed batch stays not done and is re-run by the caller;
          // a replacement keeps the pool pulling while batches may come.
          if (this.#signal.aborted || Atomics.load(this.#plan, kPlanStateSlot) !== kPlanOpen || this.#restartsLeft <= 0) return;
          this.#restartsLeft--;
          this.#startRun();
        },
      )
      .finally(() => {
        port1.close();
      });
    this.#runs.push(run);
  }
}
