/**
 * The index layer's pool tasks: insert rows into a shared graph, search it,
 * save or load a graph file. Each worker keeps one native core (module
 * level, as piscina keeps its handler cache); the worker entry registers
 * {@link indexTasks} in its task registry.
 */
import { hash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { projectForGraph, searchProjected } from '../pca/pipeline.js';
import type { DoneReply, FaultSpec, GraphFileRequest, InsertRequest, InsertSpec, SearchRequest } from '../scheduler/protocol.js';
import type { TaskTable } from '../scheduler/task-registry.js';
import { kSearchCursorSlot } from '../scheduler/layout.js';
import { claimFault, fireFault } from '../scheduler/worker-side.js';
import { loadTf, type BackendName } from '../tensor/backend.js';
import type { HnswCore } from './hnsw/core.js';
import { loadNativeHnswCore } from './hnsw/native-core.js';
import { hashFile } from './persist.js';

let hnsw: HnswCore | undefined;

function core(): HnswCore {
  hnsw ??= loadNativeHnswCore();
  return hnsw;
}

/** The test-only fault marker that fires in search tasks (after a run is claimed) instead of on texts. */
export const kSearchFaultMarker = '@search';

/**
 * Inserts rows a worker just embedded into the shared graph, projecting
 * them first with the spec's PCA stage (what an embed task with `insert`
 * does after embedding).
 * @param spec - the graph, labels and PCA stage.
 * @param rows - the embedded rows that succeeded, row-major.
 * @param labels - their labels.
 * @param backend - the TF.js backend, for a PCA step.
 * @returns nothing.
 */
export async function insertEmbeddedRows(spec: InsertSpec, rows: Float32Array, labels: Uint32Array, backend: BackendName): Promise<void> {
  const pca = spec.pca ?? null;
  // TF.js is loaded in this worker on first use only (a worker that never sees a PCA task never loads it).
  const graphRows = pca === null ? rows : projectForGraph(rows, labels, pca, await loadTf(backend));
  core().addPoints(spec.handle, graphRows, labels, spec.replaceDeleted);
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
  const rows = pca === null ? data : projectForGraph(data, labels, pca, await loadTf(backend));
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
  const tf = pca === null ? null : await loadTf(backend);
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
    const next = new Int32Array(cursor);
    const share = 2 * Math.max(1, request.sharers ?? 1);
    for (;;) {
      const from = Atomics.load(next, kSearchCursorSlot);
      if (from >= end) break;
      const to = Math.min(end, from + Math.max(1, Math.ceil((end - from) / share)));
      // Claim [from, to) only if no other task moved the cursor since the load; else re-read it.
      if (Atomics.compareExchange(next, kSearchCursorSlot, from, to) !== from) continue;
      // Test-only: the marker "@search" fails a task holding a claimed run.
      if (fault !== null && fault.marker === kSearchFaultMarker && claimFault(fault)) fireFault(fault);
      searchRange(from, to);
    }
  }
  return { kind: 'done', durationMs: performance.now() - started, handle: request.handle };
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

/** The index layer's pool task handlers, by message kind. */
export const indexTasks: TaskTable = Object.freeze({
  insert: (request: InsertRequest, context) => handleInsert(request, context.init.backend),
  search: (request: SearchRequest, context) => handleSearch(request, context.init.backend, context.init.fault),
  'save-graph': (request: GraphFileRequest) => handleGraphFile(request),
  'load-graph': (request: GraphFileRequest) => handleGraphFile(request),
});
