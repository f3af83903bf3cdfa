/**
 * What an embed worker does, as plain functions (the worker entry file only
 * routes messages here).
 */
import { loadTf, type BackendName, type Tf } from '../tensor/backend.js';
import { getKernel } from '../models/registry.js';
import type { EmbedKernel } from '../models/embedder.js';
import { kFaultCountSlot } from './layout.js';
import type { HnswCore } from '../index/hnsw/core.js';
import { loadNativeHnswCore } from '../index/hnsw/native-core.js';
import { hashFile } from '../index/persist.js';
import { kItemOk } from '../models/embedder.js';
import { fitPcaTask, projectForGraph, searchProjected } from '../pca/pipeline.js';
import { receiveMessageOnPort } from 'node:worker_threads';
import { readFileSync, statSync } from 'node:fs';
import { hash } from 'node:crypto';
import { kPlanClosed, kPlanEntry, kPlanHeader, kPlanNext, kPlanPublished } from './protocol.js';
import type { EmbedSlab } from './layout.js';
import type { DoneReply, EmbedReply, EmbedRequest, EmbedRunReply, EmbedRunRequest, FaultSpec, FitPcaRequest, GraphFileRequest, InsertRequest, PcaFittedReply, SearchRequest, WorkerInit } from './protocol.js';

let hnsw: HnswCore | undefined;

function core(): HnswCore {
  hnsw ??= loadNativeHnswCore();
  return hnsw;
}

/**
 * TF.js for the PCA steps, loaded in this worker on first use only (a
 * worker that never sees a PCA task never loads it).
 */
function workerTf(backend: BackendName): Promise<Tf> {
  return loadTf(backend);
}

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

/** The test-only fault marker that fires in search tasks (after a run is claimed) instead of on texts. */
export const kSearchFaultMarker = '@search';

/** @returns whether the test-only fault should fire for this batch (counted across the pool). */
function maybeFault(fault: FaultSpec, texts: readonly string[]): boolean {
  if (!texts.some((t) => t.includes(fault.marker))) return false;
  return claimFault(fault);
}

/** @returns whether the fault has firings left, taking one (Atomics.add: "at most `times`" holds across all workers). */
function claimFault(fault: FaultSpec): boolean {
  const counter = new Int32Array(fault.counter);
  return Atomics.add(counter, kFaultCountSlot, 1) < fault.times;
}

function fireFault(fault: FaultSpec): never {
  if (fault.mode === 'exit') process.exit(70);
  throw new Error(`injected fault on "${fault.marker}"`);
}

/**
 * Embeds order[start, end) of a slab and writes rows and statuses in place.
 * @param kernel - the model kernel.
 * @param request - the batch.
 * @param fault - the test-only fault hook, null in normal runs.
 * @param backend - the TF.js backend, for a PCA step.
 * @returns the reply.
 */
