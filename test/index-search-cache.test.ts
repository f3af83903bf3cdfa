/**
 * The result cache: LRU eviction and TTL on their own (with a clock the
 * test moves), and an index's `searchCache` option: off by default, hits
 * on a repeated search, never stale after a write, validated options.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, SearchCache } from '../src/index.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { sampleRows } from './serve-helpers.js';

describe('SearchCache', () => {
  test('evicts the least recently used entry past size', () => {
    const cache = new SearchCache<number>({ size: 2, ttlMs: 1000 }, () => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.stats()).toEqual({ hits: 3, misses: 1, entries: 2, evictions: 1 });
  });

  test('an entry older than ttlMs is a miss', () => {
    let now = 0;
    const cache = new SearchCache<string>({ size: 10, ttlMs: 100 }, () => now);
    cache.set('k', 'v');
    now = 99;
    expect(cache.get('k')).toBe('v');
    now = 100;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 0 });
  });

  test('keys: parameter order does not matter, values and queries do', () => {
    const a = SearchCache.key('s', { k: 3, namespace: ['x', 'y'], filter: { a: 1, b: 2 } }, 'q');
    expect(SearchCache.key('s', { filter: { b: 2, a: 1 }, namespace: ['x', 'y'], k: 3, signal: undefined }, 'q')).toBe(a);
    expect(SearchCache.key('s', { k: 4, namespace: ['x', 'y'], filter: { a: 1, b: 2 } }, 'q')).not.toBe(a);
    expect(SearchCache.key('t', { k: 3, namespace: ['x', 'y'], filter: { a: 1, b: 2 } }, 'q')).not.toBe(a);
    expect(SearchCache.key('s', {}, Float32Array.of(1, 2))).toBe(SearchCache.key('s', {}, Float32Array.of(1, 2)));
    expect(SearchCache.key('s', {}, Float32Array.of(1, 2))).not.toBe(SearchCache.key('s', {}, Float32Array.of(1, 3)));
  });

  test.each([
    [{ size: 0 }, RangeError, 'options.size must be an integer in [1, 10000000], got 0'],
    [{ ttlMs: 1.5 }, RangeError, 'options.ttlMs must be an integer in [1, 86400000], got 1.5'],
    [{ size: '10' }, TypeError, 'options.size must be an integer in [1, 10000000], got "10"'],
    [{ entries: 3 }, TypeError, 'options.entries is not a cache option; known: size, ttlMs'],
  ])('invalid options %j', (options, type, message) => {
    expect(() => new SearchCache(options as never)).toThrow(type);
    expect(() => new SearchCache(options as never)).toThrow(message);
  });
});

describe('index option searchCache', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ workers: 1, cacheDir: kTestCacheDir });
  });
  afterAll(async () => {
    await engine?.close();
  });

  test('off by default; on, a repeated search is a hit, and a write is never answered stale', async () => {
    const dir = tempDir();
    const plain = await engine.createIndex({ dir: `${dir}/plain` });
    expect(plain.stats().searchCache).toBeNull();
    await plain.close();
    const index = await engine.createIndex({ dir: `${dir}/cached`, searchCache: { size: 10, ttlMs: 60_000 } });
    try {
      await index.upsert(sampleRows(100));
      const first = await index.search('a large dog', { k: 3 });
      const second = await index.search('a large dog', { k: 3 });
      expect(second).toEqual(first);
      expect(index.stats().searchCache).toMatchObject({ hits: 1, misses: 1, entries: 1 });
      await index.search('a large dog', { k: 4 });
      expect(index.stats().searchCache).toMatchObject({ hits: 1, misses: 2 });
      await index.upsert([{ id: 'dog', text: 'a large dog' }]);
      const after = await index.search('a large dog', { k: 3 });
      expect(after[0]?.id).toBe('dog');
      await index.delete(['dog']);
      expect((await index.search('a large dog', { k: 3 })).map((h) => h.id)).toEqual(first.map((h) => h.id));
      await index.save();
      const reopened = await engine.openIndex(`${dir}/cached`, { searchCache: { size: 5 } });
      try {
        await reopened.search(Float32Array.from(index.getVector(first[0]?.id ?? '') ?? []), { k: 2 });
        await reopened.search(Float32Array.from(index.getVector(first[0]?.id ?? '') ?? []), { k: 2 });
        expect(reopened.stats().searchCache).toMatchObject({ hits: 1, misses: 1 });
      } finally {
        await reopened.close();
      }
    } finally {
      await index.close();
    }
  });

  test('invalid searchCache options name the option', async () => {
    const dir = tempDir();
    await expect(engine.createIndex({ dir, searchCache: { size: -1 } })).rejects.toThrow('options.searchCache.size must be an integer in [1, 10000000], got -1');
    await expect(engine.openIndex(dir, { searchCache: 'big' as never })).rejects.toThrow('options.searchCache must be an object { size, ttlMs }, got string');
  });
});
