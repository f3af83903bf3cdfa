/**
 * The read path of an index: checking search options, the namespace and
 * metadata filter as a label bitset, query vectors, the inline-or-pool
 * decision, and the pool search whose tasks claim runs of queries from one
 * shared cursor.
 */
import { AbortError, VecforgeError } from '../errors.js';
import { searchProjected } from '../pca/pipeline.js';
import { loadTf } from '../tensor/backend.js';
import { kSearchCursorInts } from '../scheduler/layout.js';
import { scoreOfDistance } from './cross-scores.js';
import { compileFilter, LabelBitset } from './filter.js';
import { kHnswNoLabel, type HnswSearchResult, type HnswSpace } from './hnsw/core.js';
import { kDefaultSearchOptions } from './options.js';
import type { IndexState } from './state.js';
import type { Hit, ResolvedSearchOptions, SearchFailureCode, SearchOptions, SearchOutcome } from './types.js';
import { coreReady, normProblem } from './vector-norm.js';
import type { ItemFailed } from '../scheduler/outcome.js';

/** A pool search's query count before any task wrote it (never a real count: k is at most 65,536). */
const kUnsearched = 0xffffffff;
/**
 * Searches with ef × dims up to this run inline on the calling thread;
 * larger ones go to a libuv thread. The hop there and back costs about
 * 0.1–0.2 ms here (two thread wake-ups), as much as the search itself at
 * this size: on the 340K-word GloVe graph, ef 320 × 100 dims takes about
 * 0.55 ms inline and runs ~25% slower through the threadpool.
 */
const kInlineSearchBudget = 32_768;
/**
 * An inline search is also expected, from the searches this index has run
 * inline, to take at most this long: on a graph big or slow enough that a
 * search within the budget takes longer, the event loop is not held up.
 */
const kInlineSearchMaxMs = 1;
/**
 * Inline searches run in one event-loop turn, at most: awaited one after
 * another, each resolves in a microtask, so a loop of them never lets the
 * event loop turn (timers, I/O, pool replies starved). After this many, or
 * {@link kInlineMsPerTurn} of them, the next one first yields (setImmediate).
 */
export const kInlineSearchesPerTurn = 128;
/** Inline search time per event-loop turn, at most (see {@link kInlineSearchesPerTurn}). */
const kInlineMsPerTurn = 2;

/** Inline searches and their time in the current event-loop turn (every index's: the loop is shared). */
const gTurn = { searches: 0, ms: 0, watching: false };

/** Resets the turn's counts once the event loop has turned. */
function resetTurn(): void {
  gTurn.searches = 0;
  gTurn.ms = 0;
  gTurn.watching = false;
}

/** Whether this turn's inline searches used their share: the next one runs in the next turn. */
function inlineTurnFull(): boolean {
  return gTurn.searches >= kInlineSearchesPerTurn || gTurn.ms >= kInlineMsPerTurn;
}

function noteInline(ms: number): void {
  gTurn.searches++;
  gTurn.ms += ms;
  // Scheduled by the first inline search of a turn: it runs, and resets
  // the counts, only once the loop turns, before any yield queued after it.
  if (!gTurn.watching) {
    gTurn.watching = true;
    setImmediate(resetTurn);
  }
}

/** hnswlib's largest k. */
const kMaxK = 65_536;
/** The largest ef. */
const kMaxEf = 1_048_576;
/** The largest rerank factor. */
const kMaxRerankFactor = 1000;

/**
 * Checks and resolves search options against the index.
 * @param s - the index.
 * @param options - as given.
 * @returns the resolved options.
 * @throws {TypeError | RangeError} naming the option and its range.
 */
