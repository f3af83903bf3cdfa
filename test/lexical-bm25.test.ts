/**
 * The lexical index on its own: the tokenizer's rules, BM25 scores against
 * a plain reference computation, removals equal a rebuild, the segment
 * codec round-trips and refuses damaged bytes, and fusion orders
 * hand-made rankings as the formulas say.
 */
import { describe, expect, test } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import { LexicalIndex } from '../src/index/lexical/bm25.js';
import { fuseRankings } from '../src/index/lexical/fusion.js';
import { resolveFusionOptions, resolveLexicalOptions } from '../src/index/lexical/options.js';
import { decodeSegment, encodeSegment } from '../src/index/lexical/segment.js';
import { kEnglishStopWords, lexicalTerms } from '../src/index/lexical/tokenize.js';
import { topK } from '../src/index/lexical/top-k.js';
import { mulberry32 } from '../src/random.js';

const kDocs = [
  'The quick brown fox jumps over the lazy dog',
  'A lazy dog sleeps all day; dogs sleeping is normal',
  "Foxes are quick and clever: the fox's den is hidden",
  'Brown bears and brown foxes share the forest',
  'Quantum chromodynamics describes quarks and gluons',
  'The forest is quiet at night',
  'Dog dog dog dog dog',
];

/** BM25 as the textbook writes it, over term lists, with Lucene's idf; a term repeated in the query counts each time (Robertson's qtf with k3 → ∞, as Lucene's clauses do). */
function referenceScores(docs: readonly string[][], query: readonly string[], k1: number, b: number): number[] {
  const N = docs.length;
  const avgdl = docs.reduce((a, d) => a + d.length, 0) / N;
  return docs.map((d) => {
    let score = 0;
    for (const t of query) {
      const df = docs.filter((x) => x.includes(t)).length;
      if (df === 0) continue;
      const tf = d.filter((x) => x === t).length;
      if (tf === 0) continue;
      const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
      score += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * d.length) / avgdl));
    }
    return score;
  });
}

function indexOf(docs: readonly string[], params = { k1: 1.2, b: 0.75 }, labels?: readonly number[]): LexicalIndex {
  const index = new LexicalIndex(params);
  for (const [i, d] of docs.entries()) index.add(labels?.[i] ?? i, lexicalTerms(d));
  return index;
}

describe('tokenizer', () => {
  test('words as GloVe splits them, possessives dropped, Porter2 stems, digits and other scripts kept', () => {
    expect(lexicalTerms("The Fox's dens, running DOGS! don't 3.14 Ünïcode naïve x86", 'none')).toEqual(['the', 'fox', 'den', 'run', 'dog', 'dont', '3', '14', 'ünïcode', 'naïve', 'x86']);
    expect(lexicalTerms('definitions defined defining')).toEqual(['definit', 'defin', 'defin']);
    expect(lexicalTerms('   ...  ')).toEqual([]);
    expect(lexicalTerms('a'.repeat(100))[0]?.length).toBe(64);
  });

  test("the 'english' stop words (the default) are Lucene's 33, dropped before stemming, whatever their case or possessive", () => {
    expect(kEnglishStopWords.size).toBe(33);
    expect(lexicalTerms("The Fox's dens, running DOGS! don't 3.14 Ünïcode naïve x86")).toEqual(['fox', 'den', 'run', 'dog', 'dont', '3', '14', 'ünïcode', 'naïve', 'x86']);
    expect(lexicalTerms('To be, OR NOT to be: that is the question')).toEqual(['question']);
    expect(lexicalTerms("It's these; THEIR thing, Then there")).toEqual(['thing']);
    // Not stop words: words that only stem like one, or contain one.
    expect(lexicalTerms('theirs thereby antithesis tos')).toEqual(['their', 'therebi', 'antithesi', 'tos']);
    expect(lexicalTerms('To be or not to be', 'none')).toEqual(['to', 'be', 'or', 'not', 'to', 'be']);
  });
});

