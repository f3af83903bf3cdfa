/**
 * What an embed worker does, as plain functions (the worker entry file only
 * routes messages here).
 */
import { loadTf, type BackendName } from '../tensor/backend.js';
import { getKernel } from '../models/registry.js';
import type { EmbedKernel } from '../models/embedder.js';
import { kBatchDone, kEntryDone, kEntryEnd, kEntryStart, kEntryWindow, kFaultCountSlot, kPlanComplete, kPlanEntryInts, kPlanHeaderInts, kPlanNextSlot, kPlanOpen, kPlanPublishedSlot, kPlanStateSlot } from './layout.js';
import { isItemOk } from '../models/embedder.js';
import { receiveMessageOnPort, threadId } from 'node:worker_threads';
import type { InsertEmbeddedRows, TaskTable } from './task-registry.js';
import type { EmbedSlab } from './layout.js';
import type { EmbedReply, EmbedRequest, EmbedRunReply, EmbedRunRequest, FaultSpec, PingRequest, WorkerInit } from './protocol.js';


/**
 * Builds this worker's kernel: starts TF.js when the model needs it, then
 * binds the model to its shared state.
 * @param init - the pool's workerData.
 * @returns the kernel and the active backend name.
 */
export async function createWorkerKernel(init: WorkerInit): Promise<{ kernel: EmbedKernel; backend: string }> {
  const tf = init.needsTf ? await loadTf(init.backend) : undefined;
  const kernel = await getKernel(init.kernel)(init.shared, tf);
  return { kernel, backend: init.needsTf ? init.backend : 'none' };
}

const decoder = new TextDecoder('utf-8');

/** @returns whether the test-only fault should fire for this batch (counted across the pool). */
function maybeFault(fault: FaultSpec, texts: readonly string[]): boolean {
  if (!texts.some((t) => t.includes(fault.marker))) return false;
  return claimFault(fault);
}

/**
 * Takes one firing of the test-only fault.
 * @param fault - the fault hook.
 * @returns whether the fault had firings left (Atomics.add: "at most `times`" holds across all workers).
 */
export function claimFault(fault: FaultSpec): boolean {
  const counter = new Int32Array(fault.counter);
  // Atomics.add: each firing takes a distinct count, so at most `times` fire across all workers.
  return Atomics.add(counter, kFaultCountSlot, 1) < fault.times;
}

/**
 * Fires the test-only fault: exits the worker or throws.
 * @param fault - the fault hook.
 * @throws {Error} always, in `throw` mode.
 */
export function fireFault(fault: FaultSpec): never {
  if (fault.mode === 'exit') process.exit(70);
  throw new Error(`injected fault on "${fault.marker}"`);
}

/**
 * Embeds order[start, end) of a slab and writes rows and statuses in place.
 * @param kernel - the model kernel.
 * @param request - the batch.
 * @param fault - the test-only fault hook, null in normal runs.
 * @param backend - the TF.js backend, for a PCA step.
 * @param insertRows - inserts the embedded rows when the request asks for it.
 * @returns the reply.
 */
export async function handleEmbed(kernel: EmbedKernel, request: EmbedRequest, fault: FaultSpec | null, backend: BackendName, insertRows: InsertEmbeddedRows): Promise<EmbedReply> {
  const started = performance.now();
  const { slab, start, end } = request;
  const { dims } = slab;
  const bytes = new Uint8Array(slab.textBytes);
  const offsets = new Uint32Array(slab.offsets);
  const order = new Uint32Array(slab.order, start * 4, end - start);
  const out = new Float32Array(slab.out);
  const status = new Uint8Array(slab.status);
  const textOf = (j: number): string => {
    const local = (order[j] ?? 0) - slab.base;
    return decoder.decode(bytes.subarray(offsets[local] ?? 0, offsets[local + 1] ?? 0));
  };
  const embedSlab = kernel.embedSlab?.bind(kernel);
  const embed = async (from: number, to: number): Promise<void> => {
    const items = order.subarray(from, to);
    if (embedSlab !== undefined) {
      embedSlab({ bytes, offsets, base: slab.base, items, out, status });
      return;
    }
    const texts = Array.from(items, (_, j) => textOf(from + j));
    const local = new Uint8Array(items.length);
    const rows = await kernel.embedBatch(texts, local);
    for (let j = 0; j < items.length; j++) {
      const i = items[j] ?? 0;
      out.set(rows.subarray(j * dims, (j + 1) * dims), i * dims);
      status[i] = local[j] ?? 0;
    }
  };
  if (fault !== null) {
    const texts = Array.from(order, (_, j) => textOf(j));
    // A fault fires after half the rows are written, so a retry must cope
    // with a partly written batch (rows are idempotent: same place, same value).
    if (maybeFault(fault, texts)) {
      await embed(0, order.length >> 1);
      fireFault(fault);
    }
  }
  await embed(0, order.length);
  if (request.insert !== null) {
    // Insert the rows this worker just embedded into the shared graph; a
    // retried batch re-inserts the same labels, which hnswlib treats as an
    // update, so nothing is duplicated.
    const labels = new Uint32Array(request.insert.labels);
    let ok = 0;
    for (let j = 0; j < order.length; j++) if (isItemOk(status[order[j] ?? 0] ?? 0)) ok++;
    const rowsOk = new Float32Array(ok * dims);
    const labelsOk = new Uint32Array(ok);
    for (let j = 0, o = 0; j < order.length; j++) {
      const i = order[j] ?? 0;
      if (!isItemOk(status[i] ?? 0)) continue;
      rowsOk.set(out.subarray(i * dims, (i + 1) * dims), o * dims);
      labelsOk[o++] = labels[i] ?? 0;
    }
    if (ok > 0) await insertRows(request.insert, rowsOk, labelsOk, backend);
  }
  return { kind: 'embedded', items: order.length, durationMs: performance.now() - started };
}

