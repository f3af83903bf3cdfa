import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { ensureGloveCache, zipfProbability, kSifA } from '../src/models/glove/convert.js';
import { gloveViews, lookupWord, type GloveTable } from '../src/models/glove/layout.js';
import { splitWords, tokenizeToRows } from '../src/models/glove/tokenize.js';
import { dotRows, kTestCacheDir, referenceSif, row } from './helpers.js';

let engine: Engine;
let table: GloveTable;

beforeAll(async () => {
  const { buffer, header } = ensureGloveCache(kTestCacheDir);
  table = gloveViews(buffer, header);
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});

afterAll(async () => {
  await engine.close();
});

describe('glove-100d table', () => {
  test('holds the whole wink vocabulary with 100-d vectors', () => {
    expect(table.header.count).toBe(341_479);
    expect(table.header.dims).toBe(100);
    expect(lookupWord(table, 'the')).toBe(0);
    expect(lookupWord(table, 'king')).toBeGreaterThan(0);
    expect(lookupWord(table, 'qqzzxxnotaword')).toBe(-1);
  });

  test('SIF weights follow a/(a + p(w)) with the Zipf estimate of p(w)', () => {
    const king = lookupWord(table, 'king');
    const expected = kSifA / (kSifA + zipfProbability(king + 1, table.header.count));
    expect(table.weights[king]).toBeCloseTo(expected, 6);
    // Frequent words weigh less than rare ones.
    expect(table.weights[0]).toBeLessThan(table.weights[king] ?? 0);
  });

  test('the common component is a unit vector', () => {
    let norm = 0;
    for (const x of table.pc) norm += x * x;
    expect(Math.sqrt(norm)).toBeCloseTo(1, 5);
  });
});

describe('tokenisation', () => {
  test('lower-cases and splits on anything but letters, digits and in-word apostrophes', () => {
    expect(splitWords("Don't STOP-me now, it's 4pm! 'quoted'")).toEqual(["don't", 'stop', 'me', 'now', "it's", '4pm', 'quoted']);
  });

  test('skips unknown words and retries clitics without the suffix', () => {
    const rows: number[] = [];
    tokenizeToRows(table, "the children's qqzzxx dog", rows);
    expect(rows).toEqual([lookupWord(table, 'the'), lookupWord(table, 'children'), lookupWord(table, 'dog')]);
  });
});

describe('embeddings on the real model', () => {
  test('cos(king, queen) > cos(king, carrot)', async () => {
    const { vectors, dims, items } = await engine.embed(['king', 'queen', 'carrot']);
    expect(items.every((i) => i.state === 'ok')).toBe(true);
    expect(dotRows(vectors, dims, 0, 1)).toBeGreaterThan(dotRows(vectors, dims, 0, 2) + 0.3);
  });

  test('a sentence is closer to its paraphrase than to an unrelated sentence', async () => {
    const { vectors, dims } = await engine.embed([
      'The cat slept on the warm carpet all afternoon.',
      'A kitten was napping on the rug for hours.',
      'The central bank raised interest rates to fight inflation.',
    ]);
    const paraphrase = dotRows(vectors, dims, 0, 1);
    const unrelated = dotRows(vectors, dims, 0, 2);
    expect(paraphrase).toBeGreaterThan(unrelated + 0.2);
  });

  test.each(['js', 'tfjs'] as const)('%s math: unit vectors matching the plain-JS SIF reference', async (math) => {
    const texts = ['The quick brown fox jumps over the lazy dog.', 'Stock markets fell sharply on Tuesday.', 'water', 'qqzzxx', 'the the the'];
    const e = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm', math });
    const { vectors, dims, items } = await e.embed(texts).finally(() => e.close());
    expect(e.info().modelFiles.math).toBe(math);
    expect(items[3]).toMatchObject({ state: 'failed', code: 'NO_KNOWN_WORDS' });
    texts.forEach((text, i) => {
      const ref = referenceSif(table, text);
      const got = row(vectors, dims, i);
      let norm = 0;
      for (let d = 0; d < dims; d++) {
        expect(got[d]).toBeCloseTo(ref[d] ?? 0, 4);
        norm += (got[d] ?? 0) ** 2;
      }
      expect(Math.sqrt(norm)).toBeCloseTo(items[i]?.state === 'ok' ? 1 : 0, 5);
    });
  });

  test('auto math picks fused JS on wasm', () => {
    expect(engine.info().modelFiles.math).toBe('js');
  });

  test('info reports backend, model, dims, workers and the cache file', () => {
    const info = engine.info();
    expect(info).toMatchObject({ backend: 'wasm', model: 'glove-100d', dims: 100, workers: 2, cacheDir: kTestCacheDir });
    expect(String(info.modelFiles.cacheFile)).toContain(kTestCacheDir);
    expect(engine.threadCount).toBe(2);
  });
});
