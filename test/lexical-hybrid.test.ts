/**
 * Hybrid search from code: a text with no word the model knows is stored
 * lexically and found by its rare word; a query with no known word is
 * answered by the lexical side; hits carry their ranks; namespaces and
 * filters apply to both sides; deleted documents never come back; the
 * default mode follows what the index was built from.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, type VectorIndex } from '../src/index.js';
import { mulberry32 } from '../src/random.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const kTexts: Array<{ id: string; text: string; ns?: string; metadata?: Record<string, unknown> }> = [
  { id: 'cat', text: 'a small domesticated carnivorous mammal with soft fur', metadata: { kind: 'animal' } },
  { id: 'dog', text: 'a domesticated carnivorous mammal that barks and is kept as a pet', metadata: { kind: 'animal' } },
  { id: 'car', text: 'a road vehicle with an engine and four wheels', metadata: { kind: 'machine' } },
  { id: 'piano', text: 'a large keyboard musical instrument with strings struck by hammers', metadata: { kind: 'machine' } },
  { id: 'oov', text: 'foraminifers qqvvzz zzqxv', metadata: { kind: 'animal' } },
  { id: 'boat', text: 'a small vessel for travelling over water', ns: 'other', metadata: { kind: 'machine' } },
];

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

/** Index → its directory. */
const dirs = new WeakMap<VectorIndex, string>();