/**
 * Embeds batches of a call's plan until none is left: claims the next batch
 * from the shared cursor, waits (Atomics.wait) while the main thread has not
 * published it yet, embeds it like {@link handleEmbed} and marks it done. A
 * worker that dies here leaves its claimed batch not done; the main thread
 * re-runs every such batch once the runs have settled.
 * @param kernel - the model kernel.
 * @param request - the plan and the port its window slabs arrive on.
 * @param fault - the test-only fault hook, null in normal runs.
 * @param backend - the TF.js backend, for a PCA step.
 * @param insertRows - inserts the embedded rows when the request asks for it.
 * @returns the duration of each batch embedded.
 */
export async function handleEmbedRun(kernel: EmbedKernel, request: EmbedRunRequest, fault: FaultSpec | null, backend: BackendName, insertRows: InsertEmbeddedRows): Promise<EmbedRunReply> {
  const plan = new Int32Array(request.plan);
  const slabs: EmbedSlab[] = [];
  const durationsMs: number[] = [];
  try {
    for (;;) {
      // Atomics.add hands each batch index to exactly one run.
      const i = Atomics.add(plan, kPlanNextSlot, 1);
      if (!awaitPublished(plan, i)) return { kind: 'embed-run-done', durationsMs };
      // Plain reads are safe: awaitPublished saw the count cover i with an
      // Atomics.load, which orders the main thread's entry stores before them.
      const at = kPlanHeaderInts + i * kPlanEntryInts;
      const window = plan[at + kEntryWindow] as number;
      while (slabs.length <= window) {
        const received = receiveMessageOnPort(request.windows);
        // The main thread posts a window's slab before it publishes the window's batches.
        if (received === undefined) throw new Error(`embed run: batch ${i} names window ${window}, which has not arrived`);
        slabs.push(received.message as EmbedSlab);
      }
      const reply = await handleEmbed(kernel, { kind: 'embed', slab: slabs[window] as EmbedSlab, start: plan[at + kEntryStart] as number, end: plan[at + kEntryEnd] as number, insert: request.insert }, fault, backend, insertRows);
      // After the rows and statuses (plain stores): the main thread reads
      // this flag only after the run's task settled, but the Atomics.store
      // still orders it after the rows for any reader that loads it.
      Atomics.store(plan, at + kEntryDone, kBatchDone);
      durationsMs.push(reply.durationMs);
    }
  } finally {
    request.windows.close();
  }
}

/** @returns true once batch i is published; false when the plan closes (or is cancelled) without it. */
function awaitPublished(plan: Int32Array, i: number): boolean {
  for (;;) {
    const published = Atomics.load(plan, kPlanPublishedSlot);
    if (i < published) return true;
    // The state is read after the count: the main thread stores the final
    // count before it completes the plan, so once the state says complete,
    // a second load of the count is final and decides whether i exists.
    if (Atomics.load(plan, kPlanStateSlot) !== kPlanOpen) return i < Atomics.load(plan, kPlanPublishedSlot) && Atomics.load(plan, kPlanStateSlot) === kPlanComplete;
    // Sleeps only while the count is still `published`: a store that lands
    // between the load above and this wait makes it return at once, and
    // every store of the count or the state is followed by a notify on it.
    Atomics.wait(plan, kPlanPublishedSlot, published);
  }
}

/** The scheduler layer's pool task handlers, by message kind: embedding and the start-up ping. */
export const schedulerTasks: TaskTable = Object.freeze({
  ping: async (_request: PingRequest, context) => {
    const ready = await context.kernel();
    return { kind: 'pong', backend: ready.backend, threadId, rssBytes: process.memoryUsage.rss() } as const;
  },
  embed: async (request: EmbedRequest, context) => handleEmbed((await context.kernel()).kernel, request, context.init.fault, context.init.backend, context.insertEmbeddedRows),
  'embed-run': async (request: EmbedRunRequest, context) => handleEmbedRun((await context.kernel()).kernel, request, context.init.fault, context.init.backend, context.insertEmbeddedRows),
});
