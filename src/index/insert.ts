/**
 * The write path of an index: labels for checked items, embedding and
 * inserting them on the pool (or here, when the core cannot be shared),
 * buffering them for a PCA fit, and committing their records.
 */
import { throwIfAborted } from '../errors.js';
import type { PcaGraphAccess } from '../pca/index-runtime.js';
import { projectForGraph } from '../pca/pipeline.js';
import type { PcaStage } from '../scheduler/protocol.js';
import { sameContent, type DocRecord } from '../store/doc-store.js';
import { loadTf } from '../tensor/backend.js';
import { lexicalOf } from './hybrid.js';
import type { IndexState } from './state.js';
import type { IndexItem, IndexItemOutcome } from './types.js';
import { checkItems, failed, type TextWrite, type VectorWrite } from './validate-items.js';

/** Rows per insert task. */
const kInsertChunkRows = 1024;
/** Fewest rows per insert task: smaller ones cost more in messages than they gain. */
const kMinInsertChunkRows = 32;
/** Deleted graph slots are reused once they are at least 1/this of the elements. */
const kReuseDeletedShare = 5;

/**
 * Adds or upserts items; runs inside the index's write queue.
 * @param s - the index.
 * @param items - the items (an array).
 * @param replace - upsert: ids already present are replaced.
 * @param skipUnchanged - upsert: leave records whose content is the same.
 * @param signal - cancels embedding and insertion.
 * @returns one outcome per item.
 */
export async function writeItems(s: IndexState, items: readonly IndexItem[], replace: boolean, skipUnchanged: boolean, signal?: AbortSignal): Promise<IndexItemOutcome[]> {
  const labels = s.labels;
  // addBatch checks ids against the records while validating. An upsert
  // (lazyDocs) needs them only to commit: they are decoded while the
  // pool inserts, below.
  if (!replace) labels.ensure();
  const outcomes: IndexItemOutcome[] = new Array<IndexItemOutcome>(items.length);
  const fresh: number[] = [];
  // Every write takes a fresh label, also for an id already present: the
  // old label is marked deleted once the new one is committed. hnswlib's
  // in-place update (updatePoint, also behind replaceDeleted) re-links
  // the neighbours of the neighbours and costs several inserts.
  const take = (): number => {
    const label = s.nextLabel++;
    fresh.push(label);
    return label;
  };
  const { texts, vectors } = checkItems(items, outcomes, { dims: s.options.dims, space: s.options.space, modelDims: s.host.model.dims, replace, has: (id) => labels.idToLabel.has(id), take });

  const pca = s.pca;
  if (pca !== null && !pca.fitted) return bufferForFit(s, texts, vectors, outcomes, signal);
  if (pca !== null && pca.pendingCount > 0) await pca.flush(pcaGraph(s, signal), signal);
  ensureCapacity(s, fresh.length);
  pca?.ensureRows(s.nextLabel);
  const stage = pca?.stage() ?? null;
  const noVector = new Set<number>();
  const inserting = Promise.all([insertTexts(s, texts, outcomes, noVector, stage, signal), insertVectors(s, vectors, stage, signal)]);
  if (labels.pendingCount !== null) {
    // lazyDocs: decoded on this thread while the pool inserts.
    inserting.catch(() => {});
    try {
      labels.ensure();
    } catch (error) {
      await inserting.catch(() => {});
      for (const label of fresh) markDeletedQuietly(s, label);
      throw error;
    }
  }
  try {
    await inserting;
  } catch (error) {
    // Labels that never made it into the doc store are simply unused;
    // a partly inserted graph element without a doc is never returned
    // (search maps labels through the doc store) and is marked deleted.
    markOrphans(s, fresh);
    throw error;
  }
  const commitOne = (label: number, at: number, record: DocRecord, text: string | undefined): void => {
    const old = labels.idToLabel.get(record.id);
    const before = old === undefined ? undefined : labels.docs[old];
    const vector = noVector.has(at) ? { vector: false as const } : {};
    // Left as it is: the fresh label gets no record, and markOrphans marks it deleted.
    if (!skipUnchanged) {
      commit(s, label, record, text);
      outcomes[at] = { state: 'ok', id: record.id, ...vector };
      return;
    }
    if (before !== undefined && sameContent(before, record)) {
      outcomes[at] = { state: 'ok', id: record.id, change: 'unchanged' };
      return;
    }
    commit(s, label, record, text);
    outcomes[at] = { state: 'ok', id: record.id, change: before === undefined ? 'added' : 'updated', ...vector };
  };
  for (const v of vectors) commitOne(v.label, v.at, v.record, v.text);
  for (const t of texts) if (outcomes[t.at] === undefined) commitOne(t.label, t.at, t.record, t.text);
  markOrphans(s, fresh);
  return outcomes;
}