describe('BM25', () => {
  test.each([
    ['fox', { k1: 1.2, b: 0.75 }],
    ['lazy dog', { k1: 1.2, b: 0.75 }],
    ['brown forest quarks', { k1: 2, b: 0.3 }],
    ['dog', { k1: 0.5, b: 1 }],
    ['the the forest', { k1: 1.2, b: 0 }],
  ])('scores of %j equal the reference computation (%j)', (query, params) => {
    const index = indexOf(kDocs, params);
    const terms = kDocs.map((d) => lexicalTerms(d));
    const want = referenceScores(terms, lexicalTerms(query), params.k1, params.b);
    const got = index.search(lexicalTerms(query), kDocs.length);
    const matching = want.flatMap((s, i) => (s > 0 ? [i] : []));
    expect(got.labels.length).toBe(matching.length);
    expect([...got.labels].sort()).toEqual(matching);
    for (const [j, label] of got.labels.entries()) expect(got.scores[j]).toBeCloseTo(want[label] ?? Number.NaN, 10);
    for (let j = 1; j < got.scores.length; j++) expect((got.scores[j - 1] ?? 0) >= (got.scores[j] ?? 0)).toBe(true);
  });

  test('pruned top-k equals the reference on a Zipf corpus, after removals and with a filter', () => {
    // Terms drawn from a Zipf-like law so that common terms have long postings (where pruning acts).
    let seed = 20261203;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const vocab = Array.from({ length: 400 }, (_, i) => `t${i}`);
    const word = (): string => vocab[Math.min(vocab.length - 1, Math.floor(1 / (rand() * 0.98 + 0.02)) - 1)] as string;
    const docs = Array.from({ length: 1500 }, () => Array.from({ length: 3 + Math.floor(rand() * 25) }, word));
    const index = new LexicalIndex({ k1: 1.2, b: 0.75 });
    for (const [i, d] of docs.entries()) index.add(i, d);
    // Removals, and a document of the same length at a fresh label (no count changes, a new norm).
    const live = new Map(docs.map((d, i) => [i, d]));
    for (let i = 0; i < docs.length; i += 7) {
      index.remove(i);
      live.delete(i);
    }
    const replacement = [...(docs[3] as string[])].reverse();
    index.remove(3);
    live.delete(3);
    index.add(5000, replacement);
    live.set(5000, replacement);
    const labels = [...live.keys()];
    const allowed = new Uint8Array((5001 >> 3) + 1);
    for (const label of labels) if (label % 3 !== 0) allowed[label >> 3] = (allowed[label >> 3] as number) | (1 << (label & 7));
    // The reference's document frequencies, counted once (the textbook function recounts them per document).
    const liveDocs = [...live.values()];
    const df = new Map<string, number>();
    for (const d of liveDocs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
    const avgdl = liveDocs.reduce((a, d) => a + d.length, 0) / liveDocs.length;
    const reference = (query: readonly string[]): number[] =>
      liveDocs.map((d) => {
        let score = 0;
        for (const t of query) {
          const tf = d.filter((x) => x === t).length;
          if (tf === 0) continue;
          const n = df.get(t) as number;
          score += (Math.log(1 + (liveDocs.length - n + 0.5) / (n + 0.5)) * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * d.length) / avgdl));
        }
        return score;
      });
    const textbook = referenceScores(liveDocs, ['t0', 't5', 't40'], 1.2, 0.75);
    for (const [i, score] of reference(['t0', 't5', 't40']).entries()) expect(score).toBeCloseTo(textbook[i] as number, 12);
    // Queries of Zipf words (t0 is in most documents: the pruned path), then of rarer words only (none in a quarter of the documents: the plain walk).
    const rare = (): string => vocab[30 + Math.floor(rand() * 370)] as string;
    for (let q = 0; q < 90; q++) {
      const query = Array.from({ length: 1 + Math.floor(rand() * 12) }, q < 60 ? word : rare);
      const want = reference(query);
      for (const filtered of [false, true]) {
        const ranked = labels
          .map((label, i) => ({ label, score: want[i] as number }))
          .filter((x) => x.score > 0 && (!filtered || x.label % 3 !== 0))
          .sort((a, b) => b.score - a.score || a.label - b.label)
          .slice(0, 10);
        const got = index.search(query, 10, filtered ? allowed : undefined);
        expect(got.labels.length).toBe(ranked.length);
        for (const [j, x] of ranked.entries()) {
          expect(got.scores[j]).toBeCloseTo(x.score, 9);
          // Labels may swap only where two scores tie to within rounding.
          if (got.labels[j] !== x.label) expect(Math.abs((want[labels.indexOf(got.labels[j] as number)] as number) - x.score)).toBeLessThan(1e-9);
        }
      }
    }
  });

  test('k and an allowed-label bitset cut the hits', () => {
    const index = indexOf(kDocs);
    const all = index.search(['dog'], 10);
    expect(all.labels).toEqual([6, 1, 0]);
    expect(index.search(['dog'], 1).labels).toEqual([6]);
    const allowed = new Uint8Array(1);
    allowed[0] = (1 << 0) | (1 << 1);
    expect(index.search(['dog'], 10, allowed).labels).toEqual([1, 0]);
  });

  test('removing documents (and compacting) scores exactly as an index built from the rest', () => {
    const index = indexOf(kDocs);
    index.remove(1);
    index.remove(4);
    index.add(9, lexicalTerms('a lazy fox sleeps'));
    const rest = [0, 2, 3, 5, 6];
    const rebuilt = indexOf([...rest.map((i) => kDocs[i] as string), 'a lazy fox sleeps'], undefined, [...rest, 9]);
    for (const q of ['fox', 'lazy dog sleeps', 'quarks', 'forest brown']) {
      const a = index.search(lexicalTerms(q), 10);
      const b = rebuilt.search(lexicalTerms(q), 10);
      expect(a.labels).toEqual(b.labels);
      for (const [j, sc] of a.scores.entries()) expect(sc).toBeCloseTo(b.scores[j] ?? Number.NaN, 12);
    }
    expect(index.search(['quark'], 10).labels).toEqual([]);
    index.compact();
    expect(index.memoryStats()).toMatchObject({ docs: 6, postings: rebuilt.memoryStats().postings, terms: rebuilt.memoryStats().terms });
    expect(index.search(lexicalTerms('lazy dog'), 10)).toEqual(rebuilt.search(lexicalTerms('lazy dog'), 10));
  });
});

