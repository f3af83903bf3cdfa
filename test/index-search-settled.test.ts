/**
 * `searchBatchSettled`: in every mode a query that cannot be answered gets
 * a failed outcome with a code and a reason in its place, and every other
 * query exactly the hits `searchBatch` gives it without the bad ones; where
 * `searchBatch` rejects the whole batch for the same input.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, type SearchOutcome, type VectorIndex } from '../src/index.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
let index: VectorIndex;
let l2: VectorIndex;

const kDocs = [
  'sea foam on the waves of a stormy beach',
  'a small freshwater fish of the carp family',
  'a shell of a single-celled marine organism',
  'the spiny fin on the back of a fish',
  'making progress and long strides toward a goal',
  'foraminifers rudds',
  'a bird that sings in the morning',
  'a heavy storm with strong winds at sea',
];

beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
  index = await engine.createIndex({ dir: tempDir() });
  await index.addBatch(kDocs.map((text, i) => ({ id: `d${i}`, text })));
  l2 = await engine.createIndex({ dir: tempDir(), space: 'l2', dims: 4 });
  await l2.addBatch(Array.from({ length: 12 }, (_, i) => ({ id: `v${i}`, vector: Float32Array.from([i, 1, -i / 2, 3]) })));
});
afterAll(async () => {
  await index.close();
  await l2.close();
  await engine.close();
});

function vectorOf(id: string): Float32Array {
  const v = index.getVector(id);
  if (v === undefined) throw new Error(`${id} has no vector`);
  return v;
}

/** Each outcome as [state, code or hit ids]. */
const shape = (outcomes: readonly SearchOutcome[]): Array<[string, string]> => outcomes.map((o) => (o.state === 'ok' ? ['ok', o.hits.map((h) => h.id).join(',')] : ['failed', o.code]));

describe('searchBatchSettled', () => {
  test('hybrid: a query neither side can answer and bad vectors fail alone; the rest are searchBatch', async () => {
    const nan = vectorOf('d0').slice();
    nan[3] = Number.NaN;
    const good = ['stormy sea foam', 'foraminifers', vectorOf('d1'), 'fish']; // 'foraminifers' has no vector: BM25 answers it
    const batch: unknown[] = [good[0], '?! --', good[1], new Float32Array(3), good[2], nan, 42, good[3]];
    await expect(index.searchBatch(batch as string[], { k: 3 })).rejects.toThrow();
    const got = await index.searchBatchSettled(batch, { k: 3 });
    expect(got.map((o) => (o.state === 'ok' ? 'ok' : o.code))).toEqual(['ok', 'UNANSWERABLE', 'ok', 'INVALID_QUERY', 'ok', 'INVALID_QUERY', 'INVALID_QUERY', 'ok']);
    const plain = await index.searchBatch(good as Array<string | Float32Array>, { k: 3 });
    expect(got.flatMap((o) => (o.state === 'ok' ? [o.hits] : []))).toEqual(plain);
    expect(plain[1]?.[0]?.id).toBe('d5');
    const failed = got.filter((o) => o.state === 'failed') as Array<Extract<SearchOutcome, { state: 'failed' }>>;
    expect(failed.map((o) => o.reason)).toEqual([
      'cannot be answered: it cannot be embedded (no word of the text is in the model vocabulary) and it has no word to search lexically (english stop words are not indexed)',
      'the query has 3 dims, the index has 100',
      'component 3 is NaN',
      'a query must be a string or a Float32Array, got number',
    ]);
  });

  test('vector: a text the model cannot embed fails with the embedding code; the rest are searchBatch', async () => {
    const batch = ['stormy sea foam', 'foraminifers', '', vectorOf('d6'), 'a singing bird'];
    await expect(index.searchBatch(batch, { k: 2, mode: 'vector' })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    const got = await index.searchBatchSettled(batch, { k: 2, mode: 'vector' });
    expect(got.map((o) => (o.state === 'ok' ? 'ok' : o.code))).toEqual(['ok', 'NO_KNOWN_WORDS', 'EMPTY', 'ok', 'ok']);
    const plain = await index.searchBatch(['stormy sea foam', vectorOf('d6'), 'a singing bird'], { k: 2, mode: 'vector' });
    expect(got.flatMap((o) => (o.state === 'ok' ? [o.hits] : []))).toEqual(plain);
    expect(got[1]).toMatchObject({ reason: 'cannot be embedded: no word of the text is in the model vocabulary' });
  });

  test('lexical: a text with no searchable word and a vector fail alone', async () => {
    const batch = ['fish', 'of the', vectorOf('d0'), 'rudds'];
    await expect(index.searchBatch(batch, { k: 2, mode: 'lexical' })).rejects.toThrow();
    const got = await index.searchBatchSettled(batch, { k: 2, mode: 'lexical' });
    expect(shape(got).map(([state, what]) => (state === 'ok' ? 'ok' : what))).toEqual(['ok', 'NO_TERMS', 'INVALID_QUERY', 'ok']);
    expect(got.flatMap((o) => (o.state === 'ok' ? [o.hits] : []))).toEqual(await index.searchBatch(['fish', 'rudds'], { k: 2, mode: 'lexical' }));
    expect(got[2]).toMatchObject({ reason: "a vector; options.mode 'lexical' searches texts" });
  });

  test('l2: a vector whose distances overflow float32 fails alone', async () => {
    const huge = Float32Array.from([1e20, 0, 0, 0]);
    const q = Float32Array.from([2.2, 1, -1.1, 3]);
    const got = await l2.searchBatchSettled([q, huge, q], { k: 2 });
    expect(shape(got)).toEqual([['ok', 'v2,v3'], ['failed', 'INVALID_QUERY'], ['ok', 'v2,v3']]);
    expect(got[1]).toMatchObject({ reason: expect.stringMatching(/distances overflow float32/) });
  });

  test('an empty batch answers []; a non-array, bad options and a closed index reject the call', async () => {
    expect(await index.searchBatchSettled([], { k: 2 })).toEqual([]);
    await expect(index.searchBatchSettled('fish' as never)).rejects.toThrow(new TypeError('queries must be an array of texts or vectors'));
    await expect(index.searchBatchSettled(['fish'], { k: 0 })).rejects.toThrow(RangeError);
    const other = await engine.createIndex({ dir: tempDir() });
    await other.close();
    await expect(other.searchBatchSettled(['fish'])).rejects.toThrow(/closed/);
  });
});