/**
 * Before the fit: embeds texts (no insert), buffers every vector with its
 * label, offers it to the sample, commits the records, and fits once the
 * sample is complete. Buffered items count, can be fetched, upserted and
 * deleted; they reach the graph when the fit runs.
 */
async function bufferForFit(s: IndexState, texts: readonly TextWrite[], vectors: readonly VectorWrite[], outcomes: IndexItemOutcome[], signal?: AbortSignal): Promise<IndexItemOutcome[]> {
  const pca = s.pca;
  if (pca === null) return outcomes;
  const dims = s.options.dims;
  if (texts.length > 0) {
    const result = await s.host.scheduler.embed(
      texts.map((t) => t.text),
      signal,
      null,
    );
    result.items.forEach((item, i) => {
      const t = texts[i];
      if (t === undefined) return;
      if (item.state === 'failed') {
        // No word the model knows: kept for the lexical side alone.
        if (item.code === 'NO_KNOWN_WORDS' && s.lexical !== null) {
          commit(s, t.label, t.record, t.text);
          outcomes[t.at] = { state: 'ok', id: t.id, vector: false };
        } else outcomes[t.at] = failed(t.id, item.code, item.reason);
      } else pca.keep(t.label, result.vectors.subarray(i * dims, (i + 1) * dims));
    });
  }
  throwIfAborted(signal);
  for (const v of vectors) {
    pca.keep(v.label, v.vector);
    commit(s, v.label, v.record, v.text);
    outcomes[v.at] = { state: 'ok', id: v.id };
  }
  for (const t of texts) {
    if (outcomes[t.at] !== undefined) continue;
    commit(s, t.label, t.record, t.text);
    outcomes[t.at] = { state: 'ok', id: t.id };
  }
  if (pca.sampleComplete) await pca.fit(pcaGraph(s, signal), signal);
  return outcomes;
}

/**
 * The graph as the PCA runtime sees it.
 * @param s - the index.
 * @param signal - cancels a rebuild's inserts.
 * @returns the access.
 */
export function pcaGraph(s: IndexState, signal?: AbortSignal): PcaGraphAccess {
  return {
    get nextLabel() {
      return s.nextLabel;
    },
    ensureCapacity: (extra) => ensureCapacity(s, extra),
    insert: (data, labels, stage, sig) => insertRows(s, s.handle, data, labels, stage, sig),
    liveLabels: () => s.labels.liveLabels(),
    rebuild: async (rows, build, swapped) => {
      const { core, options } = s;
      const capacity = Math.max(rows, core.getMaxElements(s.handle) - core.getDeletedCount(s.handle), 1);
      const handle = core.create(options.space, s.graphDims, capacity, options.m, options.efConstruction, options.seed, true);
      try {
        await build((data, labels, stage) => insertRows(s, handle, data, labels, stage, signal));
      } catch (error) {
        core.free(handle);
        throw error;
      }
      const old = s.handle;
      s.handle = handle;
      swapped();
      // Searches dispatched before the swap still read the old graph.
      await Promise.allSettled([...s.searches]);
      core.free(old);
    },
  };
}

/** Marks a label deleted in the graph, if it is there. */
export function markDeletedQuietly(s: IndexState, label: number): void {
  try {
    s.core.markDelete(s.handle, label);
  } catch {
    // Not in the graph.
  }
}

/** Commits a record under its fresh label, retiring the id's old label; its text, if any, goes to the lexical index. */
export function commit(s: IndexState, label: number, record: DocRecord, text?: string): void {
  const old = s.labels.idToLabel.get(record.id);
  if (old !== undefined && old !== label) retire(s, old);
  if (s.labels.docs[label] !== undefined) s.labels.forget(label);
  const lexical = lexicalOf(s);
  if (lexical !== null && text !== undefined) lexical.add(label, text);
  s.labels.remember(label, record);
}

/** Removes a label: from the PCA buffer when it waits for the fit, else marked deleted in the graph; and from the lexical index. */
export function retire(s: IndexState, label: number): void {
  // Already deleted, or never inserted: nothing to mark.
  if (s.pca?.drop(label) !== true) markDeletedQuietly(s, label);
  lexicalOf(s)?.remove(label);
  s.labels.forget(label);
}

/**
 * Whether inserts should take the slots of deleted elements. Reusing a
 * slot runs hnswlib's updatePoint (several inserts' worth of work), so
 * slots are only reused once deleted elements are a sizeable share of
 * the graph; until then the graph grows.
 */
function reuseDeleted(s: IndexState, handle: number): boolean {
  const deleted = s.core.getDeletedCount(handle);
  return deleted > 0 && deleted * kReuseDeletedShare >= s.core.getCurrentCount(handle);
}

/** Marks fresh labels that got no doc (failed items) deleted in the graph, if they were inserted. */
function markOrphans(s: IndexState, fresh: readonly number[]): void {
  // Not in the graph when the item failed before insertion.
  for (const label of fresh) if (s.labels.docs[label] === undefined) markDeletedQuietly(s, label);
}

