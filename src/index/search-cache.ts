/**
 * A result cache: least recently used entries are evicted past `size`, and
 * an entry older than `ttlMs` is a miss. Keys carry everything a result
 * depends on (the index's version or write generation, the query, the
 * parameters), so a change is never served stale: it makes new keys, and
 * the old entries age out. Used by an index's `searchCache` option and by
 * `vecforge serve`.
 */
import { createHash } from 'node:crypto';

/** Options of a {@link SearchCache} (defaults: `kDefaultSearchCacheOptions`). */
export interface SearchCacheOptions {
  /** Entries kept, an integer in [1, 10000000]. @default 1000 */
  readonly size?: number;
  /** How long an entry is served, in ms, an integer in [1, 86400000]. @default 60000 */
  readonly ttlMs?: number;
}

/** The defaults of {@link SearchCacheOptions}. */
export const kDefaultSearchCacheOptions = Object.freeze({ size: 1000, ttlMs: 60_000 });

/** Resolved {@link SearchCacheOptions}. */
export type ResolvedSearchCacheOptions = Readonly<Required<SearchCacheOptions>>;

/** What a cache counted since it was made. */
export interface SearchCacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Entries held now (expired ones included until touched or evicted). */
  readonly entries: number;
  readonly evictions: number;
}

function intIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be an integer in [${min}, ${max}], got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/**
 * Checks cache options.
 * @param options - as given; undefined, null or false turn the cache off.
 * @param name - the option's name in messages. @default 'options.searchCache'
 * @returns the resolved options, or null for no cache.
 * @throws {TypeError | RangeError} naming the option.
 */
export function resolveSearchCacheOptions(options: unknown, name = 'options.searchCache'): ResolvedSearchCacheOptions | null {
  if (options === undefined || options === null || options === false) return null;
  if (typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${name} must be an object { size, ttlMs }, got ${Array.isArray(options) ? 'an array' : typeof options}`);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== 'size' && key !== 'ttlMs') throw new TypeError(`${name}.${key} is not a cache option; known: size, ttlMs`);
  return Object.freeze({
    size: intIn(`${name}.size`, o.size ?? kDefaultSearchCacheOptions.size, 1, 10_000_000),
    ttlMs: intIn(`${name}.ttlMs`, o.ttlMs ?? kDefaultSearchCacheOptions.ttlMs, 1, 86_400_000),
  });
}

/**
 * JSON with object keys sorted, so equal parameters give equal keys
 * whatever order the caller wrote them in.
 * @param value - a JSON value.
 * @returns its canonical text.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The part of a cache key that stands for a query: the text itself, or a
 * digest of a vector's bytes.
 * @param query - a text or a vector.
 * @returns the key part.
 */
export function queryKey(query: string | Float32Array): string {
  if (typeof query === 'string') return `t:${query}`;
  return `v:${createHash('sha256').update(new Uint8Array(query.buffer, query.byteOffset, query.byteLength)).digest('base64')}`;
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAtMs: number;
}

/** An LRU cache whose entries expire after a TTL. */
export class SearchCache<V> {
  readonly #options: ResolvedSearchCacheOptions;
  /** A Map iterates in insertion order: the first key is the least recently used. */
  readonly #entries = new Map<string, Entry<V>>();
  readonly #now: () => number;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /**
   * @param options - size and TTL.
   * @param now - the clock, in ms. @default performance.now
   * @throws {TypeError | RangeError} for invalid options.
   */
  constructor(options: SearchCacheOptions = {}, now: () => number = () => performance.now()) {
    this.#options = resolveSearchCacheOptions(options ?? {}, 'options') ?? kDefaultSearchCacheOptions;
    this.#now = now;
  }

  /**
   * A key for a search result: what the result depends on, joined.
   * @param scope - what identifies the searched state (a version, a write generation).
   * @param params - the search parameters (any JSON; object keys are sorted, undefined fields dropped).
   * @param query - the query text or vector.
   * @returns the key.
   */
  static key(scope: string, params: unknown, query: string | Float32Array): string {
    return `${scope}\0${canonicalJson(params)}\0${queryKey(query)}`;
  }

  /** The resolved size and TTL. */
  get options(): ResolvedSearchCacheOptions {
    return this.#options;
  }

  /**
   * Looks a key up; counts a hit or a miss.
   * @param key - the key.
   * @returns the value, or undefined when absent or expired.
   */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAtMs <= this.#now()) {
      if (entry !== undefined) this.#entries.delete(key);
      this.#misses++;
      return undefined;
    }
    // Re-inserted: now the most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.value;
  }

  /**
   * Stores a value, evicting the least recently used entries past `size`.
   * @param key - the key.
   * @param value - the value.
   */
  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs: this.#now() + this.#options.ttlMs });
    while (this.#entries.size > this.#options.size) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
      this.#evictions++;
    }
  }

  /** Drops every entry (the counters stay). */
  clear(): void {
    this.#entries.clear();
  }

  /**
   * The counters.
   * @returns hits, misses, entries and evictions.
   */
  stats(): SearchCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#entries.size, evictions: this.#evictions };
  }
}