export function resolveSearchOptions(s: IndexState, options: SearchOptions): ResolvedSearchOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  s.labels.ensure();
  const count = s.labels.liveCount;
  if (count === 0) throw new RangeError('the index is empty');
  const k = options.k ?? Math.min(kDefaultSearchOptions.k, count);
  if (typeof k !== 'number' || !Number.isInteger(k)) throw new TypeError(`options.k must be an integer in [1, ${count}], got ${String(k)}`);
  if (k < 1 || k > count) throw new RangeError(`options.k must be an integer in [1, ${count}] (the index holds ${count} items), got ${k}`);
  const ef = options.ef ?? Math.max(s.options.efSearch, k);
  if (typeof ef !== 'number' || !Number.isInteger(ef)) throw new TypeError(`options.ef must be an integer in [${k}, ${kMaxEf}], got ${String(ef)}`);
  if (ef < k || ef > kMaxEf) throw new RangeError(`options.ef must be an integer in [k = ${k}, ${kMaxEf}], got ${ef}`);
  const store = s.pca?.store ?? null;
  let rerank = 0;
  if (options.rerankFactor !== undefined) {
    const factor: unknown = options.rerankFactor;
    if (typeof factor !== 'number' || !Number.isInteger(factor)) throw new TypeError(`options.rerankFactor must be an integer in [0, ${kMaxRerankFactor}], got ${String(factor)}`);
    if (factor < 0 || factor > kMaxRerankFactor) throw new RangeError(`options.rerankFactor must be an integer in [0, ${kMaxRerankFactor}], got ${factor}`);
    if (factor > 0 && store === null) throw new RangeError('options.rerankFactor needs a PCA index that keeps full vectors (created with pca.rerank true)');
    rerank = factor;
  } else if (store !== null) rerank = s.pca?.defaultRerankFactor ?? 0;
  return { k, ef, filter: filterBits(s, options), rerank: Math.min(kMaxK, k * rerank) };
}

function filterBits(s: IndexState, options: SearchOptions): Uint8Array | undefined {
  const { namespace, filter } = options;
  if (namespace === undefined && filter === undefined) return undefined;
  const key = JSON.stringify([namespace, filter]);
  const labels = s.labels;
  if (s.filterCache?.key === key && s.filterCache.mutations === labels.mutations) return s.filterCache.bits;
  let bits: LabelBitset | undefined;
  if (namespace !== undefined) {
    const names = typeof namespace === 'string' ? [namespace] : namespace;
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw new TypeError('options.namespace must be a string or an array of strings');
    bits = new LabelBitset(s.nextLabel);
    for (const n of names) {
      const ns = labels.namespaces.get(n);
      if (ns !== undefined) bits.or(ns);
    }
  }
  if (filter !== undefined) {
    const test = compileFilter(filter);
    const matching = new LabelBitset(s.nextLabel);
    for (let label = 0; label < labels.docs.length; label++) {
      const d = labels.docs[label];
      if (d !== undefined && test(d.metadata)) matching.set(label);
    }
    if (bits === undefined) bits = matching;
    else bits.and(matching);
  }
  const out = bits?.bytes ?? new Uint8Array(1);
  s.filterCache = { key, mutations: labels.mutations, bits: out };
  return out;
}

/**
 * Checks one query vector (scaled as the core takes it, see {@link checkedRow}).
 * @throws {RangeError} for wrong dims, a non-finite component, or an l2 or ip query whose distances overflow float32.
 */
export function checkedQuery(s: IndexState, q: Float32Array): Float32Array {
  // Without failures to take it, a bad query throws: never null.
  return checkedRow(s, q, 0, undefined) as Float32Array;
}

/**
 * Where a settled batch (`searchBatchSettled`) collects the queries it
 * cannot answer, by position in the batch, instead of throwing for the first.
 */
export type QueryFailures = Map<number, { readonly code: SearchFailureCode; readonly reason: string }>;

/**
 * Records a bad query in `failures` (its first problem), or throws when
 * there is none (a plain batch).
 * @param failures - the settled batch's failures, or undefined.
 * @param i - the query's position in the batch.
 * @param code - the failure's code.
 * @param error - what a plain batch throws, its message naming the position.
 * @param reason - the same without the position, for the failure.
 */
export function queryProblem(failures: QueryFailures | undefined, i: number, code: SearchFailureCode, error: Error, reason: string): void {
  if (failures === undefined) throw error;
  if (!failures.has(i)) failures.set(i, { code, reason });
}

