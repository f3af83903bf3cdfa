import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, type VectorIndex } from '../src/index.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
let index: VectorIndex;
const unit = (i: number): Float32Array => {
  const v = new Float32Array(100);
  v[i % 100] = 1;
  v[(i * 7 + 3) % 100] = 0.5;
  return v;
};

beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
  index = await engine.createIndex({ dir: tempDir() });
  await index.addBatch(Array.from({ length: 20 }, (_, i) => ({ id: `v${i}`, vector: unit(i) })));
});
afterAll(async () => {
  await index.close();
  await engine.close();
});

describe('index options', () => {
  test.each([
    [{ dir: '' }, TypeError, 'options.dir must be a non-empty string, got '],
    [{ dir: 'x', space: 'hamming' }, RangeError, 'options.space must be one of "cosine", "ip", "l2", got "hamming"'],
    [{ dir: 'x', m: 1 }, RangeError, 'options.m must be an integer in [2, 2048], got 1'],
    [{ dir: 'x', efConstruction: 0 }, RangeError, 'options.efConstruction must be an integer in [1, 4096], got 0'],
    [{ dir: 'x', efSearch: '10' }, TypeError, 'options.efSearch must be an integer in [1, 4096], got "10"'],
    [{ dir: 'x', capacity: 0 }, RangeError, 'options.capacity must be an integer in [1, 4294967294], got 0'],
    [{ dir: 'x', dims: 0 }, RangeError, 'options.dims must be an integer in [1, 65536], got 0'],
    [{ dir: 'x', efconstruction: 5 }, TypeError, 'options.efconstruction is not a known index option; known: dir, space, m, efConstruction, efSearch, capacity, dims, seed, pca, lexical'],
  ])('%j is refused', async (options, type, message) => {
    await expect(engine.createIndex(options as never)).rejects.toThrow(new type(message));
  });

  test('a directory that already holds an index is refused', async () => {
    const dir = tempDir();
    const first = await engine.createIndex({ dir });
    await first.addBatch([{ id: 'a', vector: unit(1) }]);
    await first.save();
    await first.close();
    await expect(engine.createIndex({ dir })).rejects.toMatchObject({ code: 'ERR_INDEX', message: `${dir} already holds an index; open it with engine.openIndex` });
  });
});

describe('bad items fail one by one; the rest are added', () => {
  test('every per-item failure has a code and reason', async () => {
    const nan = unit(3);
    nan[5] = Number.NaN;
    const inf = unit(4);
    inf[0] = Number.POSITIVE_INFINITY;
    const out = await index.addBatch([
      { id: 'ok1', vector: unit(30) },
      null as never,
      { id: '', vector: unit(1) },
      { id: 'dup', vector: unit(31) },
      { id: 'dup', vector: unit(32) },
      { id: 'v0', vector: unit(33) },
      { id: 'both', vector: unit(1), text: 'x' },
      { id: 'neither' },
      { id: 'short', vector: new Float32Array(99) },
      { id: 'nan', vector: nan },
      { id: 'inf', vector: inf },
      { id: 'ns', vector: unit(34), namespace: '' },
      { id: 'meta', vector: unit(35), metadata: [1, 2] as never },
      { id: 'vec', vector: 'abc' as never },
      { id: 'oov', text: 'qqzzxx vvbbnn' },
      { id: 'text', text: 42 as never },
      { id: 'ok2', text: 'a perfectly ordinary sentence' },
    ]);
    expect(out).toEqual([
      { state: 'ok', id: 'ok1' },
      { state: 'failed', id: null, code: 'INVALID_ITEM', reason: 'item must be an object { id, text | vector, metadata?, namespace? }' },
      { state: 'failed', id: '', code: 'INVALID_ID', reason: 'id must be a non-empty string of at most 1024 bytes' },
      { state: 'ok', id: 'dup' },
      { state: 'failed', id: 'dup', code: 'DUPLICATE_ID', reason: 'id appears earlier in the same batch; the first occurrence is used' },
      { state: 'failed', id: 'v0', code: 'EXISTS', reason: 'id is already in the index; use upsert to replace it' },
      { state: 'ok', id: 'both' },
      { state: 'failed', id: 'neither', code: 'INVALID_ITEM', reason: 'item must have a text or a vector (or both)' },
      { state: 'failed', id: 'short', code: 'WRONG_DIMS', reason: 'vector has 99 dims, the index has 100' },
      { state: 'failed', id: 'nan', code: 'NON_FINITE', reason: 'vector component 5 is NaN' },
      { state: 'failed', id: 'inf', code: 'NON_FINITE', reason: 'vector component 0 is Infinity' },
      { state: 'failed', id: 'ns', code: 'INVALID_NAMESPACE', reason: 'namespace must be a non-empty string of at most 256 characters' },
      { state: 'failed', id: 'meta', code: 'INVALID_METADATA', reason: 'metadata must be a plain object' },
      { state: 'failed', id: 'vec', code: 'INVALID_ITEM', reason: 'vector must be a Float32Array or an array of numbers' },
      // No word the model knows: stored for the lexical side, without a vector.
      { state: 'ok', id: 'oov', vector: false },
      { state: 'failed', id: 'text', code: 'NOT_A_STRING', reason: 'text must be a string, got number' },
      { state: 'ok', id: 'ok2' },
    ]);
    expect(index.count).toBe(25);
    // Failed items left nothing searchable behind; 'oov' has no vector.
    const hits = await index.search(unit(0), { k: 25, ef: 100 });
    expect(new Set(hits.map((h) => h.id))).toEqual(new Set([...Array.from({ length: 20 }, (_, i) => `v${i}`), 'ok1', 'dup', 'ok2', 'both']));
  });

  test('items and ids must be arrays', async () => {
    await expect(index.addBatch('x' as never)).rejects.toThrow(new TypeError('items must be an array, got string'));
    await expect(index.delete(null as never)).rejects.toThrow(new TypeError('ids must be an array of strings, got null'));
  });
});

