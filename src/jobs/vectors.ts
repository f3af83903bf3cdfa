/**
 * Where a job's vectors come from: the embedding cache (lmdb, keyed by
 * model id and content hash), else the model on the pool, whose fresh
 * vectors then go to the cache. Either way the bytes are the model's, so a
 * cached run and a clean build store the same vectors.
 */
import { recordCacheHits, type Engine } from '../engine.js';
import type { EmbeddingCache } from '../store/embedding-cache.js';
import type { Failure } from './errors-file.js';
import type { JobItem } from './records.js';
import type { StageTimers } from './stage-timers.js';
import type { JobCounts } from './types.js';

/** Vectors for a job's items, by content hash. */
export class VectorSource {
  readonly #engine: Engine;
  readonly #cache: EmbeddingCache | null;
  readonly #counts: JobCounts;
  readonly #signal: AbortSignal | undefined;
  readonly #modelId: string;
  readonly #dims: number;
  #cacheWrites: Array<Promise<void>> = [];

  /**
   * @param engine - embeds what the cache lacks.
   * @param cache - the embedding cache, or null for none.
   * @param counts - the job's counters (`embedded` and `cacheHits` are counted here).
   * @param signal - aborts embedding.
   */
  constructor(engine: Engine, cache: EmbeddingCache | null, counts: JobCounts, signal: AbortSignal | undefined) {
    this.#engine = engine;
    this.#cache = cache;
    this.#counts = counts;
    this.#signal = signal;
    const info = engine.info();
    this.#modelId = info.modelId;
    this.#dims = info.dims;
  }

  /**
   * Vectors by content hash: from the cache, else embedded (and cached).
   * @param pending - the items.
   * @param failures - receives the items whose text failed to embed.
   * @param timers - where the stages' time goes.
   * @param noKnownWords - when given, receives the hashes of texts with no word the model knows instead of `failures` (the index stores them for its lexical side).
   * @returns the vectors found or embedded.
   */
  async vectors(pending: readonly JobItem[], failures: Failure[], timers: StageTimers, noKnownWords?: Set<string>): Promise<Map<string, Float32Array>> {
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
    this.#counts.cacheHits += unique.length - misses.length;
    recordCacheHits(this.#engine, unique.length - misses.length);
    if (misses.length === 0) return out;
    const result = await timers.time('embed', () => this.#engine.embed(misses.map((m) => m.text), this.#signal !== undefined ? { signal: this.#signal } : {}));
    const fresh: Array<readonly [string, Float32Array]> = [];
    const failedHashes = new Map<string, { code: string; reason: string }>();
    const dims = result.dims;
    result.items.forEach((o, i) => {
      const m = misses[i] as JobItem;
      if (o.state === 'ok') {
        const v = result.vectors.slice(i * dims, (i + 1) * dims);
        out.set(m.hash, v);
        fresh.push([m.hash, v]);
      } else if (o.code === 'NO_KNOWN_WORDS' && noKnownWords !== undefined) noKnownWords.add(m.hash);
      else failedHashes.set(m.hash, { code: o.code, reason: o.reason });
    });
    this.#counts.embedded += fresh.length;
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

  /**
   * Waits for the embedding cache writes started so far.
   * @param timers - where the wait goes (as cache time).
   */
  async flushCache(timers: StageTimers): Promise<void> {
    const writes = this.#cacheWrites;
    this.#cacheWrites = [];
    if (writes.length > 0) await timers.time('cache', () => Promise.all(writes));
  }
}