/** A query that is neither a text nor a Float32Array: recorded, or thrown (TypeError). */
export function notAQuery(failures: QueryFailures | undefined, i: number, q: unknown): void {
  queryProblem(failures, i, 'INVALID_QUERY', new TypeError(`query ${i} must be a string or a Float32Array`), `a query must be a string or a Float32Array, got ${q === null ? 'null' : typeof q}`);
}

/** A vector query in `lexical` mode: recorded, or thrown (TypeError). */
export function vectorInLexicalMode(failures: QueryFailures | undefined, i: number): void {
  queryProblem(failures, i, 'INVALID_QUERY', new TypeError(`query ${i} is a vector; options.mode 'lexical' searches texts`), "a vector; options.mode 'lexical' searches texts");
}

/** A text the model could not embed (`vector` mode): recorded with the embedding's code, or thrown (ERR_INVALID_INPUT). */
export function notEmbedded(failures: QueryFailures | undefined, i: number, item: ItemFailed): void {
  queryProblem(failures, i, item.code, new VecforgeError('ERR_INVALID_INPUT', `query ${i} cannot be embedded: ${item.reason}`), `cannot be embedded: ${item.reason}`);
}

/**
 * A settled batch's answers: each query's hits, or its failure.
 * @param lists - one hit list per query (a failed query's is ignored).
 * @param failures - the failures, by position.
 * @returns one outcome per query, in order.
 */
export function settledOutcomes(lists: readonly Hit[][], failures: QueryFailures): SearchOutcome[] {
  return lists.map((hits, i) => {
    const f = failures.get(i);
    return f === undefined ? { state: 'ok', hits } : { state: 'failed', code: f.code, reason: f.reason };
  });
}

/**
 * Checks and scales, in place, `nq` query rows on shared memory (see {@link checkedRow}).
 * @throws {RangeError} for a non-finite component or an l2 or ip query whose distances overflow float32.
 */
export function checkQueryRows(s: IndexState, rows: Float32Array, nq: number): void {
  const dims = s.options.dims;
  for (let i = 0; i < nq; i++) {
    const q = rows.subarray(i * dims, (i + 1) * dims);
    const ready = checkedRow(s, q, i, undefined);
    if (ready !== null && ready !== q) q.set(ready);
  }
}

/**
 * One query vector checked and, as the core can take it (see vector-norm.ts),
 * scaled: a cosine query float32 cannot normalise is scaled to unit length
 * (a copy).
 * @returns the row, or null when it is bad and `failures` took it.
 * @throws {RangeError} without `failures`: wrong dims, a non-finite component, an l2 or ip query whose distances overflow float32.
 */
function checkedRow(s: IndexState, q: Float32Array, i: number, failures: QueryFailures | undefined): Float32Array | null {
  const problem = vectorQueryProblem(q, s.options.dims, s.options.space, i);
  if (problem === null) return coreReady(q, s.options.space);
  queryProblem(failures, i, 'INVALID_QUERY', new RangeError(problem[0]), problem[1]);
  return null;
}

/**
 * What keeps a query vector from being searched in an index of `dims` and
 * `space`: wrong dims, a non-finite component, or (l2, ip) distances that
 * overflow float32.
 * @returns [the error's message, naming position i; the reason, without it], or null.
 */
export function vectorQueryProblem(q: Float32Array, dims: number, space: HnswSpace, i: number): readonly [string, string] | null {
  if (q.length !== dims) return [`query ${i} has ${q.length} dims, the index has ${dims}`, `the query has ${q.length} dims, the index has ${dims}`];
  for (let d = 0; d < dims; d++) if (!Number.isFinite(q[d])) return [`query ${i} component ${d} is ${String(q[d])}`, `component ${d} is ${String(q[d])}`];
  const problem = normProblem(q, space);
  return problem === null ? null : [`query ${i}: ${problem}`, problem];
}