export async function handleEmbed(kernel: EmbedKernel, request: EmbedRequest, fault: FaultSpec | null, backend: BackendName): Promise<EmbedReply> {
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
    for (let j = 0; j < order.length; j++) if (status[order[j] ?? 0] === kItemOk) ok++;
    const rowsOk = new Float32Array(ok * dims);
    const labelsOk = new Uint32Array(ok);
    for (let j = 0, o = 0; j < order.length; j++) {
      const i = order[j] ?? 0;
      if (status[i] !== kItemOk) continue;
      rowsOk.set(out.subarray(i * dims, (i + 1) * dims), o * dims);
      labelsOk[o++] = labels[i] ?? 0;
    }
    if (ok > 0) {
      const pca = request.insert.pca ?? null;
      const graphRows = pca === null ? rowsOk : projectForGraph(rowsOk, labelsOk, pca, await workerTf(backend));
      core().addPoints(request.insert.handle, graphRows, labelsOk, request.insert.replaceDeleted);
    }
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
 * @returns the duration of each batch embedded.
 */
export async function handleEmbedRun(kernel: EmbedKernel, request: EmbedRunRequest, fault: FaultSpec | null, backend: BackendName): Promise<EmbedRunReply> {
  const plan = new Int32Array(request.plan);
  const slabs: EmbedSlab[] = [];
  const durationsMs: number[] = [];
  try {
    for (;;) {
      const i = Atomics.add(plan, kPlanNext, 1);
      if (!awaitPublished(plan, i)) return { kind: 'embed-run-done', durationsMs };
      const at = kPlanHeader + i * kPlanEntry;
      const window = plan[at] as number;
      while (slabs.length <= window) {
        const received = receiveMessageOnPort(request.windows);
        // The main thread posts a window's slab before it publishes the window's batches.
        if (received === undefined) throw new Error(`embed run: batch ${i} names window ${window}, which has not arrived`);
        slabs.push(received.message as EmbedSlab);
      }
      const reply = await handleEmbed(kernel, { kind: 'embed', slab: slabs[window] as EmbedSlab, start: plan[at + 1] as number, end: plan[at + 2] as number, insert: request.insert }, fault, backend);
      Atomics.store(plan, at + 3, 1);
      durationsMs.push(reply.durationMs);
    }
  } finally {
    request.windows.close();
  }
}

/** @returns true once batch i is published; false when the plan closes (or is cancelled) without it. */
function awaitPublished(plan: Int32Array, i: number): boolean {
  for (;;) {
    const published = Atomics.load(plan, kPlanPublished);
    if (i < published) return true;
    if (Atomics.load(plan, kPlanClosed) !== 0) return i < Atomics.load(plan, kPlanPublished) && Atomics.load(plan, kPlanClosed) === 1;
    Atomics.wait(plan, kPlanPublished, published);
  }
}

/**
 * Inserts rows [start, end) of a shared matrix into a shared graph; with a
 * PCA stage, stores their full vectors and inserts their projections.
 * @param request - the rows and labels.
 * @param backend - the TF.js backend, for a PCA step.
 * @returns the reply.
 */
export async function handleInsert(request: InsertRequest, backend: BackendName): Promise<DoneReply> {
  const started = performance.now();
  const { dims, start, end } = request;
  const data = new Float32Array(request.data, start * dims * 4, (end - start) * dims);
  const labels = new Uint32Array(request.labels, start * 4, end - start);
  const pca = request.pca ?? null;
  const rows = pca === null ? data : projectForGraph(data, labels, pca, await workerTf(backend));
  core().addPoints(request.handle, rows, labels, request.replaceDeleted);
  return { kind: 'done', durationMs: performance.now() - started, handle: request.handle };
}

/**
 * Searches queries [start, end) and writes results in place; with a PCA
 * stage, projects the queries first and, when `rerankCandidates` is set,
 * reranks that many graph candidates exactly on the full vectors. With a
 * shared `cursor`, claims runs of [start, end) until none are left: each
 * run takes 1/(2 × sharers) of what remains, so runs shrink towards the end
 * and the tasks finish together.
 * @param request - the queries and output buffers.
 * @param backend - the TF.js backend, for a PCA step.
 * @param fault - the test-only fault hook (marker {@link kSearchFaultMarker}), null in normal runs.
 * @returns the reply.
 */
export async function handleSearch(request: SearchRequest, backend: BackendName, fault: FaultSpec | null = null): Promise<DoneReply> {
  const started = performance.now();
  const { dims, start, end, k } = request;
  const filter = request.filter === null ? undefined : new Uint8Array(request.filter);
  const pca = request.pca ?? null;
  const tf = pca === null ? null : await workerTf(backend);
  const searchRange = (from: number, to: number): void => {
    const queries = new Float32Array(request.queries, from * dims * 4, (to - from) * dims);
    const r =
      pca === null || tf === null
        ? core().searchKnn(request.handle, queries, k, request.ef, filter)
        : searchProjected((rows, width, ef) => core().searchKnn(request.handle, rows, width, ef, filter), queries, k, request.ef, pca, request.rerankCandidates ?? 0, tf);
    new Uint32Array(request.outLabels, from * k * 4, (to - from) * k).set(r.labels);
    new Float32Array(request.outDistances, from * k * 4, (to - from) * k).set(r.distances);
    new Uint32Array(request.outCounts, from * 4, to - from).set(r.counts);
  };
  const cursor = request.cursor ?? null;
  if (cursor === null) {
    searchRange(start, end);
  } else {
    const next = new Int32Array(cursor, 0, 1);
    const share = 2 * Math.max(1, request.sharers ?? 1);
    for (;;) {
      const from = Atomics.load(next, 0);
      if (from >= end) break;
      const to = Math.min(end, from + Math.max(1, Math.ceil((end - from) / share)));
      if (Atomics.compareExchange(next, 0, from, to) !== from) continue;
      // Test-only: the marker "@search" fails a task holding a claimed run.
      if (fault !== null && fault.marker === kSearchFaultMarker && claimFault(fault)) fireFault(fault);
      searchRange(from, to);
    }
  }
  return { kind: 'done', durationMs: performance.now() - started, handle: request.handle };
}

/**
 * Fits a PCA model on a shared sample.
 * @param request - the sample and target dims.
 * @param backend - the TF.js backend.
 * @returns the serialized model, in shared memory.
 */
export async function handleFitPca(request: FitPcaRequest, backend: BackendName): Promise<PcaFittedReply> {
  return fitPcaTask(request, await workerTf(backend));
}

/**
 * Where the addon reads the file itself (loadFile: Node exports SHA-256),
 * a graph is checksummed on its way into memory in one read. Otherwise
 * graph files up to this size are read into memory once, checksummed and
 * parsed from there (loadBuffer); larger ones are checksummed in a
 * streamed pass and loaded by hnswlib's own loadIndex, so that a load never
 * holds a second copy of a very large graph.
 */
const kLoadFromMemoryMaxBytes = 1 << 30;

/**
 * Saves a graph to a file, or loads one (returning its handle), first
 * checking its size and SHA-256 when the request gives them.
 * @param request - the file request.
 * @returns the reply.
 */
export function handleGraphFile(request: GraphFileRequest): DoneReply {
  const started = performance.now();
  if (request.kind === 'save-graph') {
    core().save(request.handle, request.path);
    return { kind: 'done', durationMs: performance.now() - started, handle: request.handle };
  }
  const expect = request.expect ?? null;
  const graphs = core();
  if (graphs.loadFile !== undefined) {
    // One read: checksummed on the way into the graph's memory, then checked and built.
    const r = graphs.loadFile(request.path, request.space, request.dims, request.maxElements, true, request.hugePages ?? true, expect?.sha256);
    if (expect !== null && (r.handle === 0 || r.bytes !== expect.bytes)) {
      if (r.handle !== 0) graphs.free(r.handle);
      return { kind: 'done', durationMs: performance.now() - started, handle: 0, mismatch: { bytes: r.bytes, sha256: r.sha256 } };
    }
    return { kind: 'done', durationMs: performance.now() - started, handle: r.handle };
  }
  if (graphs.loadBuffer !== undefined && statSync(request.path).size <= kLoadFromMemoryMaxBytes) {
    // Read once: checksummed, then parsed from memory.
    const bytes = readFileSync(request.path);
    if (expect !== null) {
      const actual = { bytes: bytes.length, sha256: hash('sha256', bytes, 'hex') };
      if (actual.bytes !== expect.bytes || actual.sha256 !== expect.sha256) return { kind: 'done', durationMs: performance.now() - started, handle: 0, mismatch: actual };
    }
    const handle = graphs.loadBuffer(bytes, request.space, request.dims, request.maxElements, true, request.hugePages ?? true);
    return { kind: 'done', durationMs: performance.now() - started, handle };
  }
  if (expect !== null) {
    // The file never reaches hnswlib before its checksum matched: a
    // mismatch is a reply, not an error, so the pool does not retry it.
    const actual = hashFile(request.path);
    if (actual.bytes !== expect.bytes || actual.sha256 !== expect.sha256) return { kind: 'done', durationMs: performance.now() - started, handle: 0, mismatch: actual };
  }
  const handle = graphs.load(request.path, request.space, request.dims, request.maxElements, true, request.hugePages ?? true);
  return { kind: 'done', durationMs: performance.now() - started, handle };
}