describe('adding texts', () => {
  test.each(['english', 'none'] as const)('addText (stop words %s) indexes exactly the terms of add(lexicalTerms(text)), before and after a compaction renumbers the terms', (stopWords) => {
    const texts = [...kDocs, "The Fox's fox FOXES, don't", 'to be or not to be', 'Ünïcode naïve x86 3.14 ünïcode'];
    const byText = new LexicalIndex({ k1: 1.2, b: 0.75 });
    const byTerms = new LexicalIndex({ k1: 1.2, b: 0.75 });
    const termsOf = (label: number, index: LexicalIndex): Array<[string, number]> => {
      const out: Array<[string, number]> = [];
      index.forEachTerm(label, (term, tf) => out.push([term, tf]));
      return out;
    };
    const check = (): void => {
      for (const [label] of texts.entries()) expect(termsOf(label, byText)).toEqual(termsOf(label, byTerms));
      expect(byText.memoryStats()).toEqual(byTerms.memoryStats());
      for (const q of ['fox', 'lazy dog', 'ünïcode x86', 'be']) expect(byText.search(lexicalTerms(q, stopWords), 10)).toEqual(byTerms.search(lexicalTerms(q, stopWords), 10));
    };
    texts.forEach((t, i) => {
      byText.addText(i, t, stopWords);
      byTerms.add(i, lexicalTerms(t, stopWords));
    });
    check();
    for (const label of [0, 2, 3]) {
      byText.remove(label);
      byTerms.remove(label);
    }
    byText.compact();
    byTerms.compact();
    texts.forEach((t, i) => {
      if (i % 2 === 0) {
        byText.addText(i, `${t} fox again`, stopWords);
        byTerms.add(i, lexicalTerms(`${t} fox again`, stopWords));
      }
    });
    check();
  });
});