/**
 * Query vectors on shared memory: vectors checked and copied, texts embedded.
 * @param positions - each query's position in the caller's batch, for messages (a caller that passes a part of its batch); the index in `queries` when absent.
 * @param failures - collects the queries that cannot be searched (their rows left zero) instead of throwing for the first; keyed by position.
 * @throws {RangeError | TypeError} for a bad query; {VecforgeError} ERR_INVALID_INPUT for a text that does not embed.
 */
export async function queryVectors(s: IndexState, queries: readonly unknown[], signal?: AbortSignal, positions?: readonly number[], failures?: QueryFailures): Promise<Float32Array> {
  const dims = s.options.dims;
  const out = new Float32Array(new SharedArrayBuffer(Math.max(1, queries.length) * dims * 4));
  const textAt: number[] = [];
  const texts: string[] = [];
  const positionOf = (at: number): number => positions?.[at] ?? at;
  queries.forEach((q, at) => {
    const i = positionOf(at);
    if (typeof q === 'string') {
      textAt.push(at);
      texts.push(q);
    } else if (q instanceof Float32Array) {
      const ready = checkedRow(s, q, i, failures);
      if (ready !== null) out.set(ready, at * dims);
    } else notAQuery(failures, i, q);
  });
  if (texts.length > 0) {
    if (dims !== s.host.model.dims) throw new RangeError(`the index has ${dims} dims but the model embeds ${s.host.model.dims}; search with vectors`);
    const r = await s.host.embed(texts, signal);
    r.items.forEach((item, j) => {
      const at = textAt[j] ?? j;
      if (item.state !== 'ok') {
        notEmbedded(failures, positionOf(at), item);
        return;
      }
      out.set(r.vectors.subarray(j * dims, (j + 1) * dims), at * dims);
    });
  }
  return out;
}

/**
 * The hits of query `q`, mapped through the doc store (labels without a record are skipped).
 * @returns hits, best first.
 */
export function hitsOf(s: IndexState, r: HnswSearchResult, q: number, k: number): Hit[] {
  const hits: Hit[] = [];
  const n = r.counts[q] ?? 0;
  for (let j = 0; j < n; j++) {
    const label = r.labels[q * k + j] ?? kHnswNoLabel;
    const doc = label === kHnswNoLabel ? undefined : s.labels.docs[label];
    if (doc === undefined) continue;
    const distance = r.distances[q * k + j] ?? Number.POSITIVE_INFINITY;
    hits.push({ id: doc.id, score: scoreOfDistance(s.options.space, distance), namespace: doc.namespace, metadata: doc.metadata });
  }
  return hits;
}

/**
 * Searches one query vector without PCA: a small search runs inline (the
 * hop to a libuv thread and back costs about as much as the search
 * itself); larger ones, and any this index's own inline timings say would
 * take over kInlineSearchMaxMs, run off the main thread so the event loop
 * stays free.
 */
export async function searchOne(s: IndexState, q: Float32Array, params: ResolvedSearchOptions, signal?: AbortSignal): Promise<HnswSearchResult> {
  const { k, ef, filter } = params;
  if (s.graphLoad !== null) await s.graphLoad;
  let inline = !s.core.sharedAcrossThreads || ef * s.graphDims <= kInlineSearchBudget;
  if (inline && ef * s.inlineMsPerEf > kInlineSearchMaxMs) {
    // Every 16th such search still runs inline, so that one slow outlier
    // (a cold page, a preempted thread) cannot send them all away for good.
    inline = ++s.timedOut % 16 === 0;
  }
  let r: HnswSearchResult;
  const searchInline = (): HnswSearchResult => {
    const started = performance.now();
    const result = s.core.searchKnn(s.handle, q, k, ef, filter);
    const tookMs = performance.now() - started;
    noteInline(tookMs);
    const perEf = tookMs / ef;
    // A moving average per unit of ef, so small searches keep it current.
    s.inlineMsPerEf = Number.isNaN(s.inlineMsPerEf) ? perEf : 0.9 * s.inlineMsPerEf + 0.1 * perEf;
    return result;
  };
  if (inline && inlineTurnFull()) {
    // Searched in the next turn, tracked like a pool search: a close or
    // refit meanwhile waits for it before freeing the graph it reads.
    r = await track(
      s,
      new Promise<HnswSearchResult>((resolve, reject) =>
        setImmediate(() => {
          try {
            resolve(searchInline());
          } catch (error) {
            reject(error);
          }
        }),
      ),
    );
  } else if (inline) r = searchInline();
  else r = await s.core.searchKnnAsync(s.handle, q, k, ef, filter);
  if (signal?.aborted === true) throw new AbortError(signal.reason);
  return r;
}

