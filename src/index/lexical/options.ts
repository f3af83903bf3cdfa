/**
 * Options of the lexical index (in threes: `LexicalOptions` in types, the
 * frozen defaults and the resolved type here), of hybrid searches, and the
 * types the BM25 index (bm25.ts) shares with its callers.
 */
import { kStopWordLists, type StopWords } from './tokenize.js';

/** Options of an index's lexical (BM25) side: `IndexOptions.lexical`. */
export interface LexicalOptions {
  /** BM25 term-frequency saturation, a number in [0, 100]. @default 1.2 */
  readonly k1?: number;
  /** BM25 length normalisation, a number in [0, 1]. @default 0.75 */
  readonly b?: number;
  /**
   * Words left out of the index and of queries: `'english'`, the 33 stop
   * words of Lucene's English analyzer ("a", "of", "the", …), or `'none'`.
   * Fixed when the index is created. @default 'english'
   */
  readonly stopWords?: StopWords;
}

/** Resolved lexical options. */
export interface ResolvedLexicalOptions {
  readonly k1: number;
  readonly b: number;
  readonly stopWords: StopWords;
}

/** What `index.stats().lexical` reports. */
export interface LexicalStats {
  readonly docs: number;
  /** Distinct terms of the live documents. */
  readonly terms: number;
  /** Live postings (document, term pairs). */
  readonly postings: number;
  /** An estimate of the bytes the in-memory structures hold. */
  readonly memoryBytes: number;
  readonly k1: number;
  readonly b: number;
  readonly stopWords: StopWords;
  readonly segments: number;
  /** Bytes of the segment files of the version last saved or opened. */
  readonly diskBytes: number;
  readonly memoryBytesPerDoc: number;
  readonly diskBytesPerDoc: number;
}

/** BM25 parameters. */
export interface Bm25Params {
  /** Term-frequency saturation. */
  readonly k1: number;
  /** Length normalisation, in [0, 1]. */
  readonly b: number;
}

/**
 * Corpus statistics a search is scored with instead of the index's own:
 * those of several indexes together (the shards of a sharded index), so
 * that their BM25 scores are those of one index over all their documents.
 */
export interface CorpusStats {
  /** Live documents. */
  readonly docs: number;
  /** Their total length in terms. */
  readonly totalLength: number;
  /** The document frequency of each term searched. */
  readonly df: ReadonlyMap<string, number>;
}

/** Figures of the in-memory index. */
export interface LexicalMemoryStats {
  readonly docs: number;
  readonly terms: number;
  readonly postings: number;
  /** An estimate of the bytes the structures hold (V8 arrays of small integers at 8 bytes an element). */
  readonly memoryBytes: number;
}

/** The defaults of {@link LexicalOptions}. */
export const kDefaultLexicalOptions: ResolvedLexicalOptions = Object.freeze({ k1: 1.2, b: 0.75, stopWords: 'english' as const });

/** The ranges of the BM25 parameters. */
export const kLexicalRanges = Object.freeze({ k1: Object.freeze([0, 100] as const), b: Object.freeze([0, 1] as const) });

/** The search modes. */
export const kSearchModes = Object.freeze(['hybrid', 'vector', 'lexical'] as const);
/** How a search ranks: fused, the graph alone, or BM25 alone. */
export type SearchMode = (typeof kSearchModes)[number];

/** The fusion methods. */
export const kFusionMethods = Object.freeze(['rrf', 'weighted', 'convex'] as const);

/** How a hybrid search fuses its two rankings: `SearchOptions.fusion`. */
export interface FusionOptions {
  /**
   * `'rrf'`: reciprocal-rank fusion, Σ weight / (k + rank) over the sides
   * that found a document; `'weighted'`: Σ weight × the side's score
   * min-max normalised over its candidates; `'convex'`: every candidate of
   * either side scored on both sides, each side's scores divided by their
   * theoretical range up to the best candidate (BM25 x / max, cosine
   * (x + 1) / (max + 1)), then their mean weighted by `weights` (TM2C2,
   * Bruch et al. 2023; `k` unused). @default 'convex'
   */
  readonly method?: (typeof kFusionMethods)[number];
  /** RRF's rank constant, an integer in [1, 10000]. @default 60 */
  readonly k?: number;
  /** Weight of each side, numbers in [0, 1000]. @default { vector: 1, lexical: 1 } */
  readonly weights?: { readonly vector?: number; readonly lexical?: number };
  /** Candidates taken from each side before fusing, an integer in [1, 65536], at least the search's k. @default max(k, 50) */
  readonly candidates?: number;
}