describe('segments', () => {
  test('round-trip, skipping labels that are no longer live', () => {
    const index = indexOf(kDocs);
    const bytes = encodeSegment(index, [0, 1, 2, 3, 4, 5, 6]);
    const back = new LexicalIndex({ k1: 1.2, b: 0.75 });
    const labels = decodeSegment(bytes, back, (l) => l !== 4, 7, 'seg');
    expect([...labels]).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(back.docCount).toBe(6);
    index.remove(4);
    expect(back.search(lexicalTerms('dog fox forest'), 10)).toEqual(index.search(lexicalTerms('dog fox forest'), 10));
  });

  test.each([
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 3)],
    ['bad magic', (b: Buffer) => Buffer.concat([Buffer.from('XXXX'), b.subarray(4)])],
    ['huge counts', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt32LE(0xffffffff, 8); return c; }],
    ['label out of range', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt32LE(1000, c.length - 8 * 3 - 12); return c; }],
    ['term index out of range', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt32LE(99999, c.length - 8); return c; }],
    ['zero tf', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt32LE(0, c.length - 4); return c; }],
  ])('a damaged segment (%s) is refused with ERR_INDEX_CORRUPT', (_name, damage) => {
    const index = indexOf(['alpha beta', 'beta gamma gamma']);
    const bytes = damage(encodeSegment(index, [0, 1]));
    let error: unknown;
    try {
      decodeSegment(bytes, new LexicalIndex({ k1: 1.2, b: 0.75 }), () => true, 2, 'lexical-000000.seg');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VecforgeError);
    expect((error as VecforgeError).code).toBe('ERR_INDEX_CORRUPT');
    expect((error as VecforgeError).message).toMatch(/^lexical-000000\.seg: /);
  });
});

describe('selection', () => {
  test('topK equals a full sort (score down, label up), with many tied scores, for k below, at and above the count', () => {
    const rand = mulberry32(11);
    const acc = new Float64Array(5000);
    for (const n of [0, 1, 7, 300, 4000]) {
      const labels = Array.from({ length: n }, () => Math.floor(rand() * 5000)).filter((l, i, a) => a.indexOf(l) === i);
      for (const l of labels) acc[l] = 1 + Math.floor(rand() * 20) / 4;
      const touched = Int32Array.from(labels);
      for (const k of [1, 10, 50, labels.length, labels.length + 5]) {
        if (k === 0) continue;
        const want = [...labels].sort((a, b) => (acc[b] as number) - (acc[a] as number) || a - b).slice(0, k);
        const got = topK(touched, touched.length, acc, k);
        expect(got.labels).toEqual(want);
        expect(got.scores).toEqual(want.map((l) => acc[l]));
      }
      for (const l of labels) acc[l] = 0;
    }
  });

  test('fuseRankings equals fusing every candidate and sorting, for both methods and any k', () => {
    const rand = mulberry32(5);
    for (let trial = 0; trial < 40; trial++) {
      const side = (n: number): Array<{ key: number; score: number }> => {
        // Small keys, and keys spread over the uint32 labels (other hash slots).
        const keys = Array.from({ length: n }, () => Math.floor(rand() * 80) * (trial % 2 === 0 ? 1 : 53_687_091));
        return keys.map((key, i) => ({ key, score: 10 - i / 3 }));
      };
      const vector = side(Math.floor(rand() * 50));
      const lexical = side(Math.floor(rand() * 50));
      for (const method of ['rrf', 'weighted'] as const) {
        const fusion = resolveFusionOptions({ method, k: 1 + Math.floor(rand() * 60), weights: { vector: rand() * 2, lexical: rand() * 2 } }, 1);
        // Reference: a key's first (best) rank on each side; weighted uses min-max over each side's list.
        const norm = (list: Array<{ score: number }>, sc: number): number => {
          const lo = Math.min(...list.map((c) => c.score));
          const hi = Math.max(...list.map((c) => c.score));
          return hi > lo ? (sc - lo) / (hi - lo) : 1;
        };
        const all = new Map<number, { key: number; score: number; vectorRank?: number; lexicalRank?: number }>();
        vector.forEach((c, i) => {
          if (!all.has(c.key)) all.set(c.key, { key: c.key, score: method === 'rrf' ? fusion.weights.vector / (fusion.k + i + 1) : fusion.weights.vector * norm(vector, c.score), vectorRank: i + 1 });
        });
        lexical.forEach((c, i) => {
          const s = method === 'rrf' ? fusion.weights.lexical / (fusion.k + i + 1) : fusion.weights.lexical * norm(lexical, c.score);
          const e = all.get(c.key);
          if (e === undefined) all.set(c.key, { key: c.key, score: s, lexicalRank: i + 1 });
          else if (e.lexicalRank === undefined) {
            e.score += s;
            e.lexicalRank = i + 1;
          }
        });
        const r = (x: number | undefined): number => x ?? Number.POSITIVE_INFINITY;
        const sorted = [...all.values()].sort((a, b) => b.score - a.score || r(a.vectorRank) - r(b.vectorRank) || r(a.lexicalRank) - r(b.lexicalRank) || a.key - b.key);
        for (const k of [1, 5, 10, 200]) {
          const got = fuseRankings(vector, lexical, fusion, k);
          expect(got.map((c) => [c.key, c.vectorRank, c.lexicalRank])).toEqual(sorted.slice(0, k).map((c) => [c.key, c.vectorRank, c.lexicalRank]));
          for (const [j, c] of got.entries()) expect(c.score).toBeCloseTo(sorted[j]?.score ?? Number.NaN, 12);
        }
      }
    }
  });
});