/** Searches `nq` queries (input dims, on shared memory): pool workers in parallel, or here when the core cannot be shared. */
export async function searchOnPool(s: IndexState, q: Float32Array, nq: number, params: ResolvedSearchOptions, signal?: AbortSignal): Promise<HnswSearchResult> {
  const { k, ef, filter, rerank } = params;
  // Read together, before any await: a refit swaps both.
  const handle = s.handle;
  const stage = s.pca?.stage() ?? null;
  const dims = s.options.dims;
  const core = s.core;
  if (!core.sharedAcrossThreads) {
    const rows = q.subarray(0, nq * dims);
    if (stage === null) return core.searchKnn(handle, rows, k, ef, filter);
    const tf = await loadTf(s.host.backend);
    return searchProjected((r, width, e) => core.searchKnn(handle, r, width, e, filter), rows, k, ef, stage, rerank, tf);
  }
  const outLabels = new SharedArrayBuffer(nq * k * 4);
  const outDistances = new SharedArrayBuffer(nq * k * 4);
  const outCounts = new SharedArrayBuffer(nq * 4);
  let filterSab: SharedArrayBuffer | null = null;
  if (filter !== undefined) {
    filterSab = new SharedArrayBuffer(filter.length);
    new Uint8Array(filterSab).set(filter);
  }
  // One task per worker, all claiming runs of the queries from one shared
  // cursor (see handleSearch): the work spreads evenly whatever each
  // query costs. Counts start at a sentinel, so a query whose run was lost
  // with a crashed worker is found below and searched again.
  const workers = Math.min(s.host.workers, nq);
  const counts = new Uint32Array(outCounts);
  counts.fill(kUnsearched);
  const cursor = new SharedArrayBuffer(kSearchCursorInts * Int32Array.BYTES_PER_ELEMENT);
  const tasks: Array<Promise<unknown>> = [];
  for (let t = 0; t < workers; t++) {
    tasks.push(
      track(
        s,
        s.host.scheduler.run(
          { kind: 'search', handle, queries: q.buffer as SharedArrayBuffer, dims, start: 0, end: nq, k, ef, filter: filterSab, outLabels, outDistances, outCounts, pca: stage, rerankCandidates: rerank, cursor, sharers: workers },
          signal,
        ),
      ),
    );
  }
  await Promise.all(tasks);
  for (let i = 0; i < nq; i++) {
    if (counts[i] !== kUnsearched) continue;
    let j = i + 1;
    while (j < nq && counts[j] === kUnsearched) j++;
    await track(
      s,
      s.host.scheduler.run({ kind: 'search', handle, queries: q.buffer as SharedArrayBuffer, dims, start: i, end: j, k, ef, filter: filterSab, outLabels, outDistances, outCounts, pca: stage, rerankCandidates: rerank }, signal),
    );
    i = j - 1;
  }
  return { labels: new Uint32Array(outLabels), distances: new Float32Array(outDistances), counts };
}

/** Registers a pool search, so a refit or close waits for it before freeing what it reads. */
function track<T>(s: IndexState, task: Promise<T>): Promise<T> {
  s.searches.add(task);
  task.then(
    () => s.searches.delete(task),
    () => s.searches.delete(task),
  );
  return task;
}

/**
 * A copy of a vector on shared memory, for pool tasks.
 * @param v - the vector.
 * @returns the copy.
 */
export function sharedCopy(v: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(Math.max(1, v.length) * 4), 0, v.length);
  out.set(v);
  return out;
}