async function textIndex(): Promise<VectorIndex> {
  const dir = tempDir();
  const index = await engine.createIndex({ dir });
  dirs.set(index, dir);
  const out = await index.addBatch(kTexts.map((t) => ({ id: t.id, text: t.text, ...(t.ns !== undefined ? { namespace: t.ns } : {}), ...(t.metadata !== undefined ? { metadata: t.metadata } : {}) })));
  expect(out.map((o) => o.state)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  return index;
}

describe('no document left unsearchable', () => {
  test('a text with no known word is stored with vector: false, found by its rare word, and survives a save and reopen', async () => {
    const index = await textIndex();
    const out = await index.upsert([{ id: 'oov2', text: 'qqzzyx wwvvxx' }]);
    expect(out).toEqual([{ state: 'ok', id: 'oov2', vector: false }]);
    expect(index.count).toBe(7);
    const hits = await index.search('foraminifers', { k: 3 });
    expect(hits[0]?.id).toBe('oov');
    expect(hits[0]?.lexicalRank).toBe(1);
    expect(hits[0]?.vectorRank).toBeUndefined();
    expect(await index.save()).toMatch(/^v\d{6}$/);
    const opened = await engine.openIndex(dirOf(index));
    try {
      const again = await opened.search('qqvvzz', { k: 2 });
      expect(again[0]?.id).toBe('oov');
      const lex = await opened.search('qqzzyx', { k: 1, mode: 'lexical' });
      expect(lex.map((h) => h.id)).toEqual(['oov2']);
    } finally {
      await opened.close();
    }
    await index.close();
  });

  test('a query with no known word is answered lexically in hybrid mode, refused in vector mode', async () => {
    const index = await textIndex();
    const hits = await index.search('zzqxv', { k: 2 });
    expect(hits.map((h) => h.id)).toEqual(['oov']);
    await expect(index.search('zzqxv', { k: 2, mode: 'vector' })).rejects.toThrow(/cannot be embedded/);
    await expect(index.search('!!!', { k: 2 })).rejects.toThrow(/cannot be answered/);
    await index.close();
  });
});

describe('stop words', () => {
  test("the default drops English stop words: a query of stop words alone is answered by the vector side, refused lexically with the reason; stopWords 'none' keeps them, across a reopen", async () => {
    const index = await textIndex();
    expect(index.stats().lexical?.stopWords).toBe('english');
    const hits = await index.search('that is with the', { k: 2 });
    expect(hits.length).toBe(2);
    expect(hits.every((h) => h.lexicalRank === undefined && h.vectorRank !== undefined)).toBe(true);
    await expect(index.search('that is with the', { k: 2, mode: 'lexical' })).rejects.toThrow(/no word to search lexically \(english stop words are not indexed\)/);
    await index.close();

    const dir = tempDir();
    const keep = await engine.createIndex({ dir, lexical: { stopWords: 'none' } });
    await keep.addBatch(kTexts.map((t) => ({ id: t.id, text: t.text })));
    // "that" and "is" are only in dog's text.
    expect((await keep.search('that is', { k: 1, mode: 'lexical' })).map((h) => h.id)).toEqual(['dog']);
    await keep.save();
    await keep.close();
    const opened = await engine.openIndex(dir);
    try {
      expect(opened.stats().lexical?.stopWords).toBe('none');
      expect((await opened.search('that is', { k: 1, mode: 'lexical' })).map((h) => h.id)).toEqual(['dog']);
    } finally {
      await opened.close();
    }
  });
});

describe('search modes', () => {
  test('hybrid is the default for a text index, hits carry both ranks, and rrf fuses them by rank', async () => {
    const index = await textIndex();
    const [hybrid, vector, lexical] = await Promise.all([
      index.search('domesticated mammal', { k: 6, fusion: { method: 'rrf' } }),
      index.search('domesticated mammal', { k: 6, mode: 'vector' }),
      index.search('domesticated mammal', { k: 6, mode: 'lexical' }),
    ]);
    expect(lexical.map((h) => h.id).slice(0, 2).sort()).toEqual(['cat', 'dog']);
    expect(lexical.every((h, i) => h.lexicalRank === i + 1)).toBe(true);
    // The union of both sides' candidates: 'oov' has no vector and none of the words.
    expect(vector.map((h) => h.id)).not.toContain('oov');
    expect(hybrid.length).toBe(new Set([...vector, ...lexical].map((h) => h.id)).size);
    expect(hybrid.length).toBe(5);
    for (const h of hybrid) {
      const vr = vector.findIndex((v) => v.id === h.id) + 1;
      const lr = lexical.findIndex((v) => v.id === h.id) + 1;
      expect(h.vectorRank ?? 0).toBe(vr);
      expect(h.lexicalRank ?? 0).toBe(lr);
      expect(h.score).toBeCloseTo((vr > 0 ? 1 / (60 + vr) : 0) + (lr > 0 ? 1 / (60 + lr) : 0), 12);
    }
    for (let i = 1; i < hybrid.length; i++) expect((hybrid[i - 1]?.score ?? 0) >= (hybrid[i]?.score ?? 0)).toBe(true);
    await index.close();
  });

  test('the default fusion is convex: every candidate scored on both sides, each side over its theoretical range, then their mean', async () => {
    const index = await textIndex();
    const q = 'domesticated mammal with soft fur';
    const [hybrid, vector, lexical] = await Promise.all([index.search(q, { k: 6 }), index.search(q, { k: 6, mode: 'vector' }), index.search(q, { k: 6, mode: 'lexical' })]);
    const qv = (await engine.embed([q])).vectors;
    const norm = (v: Float32Array): number => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    const cos = (id: string): number | undefined => {
      const v = index.getVector(id);
      return v === undefined ? undefined : v.reduce((a, x, j) => a + x * (qv[j] as number), 0) / (norm(v) * norm(qv));
    };
    // Every document with a query term is on the lexical list (k 6 ≥ the corpus): the rest score 0 there.
    const bm = new Map(lexical.map((h) => [h.id, h.score]));
    const union = [...new Set([...vector, ...lexical].map((h) => h.id))];
    const cosMax = Math.max(...union.flatMap((id) => cos(id) ?? []));
    const bmMax = Math.max(...bm.values());
    const want = new Map(union.map((id) => [id, 0.5 * ((cos(id) ?? -1) + 1) / (cosMax + 1) + (0.5 * (bm.get(id) ?? 0)) / bmMax]));
    expect(hybrid.map((h) => h.id)).toEqual([...want.entries()].sort((a, b) => b[1] - a[1]).map(([id]) => id));
    for (const h of hybrid) {
      expect(h.score).toBeCloseTo(want.get(h.id) as number, 5);
      const vr = vector.findIndex((v) => v.id === h.id) + 1;
      const lr = lexical.findIndex((v) => v.id === h.id) + 1;
      expect(h.vectorRank ?? 0).toBe(vr);
      expect(h.lexicalRank ?? 0).toBe(lr);
    }
    // A document only one side found is still scored by the other: 'car' has no query term (BM25 0), 'oov' no vector.
    expect(hybrid.find((h) => h.id === 'car')?.lexicalRank).toBeUndefined();
    expect(want.get('cat')).toBeGreaterThan(want.get('car') as number);
    await index.close();
  });

  test('a PCA index scores the lexical side\'s candidates by the full vectors, as its rerank scores its own', async () => {
    const words = ['river', 'stone', 'music', 'engine', 'forest', 'bread', 'winter', 'ocean', 'garden', 'letter', 'mountain', 'window', 'horse', 'silver', 'candle', 'market'];
    const rand = mulberry32(4);
    const items = Array.from({ length: 240 }, (_, i) => ({ id: `d${i}`, text: Array.from({ length: 6 }, () => words[Math.floor(rand() * words.length)]).join(' ') }));
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 16, sample: 120 } });
    await index.addBatch(items);
    const q = 'stone river music';
    const [hybrid, vector, lexical] = await Promise.all([index.search(q, { k: 10, fusion: { candidates: 10 } }), index.search(q, { k: 10, mode: 'vector' }), index.search(q, { k: 10, mode: 'lexical' })]);
    const qv = (await engine.embed([q])).vectors;
    const cos = (id: string): number => {
      const v = index.getVector(id) as Float32Array;
      return v.reduce((a, x, j) => a + x * (qv[j] as number), 0) / (Math.hypot(...v) * Math.hypot(...qv));
    };
    const vScore = new Map(vector.map((h) => [h.id, h.score]));
    // Every document's BM25 (the candidates are the top 10 of each side; the others are scored too).
    const bm = new Map((await index.search(q, { k: 240, mode: 'lexical' })).map((h) => [h.id, h.score]));
    const union = [...new Set([...vector, ...lexical].map((h) => h.id))];
    const v = (id: string): number => vScore.get(id) ?? cos(id);
    const vMax = Math.max(...union.map(v));
    const bmMax = Math.max(...union.map((id) => bm.get(id) ?? 0));
    for (const h of hybrid) expect(h.score).toBeCloseTo((0.5 * (v(h.id) + 1)) / (vMax + 1) + (0.5 * (bm.get(h.id) ?? 0)) / bmMax, 3);
    expect(union.length).toBeGreaterThan(10);
    // Some hits only the lexical side returned: their vector score came from the full vectors.
    expect(hybrid.some((h) => h.vectorRank === undefined)).toBe(true);
    expect(hybrid.length).toBe(10);
    await index.close();
  });

  test('a vector-only index defaults to vector mode; lexical mode needs a text', async () => {
    const index = await engine.createIndex({ dir: tempDir(), dims: 3 });
    await index.addBatch([
      { id: 'a', vector: [1, 0, 0] },
      { id: 'b', vector: [0, 1, 0] },
    ]);
    const hits = await index.search(new Float32Array([1, 0, 0]), { k: 1 });
    expect(hits).toEqual([{ id: 'a', score: expect.any(Number), namespace: 'default', metadata: null }]);
    await expect(index.search(new Float32Array([1, 0, 0]), { k: 1, mode: 'lexical' })).rejects.toThrow(/mode 'lexical' searches texts/);
    await expect(index.search(new Float32Array([1, 0, 0]), { k: 1, mode: 'nope' as 'vector' })).rejects.toThrow(/options.mode must be one of hybrid, vector, lexical/);
    await index.close();
  });

  test('vectors with their texts are indexed lexically; lexical: false keeps no lexical side', async () => {
    const index = await engine.createIndex({ dir: tempDir(), dims: 3 });
    await index.addBatch([
      { id: 'a', vector: [1, 0, 0], text: 'alpha particle' },
      { id: 'b', vector: [0, 1, 0], text: 'beta decay' },
    ]);
    expect((await index.search('decay', { k: 1, mode: 'lexical' })).map((h) => h.id)).toEqual(['b']);
    expect(index.stats().lexical?.docs).toBe(2);
    await index.close();
    const none = await engine.createIndex({ dir: tempDir(), lexical: false });
    expect(await none.addBatch([{ id: 'x', text: 'zzqxv qqzzyx' }])).toEqual([{ state: 'failed', id: 'x', code: 'NO_KNOWN_WORDS', reason: expect.any(String) }]);
    await none.addBatch([{ id: 'y', text: 'a cat' }]);
    await expect(none.search('cat', { mode: 'hybrid', k: 1 })).rejects.toThrow(/created with lexical: false/);
    expect(none.stats().lexical).toBeNull();
    await none.close();
  });

  test('fusion options are checked', async () => {
    const index = await textIndex();
    await expect(index.search('cat', { fusion: { method: 'max' as 'rrf' } })).rejects.toThrow(/options.fusion.method must be one of rrf, weighted/);
    await expect(index.search('cat', { fusion: { k: 0 } })).rejects.toThrow(/options.fusion.k must be a number in \[1, 10000\]/);
    await expect(index.search('cat', { fusion: { weights: { vector: -1 } } })).rejects.toThrow(/options.fusion.weights.vector must be a number in \[0, 1000\]/);
    const weighted = await index.search('domesticated mammal', { k: 2, fusion: { method: 'weighted', weights: { vector: 0, lexical: 1 } } });
    expect(weighted.map((h) => h.id).sort()).toEqual(['cat', 'dog']);
    await index.close();
  });
});