describe('search arguments', () => {
  test.each([
    [{ k: 0 }, RangeError, /^options\.k must be an integer in \[1, \d+\] \(the index holds \d+ items\), got 0$/],
    [{ k: 10_000 }, RangeError, /^options\.k must be an integer in \[1, \d+\] \(the index holds \d+ items\), got 10000$/],
    [{ k: 1.5 }, TypeError, /^options\.k must be an integer in \[1, \d+\], got 1\.5$/],
    [{ k: 10, ef: 5 }, RangeError, /^options\.ef must be an integer in \[k = 10, 1048576\], got 5$/],
    [{ filter: { a: [1] } }, TypeError, /^options\.filter\.a must be a value, \{ \$in: \[\.\.\.\] \} or a range; use \{ \$in: \[\.\.\.\] \} for a list$/],
    [{ filter: { a: { $near: 1 } } }, TypeError, /^options\.filter\.a must be a value, \{ \$in: \[\.\.\.\] \} or a range with \$gt, \$gte, \$lt, \$lte; got keys \$near$/],
    [{ filter: { a: { $gt: 'x' } } }, TypeError, /^options\.filter\.a\.\$gt must be a number$/],
    [{ namespace: 5 }, TypeError, /^options\.namespace must be a string or an array of strings$/],
  ])('%j is refused', async (options, type, message) => {
    const error = await index.search(unit(1), options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });

  test('a query of the wrong dims or with NaN is refused', async () => {
    await expect(index.search(new Float32Array(3))).rejects.toThrow(new RangeError('query 0 has 3 dims, the index has 100'));
    const q = unit(1);
    q[2] = Number.NaN;
    await expect(index.search(q)).rejects.toThrow(new RangeError('query 0 component 2 is NaN'));
    await expect(index.search(5 as never)).rejects.toThrow(new TypeError('query 0 must be a string or a Float32Array'));
    await expect(index.search('qqzzxx', { mode: 'vector' })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', message: 'query 0 cannot be embedded: no word of the text is in the model vocabulary' });
  });

  test('a hybrid batch names the bad vector query by its position in the batch', async () => {
    const nan = unit(1);
    nan[4] = Number.POSITIVE_INFINITY;
    await expect(index.searchBatch(['ordinary words', unit(1), new Float32Array(3)], { mode: 'hybrid' })).rejects.toThrow(new RangeError('query 2 has 3 dims, the index has 100'));
    await expect(index.searchBatch(['ordinary words', nan], { mode: 'hybrid' })).rejects.toThrow(new RangeError('query 1 component 4 is Infinity'));
  });

  test('an empty index refuses searches clearly', async () => {
    const empty = await engine.createIndex({ dir: tempDir() });
    await expect(empty.search(unit(1))).rejects.toThrow(new RangeError('the index is empty'));
    await empty.close();
  });

  test('a closed index refuses work', async () => {
    const closed = await engine.createIndex({ dir: tempDir() });
    await closed.close();
    await expect(closed.addBatch([])).rejects.toMatchObject({ code: 'ERR_CLOSED', message: 'the index is closed' });
  });
});