describe('fusion', () => {
  const vector = [{ key: 1, score: 0.9 }, { key: 2, score: 0.8 }, { key: 3, score: 0.1 }];
  const lexical = [{ key: 3, score: 12 }, { key: 4, score: 6 }, { key: 1, score: 3 }];

  test('RRF: Σ w / (k + rank), ties to the better vector rank', () => {
    const fused = fuseRankings(vector, lexical, resolveFusionOptions({ method: 'rrf', k: 60 }, 4), 4);
    // 1: 1/61 + 1/63; 3: 1/63 + 1/61; 2: 1/62; 4: 1/62.
    expect(fused.map((f) => f.key)).toEqual([1, 3, 2, 4]);
    expect(fused[0]).toEqual({ key: 1, score: 1 / 61 + 1 / 63, vectorRank: 1, lexicalRank: 3 });
    expect(fused[3]).toEqual({ key: 4, score: 1 / 62, vectorRank: undefined, lexicalRank: 2 });
    const lexHeavy = fuseRankings(vector, lexical, resolveFusionOptions({ method: 'rrf', k: 1, weights: { vector: 1, lexical: 3 } }, 2), 2);
    expect(lexHeavy.map((f) => f.key)).toEqual([3, 1]);
  });

  test('weighted: Σ w × min-max normalised score', () => {
    const fused = fuseRankings(vector, lexical, resolveFusionOptions({ method: 'weighted', weights: { vector: 1, lexical: 0.5 } }, 4), 4);
    const nv = (s: number): number => (s - 0.1) / 0.8;
    const nl = (s: number): number => (s - 3) / 9;
    const want = new Map([
      [1, nv(0.9) + 0.5 * nl(3)],
      [2, nv(0.8)],
      [3, nv(0.1) + 0.5 * nl(12)],
      [4, 0.5 * nl(6)],
    ]);
    expect(fused.map((f) => f.key)).toEqual([...want.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k));
    for (const f of fused) expect(f.score).toBeCloseTo(want.get(f.key) ?? Number.NaN, 12);
  });

  test('options are checked', () => {
    expect(() => resolveLexicalOptions({ k1: -1 })).toThrow('options.lexical.k1 must be a number in [0, 100], got -1');
    expect(() => resolveLexicalOptions({ b: 2 })).toThrow('options.lexical.b must be a number in [0, 1], got 2');
    expect(() => resolveLexicalOptions({ c: 2 })).toThrow('options.lexical.c is not a known lexical option; known: k1, b, stopWords');
    expect(() => resolveLexicalOptions({ stopWords: 'french' })).toThrow('options.lexical.stopWords must be one of english, none, got "french"');
    expect(resolveLexicalOptions(undefined)).toEqual({ k1: 1.2, b: 0.75, stopWords: 'english' });
    expect(resolveLexicalOptions({ stopWords: 'none' })).toEqual({ k1: 1.2, b: 0.75, stopWords: 'none' });
    expect(() => resolveFusionOptions({ candidates: 3 }, 10)).toThrow('options.fusion.candidates must be a number in [10, 65536], got 3');
    expect(resolveFusionOptions(undefined, 10)).toEqual({ method: 'convex', k: 60, weights: { vector: 1, lexical: 1 }, candidates: 50 });
  });
});