describe('filters, namespaces, deletes', () => {
  test('namespaces and metadata filters apply to both sides', async () => {
    const index = await textIndex();
    const other = await index.search('small vessel water', { k: 1, namespace: 'other' });
    expect(other.map((h) => h.id)).toEqual(['boat']);
    const machines = await index.search('small mammal', { k: 4, filter: { kind: 'machine' } });
    expect(machines.length).toBeGreaterThan(0);
    expect(machines.every((h) => h.metadata?.kind === 'machine')).toBe(true);
    const all = await index.retrieveAll('small', { namespaces: { default: 2, other: 1 } });
    expect(all.other?.map((h) => h.id)).toEqual(['boat']);
    expect(all.default?.length).toBe(2);
    expect(all.default?.every((h) => h.namespace === 'default')).toBe(true);
    await index.close();
  });

  test('deleted and replaced documents never come back from either side, before or after a save', async () => {
    const index = await textIndex();
    await index.delete(['oov', 'cat']);
    await index.upsert([{ id: 'dog', text: 'a road vehicle' }]);
    const check = async (ix: VectorIndex): Promise<void> => {
      for (const mode of ['hybrid', 'vector', 'lexical'] as const) {
        const hits = await ix.search('foraminifers domesticated carnivorous mammal fur barks pet', { k: ix.count, mode });
        expect(hits.map((h) => h.id)).not.toContain('oov');
        expect(hits.map((h) => h.id)).not.toContain('cat');
      }
      const lex = await ix.search('barks pet', { k: ix.count, mode: 'lexical' });
      expect(lex.map((h) => h.id)).toEqual([]);
    };
    await check(index);
    await index.save();
    const again = await engine.openIndex(dirOf(index));
    await check(again);
    expect(again.stats().lexical?.docs).toBe(4);
    await again.close();
    await index.close();
  });
});

function dirOf(index: VectorIndex): string {
  const dir = dirs.get(index);
  if (dir === undefined) throw new Error('not an index of textIndex()');
  return dir;
}