/** Grows the graph for `extra` more elements. */
export function ensureCapacity(s: IndexState, extra: number): void {
  const { core, handle } = s;
  // Inserts that take deleted slots (replaceDeleted) need room only for
  // live elements and the new ones.
  const current = core.getCurrentCount(handle);
  const count = reuseDeleted(s, handle) ? current - core.getDeletedCount(handle) : current;
  const max = core.getMaxElements(handle);
  if (count + extra <= max) return;
  core.resize(handle, Math.max(count + extra, Math.ceil(max * 1.5)));
}

/** Embeds and inserts texts; a text with no word the model knows goes to `noVector` (kept for the lexical side) when the index has one. */
async function insertTexts(s: IndexState, texts: readonly TextWrite[], outcomes: IndexItemOutcome[], noVector: Set<number>, stage: PcaStage | null, signal?: AbortSignal): Promise<void> {
  if (texts.length === 0) return;
  const labels = new Uint32Array(new SharedArrayBuffer(texts.length * 4));
  texts.forEach((t, i) => {
    labels[i] = t.label;
  });
  const shared = s.core.sharedAcrossThreads;
  const result = await s.host.scheduler.embed(
    texts.map((t) => t.text),
    signal,
    shared ? { handle: s.handle, labels: labels.buffer as SharedArrayBuffer, replaceDeleted: reuseDeleted(s, s.handle), pca: stage } : null,
  );
  const dims = s.options.dims;
  const okRows: number[] = [];
  result.items.forEach((item, i) => {
    const t = texts[i];
    if (t === undefined) return;
    if (item.state === 'failed') {
      if (item.code === 'NO_KNOWN_WORDS' && s.lexical !== null) noVector.add(t.at);
      else outcomes[t.at] = failed(t.id, item.code, item.reason);
    } else okRows.push(i);
  });
  if (shared || okRows.length === 0) return;
  // The core is not shared with the workers: insert the embedded rows here.
  const data = new Float32Array(new SharedArrayBuffer(okRows.length * dims * 4));
  const okLabels = new Uint32Array(new SharedArrayBuffer(okRows.length * 4));
  okRows.forEach((i, j) => {
    data.set(result.vectors.subarray(i * dims, (i + 1) * dims), j * dims);
    okLabels[j] = labels[i] ?? 0;
  });
  await insertRows(s, s.handle, data, okLabels, stage, signal);
}

async function insertVectors(s: IndexState, vectors: readonly VectorWrite[], stage: PcaStage | null, signal?: AbortSignal): Promise<void> {
  if (vectors.length === 0) return;
  const dims = s.options.dims;
  const data = new Float32Array(new SharedArrayBuffer(vectors.length * dims * 4));
  const labels = new Uint32Array(new SharedArrayBuffer(vectors.length * 4));
  vectors.forEach((v, i) => {
    data.set(v.vector, i * dims);
    labels[i] = v.label;
  });
  await insertRows(s, s.handle, data, labels, stage, signal);
}

/**
 * Inserts rows (input dims, on shared memory) into a graph: every pool
 * worker inserts its slice, projecting it first with a PCA stage; or
 * here, when the core cannot be shared.
 */
async function insertRows(s: IndexState, handle: number, data: Float32Array, labels: Uint32Array, stage: PcaStage | null, signal?: AbortSignal): Promise<void> {
  const count = labels.length;
  if (count === 0) return;
  const dims = s.options.dims;
  if (!s.core.sharedAcrossThreads) {
    const rows = stage === null ? data : projectForGraph(data, labels, stage, await loadTf(s.host.backend));
    s.core.addPoints(handle, rows, labels, reuseDeleted(s, handle));
    return;
  }
  // Small chunks handed out in turn keep the workers inserting neighbouring
  // rows at the same time, as hnswlib's own ParallelFor does, instead of
  // each building a distant region of the graph.
  // A small batch is still split across every worker.
  const per = Math.max(kMinInsertChunkRows, Math.min(kInsertChunkRows, Math.ceil(count / Math.max(1, s.host.workers))));
  // Reusing deleted slots takes hnswlib's global deleted-elements lock and
  // an updatePoint on every insert; only pay for it when there is much to reuse.
  const replaceDeleted = reuseDeleted(s, handle);
  const tasks: Array<Promise<unknown>> = [];
  for (let start = 0; start < count; start += per) {
    const end = Math.min(count, start + per);
    tasks.push(
      s.host.scheduler.run(
        { kind: 'insert', handle, data: data.buffer as SharedArrayBuffer, dims, labels: labels.buffer as SharedArrayBuffer, start, end, replaceDeleted, pca: stage },
        signal,
      ),
    );
  }
  const settled = await Promise.allSettled(tasks);
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}