/** Resolved fusion options. */
export interface ResolvedFusionOptions {
  readonly method: (typeof kFusionMethods)[number];
  readonly k: number;
  readonly weights: { readonly vector: number; readonly lexical: number };
  readonly candidates: number;
}

/** The defaults of {@link FusionOptions} (`candidates` depends on k). */
export const kDefaultFusionOptions = Object.freeze({ method: 'convex' as const, k: 60, weights: Object.freeze({ vector: 1, lexical: 1 }), minCandidates: 50 });

function numberIn(name: string, value: unknown, [min, max]: readonly [number, number]): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number in [${min}, ${max}], got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${value}`);
  return value;
}

function intIn(name: string, value: unknown, [min, max]: readonly [number, number]): number {
  const v = numberIn(name, value, [min, max]);
  if (!Number.isInteger(v)) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

/**
 * Checks `IndexOptions.lexical`.
 * @param value - as given: an object, false (no lexical index), or undefined/null (the defaults).
 * @returns the resolved options, or null for no lexical index.
 * @throws {TypeError | RangeError} naming the option.
 */
export function resolveLexicalOptions(value: unknown): ResolvedLexicalOptions | null {
  if (value === false) return null;
  if (value === undefined || value === null || value === true) return kDefaultLexicalOptions;
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('options.lexical must be an object { k1?, b?, stopWords? } or false');
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== 'k1' && key !== 'b' && key !== 'stopWords') throw new TypeError(`options.lexical.${key} is not a known lexical option; known: k1, b, stopWords`);
  const stopWords = o.stopWords ?? kDefaultLexicalOptions.stopWords;
  if (!(kStopWordLists as readonly unknown[]).includes(stopWords)) throw new RangeError(`options.lexical.stopWords must be one of ${kStopWordLists.join(', ')}, got ${JSON.stringify(stopWords)}`);
  return Object.freeze({
    k1: numberIn('options.lexical.k1', o.k1 ?? kDefaultLexicalOptions.k1, kLexicalRanges.k1),
    b: numberIn('options.lexical.b', o.b ?? kDefaultLexicalOptions.b, kLexicalRanges.b),
    stopWords: stopWords as StopWords,
  });
}

/**
 * Checks `SearchOptions.mode`.
 * @param value - as given.
 * @param fallback - the index's default mode.
 * @returns the mode.
 * @throws {RangeError} for an unknown mode.
 */
export function resolveSearchMode(value: unknown, fallback: SearchMode): SearchMode {
  if (value === undefined) return fallback;
  if (!(kSearchModes as readonly unknown[]).includes(value)) throw new RangeError(`options.mode must be one of ${kSearchModes.join(', ')}, got ${JSON.stringify(value)}`);
  return value as SearchMode;
}

/**
 * Checks `SearchOptions.fusion`.
 * @param value - as given.
 * @param k - the search's k.
 * @returns the resolved options.
 * @throws {TypeError | RangeError} naming the option.
 */
export function resolveFusionOptions(value: unknown, k: number): ResolvedFusionOptions {
  const d = kDefaultFusionOptions;
  if (value === undefined) return { method: d.method, k: d.k, weights: d.weights, candidates: Math.max(k, d.minCandidates) };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('options.fusion must be an object { method?, k?, weights?, candidates? }');
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!['method', 'k', 'weights', 'candidates'].includes(key)) throw new TypeError(`options.fusion.${key} is not a known fusion option; known: method, k, weights, candidates`);
  const method = o.method ?? d.method;
  if (!(kFusionMethods as readonly unknown[]).includes(method)) throw new RangeError(`options.fusion.method must be one of ${kFusionMethods.join(', ')}, got ${JSON.stringify(method)}`);
  const w = o.weights ?? {};
  if (w === null || typeof w !== 'object' || Array.isArray(w)) throw new TypeError('options.fusion.weights must be an object { vector?, lexical? }');
  const wr = w as Record<string, unknown>;
  for (const key of Object.keys(wr)) if (key !== 'vector' && key !== 'lexical') throw new TypeError(`options.fusion.weights.${key} is not a side; known: vector, lexical`);
  return {
    method: method as ResolvedFusionOptions['method'],
    k: intIn('options.fusion.k', o.k ?? d.k, [1, 10_000]),
    weights: {
      vector: numberIn('options.fusion.weights.vector', wr.vector ?? d.weights.vector, [0, 1000]),
      lexical: numberIn('options.fusion.weights.lexical', wr.lexical ?? d.weights.lexical, [0, 1000]),
    },
    candidates: intIn('options.fusion.candidates', o.candidates ?? Math.max(k, d.minCandidates), [k, 65_536]),
  };
}
