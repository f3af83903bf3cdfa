/**
 * The lexical index in memory: BM25 over the terms of each document
 * (tokenize.ts), kept by the same 32-bit labels as the graph and the doc
 * store. Labels are never reused (every write takes a fresh one), so a
 * removed document's postings can stay where they are until a compaction:
 * searches skip labels that are no longer present.
 *
 * Layout: a term dictionary (term → id, its live document frequency, and
 * its postings as one packed array of label, tf pairs), and a forward store
 * (per label: where its term, tf pairs start in one flat Uint32Array, how
 * many, and the document's length in terms), which removals, compactions
 * and segment writes read.
 *
 * Scoring: for each distinct query term t present in document d,
 * idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d| / avgdl)), with
 * idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5)) (Lucene's, never negative),
 * N the live documents and avgdl their mean length.
 */

import { loadNativeBm25Search, type NativeBm25Search } from '../../native/kernels.js';
import type { Bm25Params, CorpusStats, LexicalMemoryStats } from './options.js';
import { grow, PostingArena } from './postings.js';
import { TermCounter } from './term-counter.js';
import type { StopWords } from './tokenize.js';
import type { LexicalHits } from './top-k.js';
import { Bm25Walk, type PostingsView, type QueryTerm, type ResolvedHits, type ResolvedTerms } from './walk.js';

export type { Bm25Params, CorpusStats, LexicalMemoryStats } from './options.js';
export type { LexicalHits } from './top-k.js';
export type { ResolvedHits, ResolvedTerms } from './walk.js';

/** A label's slot when it holds no document. */
const kAbsent = 0xffffffff;
/** Postings of removed documents are purged once they outnumber the live ones and are at least this many. */
const kMinCompactPostings = 4096;

/** Queries per native thread at least, in {@link LexicalIndex.searchMany}. */
const kQueriesPerThread = 16;

/** The native kernel's argument and result arrays. */
interface NativeIo {
  readonly lists: Uint32Array;
  readonly weights: Float64Array;
  readonly offsets: Uint32Array;
  readonly labels: Int32Array;
  readonly scores: Float64Array;
  readonly counts: Uint32Array;
}

/** Postings a single query walks at least to go to the native kernel (a batch of several always goes). */
const kNativeMinPostings = 2048;

/** Results kept between searches at most (a bigger batch gets arrays of its own). */
const kKeptNativeResults = 1 << 16;

function nativeIo(terms: number, queries: number, k: number): NativeIo {
  const results = Math.max(64, queries * k);
  return {
    lists: new Uint32Array(Math.max(64, 2 * terms)),
    weights: new Float64Array(Math.max(32, terms)),
    offsets: new Uint32Array(Math.max(64, queries + 1)),
    labels: new Int32Array(results),
    scores: new Float64Array(results),
    counts: new Uint32Array(Math.max(64, queries)),
  };
}

/** BM25 over labelled documents. */
export class LexicalIndex {
  readonly params: Bm25Params;
  #termIds = new Map<string, number>();
  #termNames: string[] = [];
  #df: number[] = [];
  /** Per term: label, tf, label, tf, … (removed labels stay until a compaction). */
  #lists = new PostingArena();
  /** The native walk, when the binding is built (undefined: the JavaScript one, same scores). */
  readonly #kernel: NativeBm25Search | undefined = loadNativeBm25Search();
  /**
   * The kernel's arguments and results, kept between searches: V8 keeps a
   * small typed array on its heap until native code asks for its data,
   * which then moves it (microseconds per array, more than a short query's
   * whole walk).
   */
  #io: NativeIo = nativeIo(0, 0, 0);
  #livePostings = 0;
  #deadPostings = 0;
  #fwd = new Uint32Array(1024);
  #fwdUsed = 0;
  #docStart = new Uint32Array(1024).fill(kAbsent);
  #docTerms = new Uint32Array(1024);
  #docLen = new Uint32Array(1024);
  #docCount = 0;
  #totalLength = 0;
  /** The JavaScript walk and its scratch, where the native kernel is not built. */
  readonly #js = new Bm25Walk();
  /** Per label k1·(1 − b + b·|d|/avgdl), for the N and total length it was computed at; rebuilt when they change. */
  #norm = new Float64Array(0);
  #normFor = -1;
  /** The mean document length the norms were computed with. */
  #normAvgdl = Number.NaN;
  /** Bumped by every insert and removal: the norms are recomputed when it moved. */
  #changes = 0;
  /** The smallest length norm of a present document (a bound for pruning). */
  #minNorm = 0;
  /** Per term: the largest tf it has had in any document (never lowered on removal: an upper bound). */
  #tfMax: number[] = [];
  /** Texts' terms counted by term id ({@link LexicalIndex.addText}); its memo is cleared by a compaction, which renumbers terms. */
  readonly #words = new TermCounter((term) => this.#intern(term));

  /** @param params - k1 and b. */
  constructor(params: Bm25Params) {
    this.params = params;
  }

  /** Documents present. */
  get docCount(): number {
    return this.#docCount;
  }

  /** Whether every posting list holds ascending labels (the native walk then takes the labels a cache-sized block at a time). */
  get listsSorted(): boolean {
    return this.#lists.sorted;
  }

  /** One past the largest label slot allocated. */
  get labelSlots(): number {
    return this.#docStart.length;
  }

  /**
   * Whether a label holds a document.
   * @param label - the label.
   * @returns true when present.
   */
  has(label: number): boolean {
    return label < this.#docStart.length && this.#docStart[label] !== kAbsent;
  }

  #intern(term: string): number {
    let id = this.#termIds.get(term);
    if (id === undefined) {
      id = this.#termNames.length;
      this.#termIds.set(term, id);
      this.#termNames.push(term);
      this.#df.push(0);
      this.#tfMax.push(0);
      this.#lists.addTerm();
    }
    return id;
  }

  /**
   * Adds a document from its terms (repeats counted), replacing what the label held.
   * @param label - its label.
   * @param terms - its terms, in text order.
   */
  add(label: number, terms: readonly string[]): void {
    // Removed first: a removal may compact, which renumbers the terms.
    this.remove(label);
    const tf = new Map<string, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    const ids: number[] = [];
    const tfs: number[] = [];
    for (const [term, n] of tf) {
      ids.push(this.#intern(term));
      tfs.push(n);
    }
    this.#insert(label, terms.length, ids, tfs);
  }

  /**
   * Adds a document from its text, replacing what the label held: the same
   * terms as `add(label, lexicalTerms(text, stopWords))`, with each word's
   * term id memoised (words repeat heavily), and no per-text maps.
   * @param label - its label.
   * @param text - its text.
   * @param stopWords - the stop words dropped (an index keeps one list).
   */
  addText(label: number, text: string, stopWords: StopWords): void {
    this.remove(label);
    const { ids, tfs, length } = this.#words.count(text, stopWords);
    this.#insert(label, length, ids, tfs);
  }

  /**
   * Adds a document from counted terms (a segment being loaded).
   * @param label - its label.
   * @param length - its length in terms (the sum of `tfs`).
   * @param terms - its distinct terms.
   * @param tfs - their frequencies, in the same order.
   */
  addCounted(label: number, length: number, terms: readonly string[], tfs: ArrayLike<number>): void {
    this.remove(label);
    const ids = terms.map((t) => this.#intern(t));
    this.#insert(label, length, ids, Array.from(tfs));
  }

  /** Inserts a document at a label that holds none, its terms interned. */
  #insert(label: number, length: number, ids: readonly number[], tfs: readonly number[]): void {
    const n = ids.length;
    this.#fwd = grow(this.#fwd, this.#fwdUsed + 2 * n);
    this.#docStart = grow(this.#docStart, label + 1, kAbsent);
    this.#docTerms = grow(this.#docTerms, label + 1);
    this.#docLen = grow(this.#docLen, label + 1);
    const start = this.#fwdUsed;
    for (let i = 0; i < n; i++) {
      const id = ids[i] as number;
      const f = tfs[i] as number;
      this.#fwd[start + 2 * i] = id;
      this.#fwd[start + 2 * i + 1] = f;
      this.#df[id] = (this.#df[id] as number) + 1;
      if (f > (this.#tfMax[id] as number)) this.#tfMax[id] = f;
      this.#lists.push(id, label, f);
    }
    this.#fwdUsed += 2 * n;
    this.#docStart[label] = start;
    this.#docTerms[label] = n;
    this.#docLen[label] = length;
    this.#docCount++;
    this.#changes++;
    this.#totalLength += length;
    this.#livePostings += n;
  }

  /**
   * Removes a label's document, if it has one.
   * @param label - the label.
   * @returns whether there was one.
   */
  remove(label: number): boolean {
    if (!this.has(label)) return false;
    const start = this.#docStart[label] as number;
    const n = this.#docTerms[label] as number;
    for (let i = 0; i < n; i++) {
      const id = this.#fwd[start + 2 * i] as number;
      this.#df[id] = (this.#df[id] as number) - 1;
    }
    this.#docStart[label] = kAbsent;
    this.#docCount--;
    this.#changes++;
    this.#totalLength -= this.#docLen[label] as number;
    this.#livePostings -= n;
    this.#deadPostings += n;
    if (this.#deadPostings >= kMinCompactPostings && this.#deadPostings > this.#livePostings) this.compact();
    return true;
  }

  /**
   * Calls `fn` with each distinct term of a label's document and its frequency.
   * @param label - a present label.
   * @param fn - receives term and tf.
   * @returns the document's length in terms.
   */
  forEachTerm(label: number, fn: (term: string, tf: number) => void): number {
    if (!this.has(label)) return 0;
    const start = this.#docStart[label] as number;
    const n = this.#docTerms[label] as number;
    for (let i = 0; i < n; i++) fn(this.#termNames[this.#fwd[start + 2 * i] as number] as string, this.#fwd[start + 2 * i + 1] as number);
    return this.#docLen[label] as number;
  }

  /**
   * Rebuilds the dictionary, postings and forward store from the present
   * documents only (what a rebuild from their terms would make).
   */
  compact(): void {
    this.#changes++;
    const labels: number[] = [];
    for (let label = 0; label < this.#docStart.length; label++) if (this.#docStart[label] !== kAbsent) labels.push(label);
    const old = { fwd: this.#fwd, start: this.#docStart, terms: this.#docTerms, len: this.#docLen, names: this.#termNames };
    this.#words.clear();
    this.#termIds = new Map();
    this.#termNames = [];
    this.#df = [];
    this.#tfMax = [];
    this.#lists.clear();
    this.#livePostings = 0;
    this.#deadPostings = 0;
    this.#fwd = new Uint32Array(Math.max(1024, this.#fwdUsed));
    this.#fwdUsed = 0;
    this.#docStart = new Uint32Array(old.start.length).fill(kAbsent);
    this.#docTerms = new Uint32Array(old.start.length);
    this.#docLen = new Uint32Array(old.start.length);
    this.#docCount = 0;
    this.#totalLength = 0;
    for (const label of labels) {
      const start = old.start[label] as number;
      const n = old.terms[label] as number;
      const ids: number[] = [];
      const tfs: number[] = [];
      for (let i = 0; i < n; i++) {
        ids.push(this.#intern(old.names[old.fwd[start + 2 * i] as number] as string));
        tfs.push(old.fwd[start + 2 * i + 1] as number);
      }
      this.#insert(label, old.len[label] as number, ids, tfs);
    }
    this.#lists.pack();
  }

  /**
   * The k best documents for the query terms: exact BM25 top-k. Terms are
   * walked in decreasing idf order (ties by the term) into a per-label
   * accumulator, on the native kernel (native/bm25_ops.cc) where the
   * binding is built and the query walks at least kNativeMinPostings
   * postings, else in JavaScript (walk.ts); both sum each document's terms
   * in that order with the same arithmetic, so the scores are bit-equal.
   * The JavaScript walk prunes when a term is in over a quarter of the
   * documents (MaxScore-style: the k best partial scores are kept as they
   * grow; once no untouched document can reach the k-th and completing the
   * touched ones still in the running from the forward store is cheaper
   * than the long lists left, those are not walked). Measured on GCIDE
   * (126,230 entries, 1,000 definition-length queries, k 50): the native
   * walk 2.2× faster than the JavaScript one; without stop words, pruning
   * is 1.2× faster than the plain JavaScript walk at k 10; with the English
   * stop words no list is that long.
   * @param terms - the query's terms (repeats count once).
   * @param k - hits wanted.
   * @param allowed - a label bitset (bit `label & 7` of byte `label >> 3`); undefined for every label.
   * @param corpus - statistics to score with instead of this index's own (several indexes searched as one); undefined for its own.
   * @returns labels and scores, best first (ties by label).
   */
  search(terms: readonly string[], k: number, allowed?: Uint8Array, corpus?: CorpusStats): LexicalHits {
    if (this.#docCount === 0 || k <= 0) return { labels: [], scores: [] };
    const norm = this.#lengthNorms(corpus === undefined ? this.#avgdl(this.#totalLength, this.#docCount) : this.#avgdl(corpus.totalLength, corpus.docs));
    const query = this.#queryTerms(terms, corpus);
    // One short query costs less in JavaScript than the call into the binding.
    if (this.#kernel !== undefined && this.#postingsOf(query) >= kNativeMinPostings) return this.#native([query], k, allowed, norm, 1)[0] as LexicalHits;
    return this.#js.walk(this.#view(), query, k, allowed, norm);
  }

  /**
   * {@link search} for several queries with this index's own statistics;
   * with the native kernel, on up to `threads` native threads (the calling
   * thread waits: the index cannot change meanwhile).
   * @param queries - each query's terms.
   * @param k - hits wanted per query.
   * @param allowed - a label bitset; undefined for every label.
   * @param threads - native threads at most (at least kQueriesPerThread queries each).
   * @returns each query's hits, as {@link search} gives them.
   */
  searchMany(queries: ReadonlyArray<readonly string[]>, k: number, allowed?: Uint8Array, threads = 1): ResolvedHits[] {
    const prepared = queries.map((terms) => this.#queryTerms(terms));
    const stamp = this.#changes;
    const resolved = (hits: LexicalHits[]): ResolvedHits[] => hits.map((h, i) => ({ ...h, resolved: { stamp, terms: queries[i] as readonly string[], query: prepared[i] as QueryTerm[] } }));
    if (this.#docCount === 0 || k <= 0) return resolved(queries.map(() => ({ labels: [], scores: [] })));
    const norm = this.#lengthNorms(this.#avgdl(this.#totalLength, this.#docCount));
    if (this.#kernel !== undefined && (prepared.length > 1 || (prepared.length === 1 && this.#postingsOf(prepared[0] as QueryTerm[]) >= kNativeMinPostings))) return resolved(this.#native(prepared, k, allowed, norm, threads));
    const view = this.#view();
    return resolved(prepared.map((query) => this.#js.walk(view, query, k, allowed, norm)));
  }

  /**
   * The BM25 scores of given documents for a query: what {@link search} would give them.
   * @param terms - the query's terms.
   * @param labels - the documents (a label without one scores 0).
   * @param corpus - statistics to score with instead of this index's own; undefined for its own.
   * @returns one score per label.
   */
  scoreLabels(terms: readonly string[] | ResolvedTerms, labels: ArrayLike<number>, corpus?: CorpusStats): Float64Array {
    const out = new Float64Array(labels.length);
    if (this.#docCount === 0 || labels.length === 0) return out;
    const norm = this.#lengthNorms(corpus === undefined ? this.#avgdl(this.#totalLength, this.#docCount) : this.#avgdl(corpus.totalLength, corpus.docs));
    // Terms resolved by a search of this index as it still is are reused (ids change with a compaction).
    const query = 'stamp' in terms && terms.stamp === this.#changes && corpus === undefined ? terms.query : this.#queryTerms('stamp' in terms ? terms.terms : terms, corpus);
    this.#js.score(this.#view(), query, labels, norm, out);
    return out;
  }

  /** A query's terms present in the index, highest weight first (ties by the term), with each one's weight and the most it can add to a document. */
  #queryTerms(terms: readonly string[], corpus?: CorpusStats): QueryTerm[] {
    const N = corpus?.docs ?? this.#docCount;
    const { k1 } = this.params;
    const query: QueryTerm[] = [];
    // A term repeated in the query counts as often as it appears (as Lucene's clauses do).
    const qtf = new Map<string, number>();
    for (const term of terms) qtf.set(term, (qtf.get(term) ?? 0) + 1);
    for (const [term, times] of qtf) {
      const id = this.#termIds.get(term);
      if (id === undefined) continue;
      const localDf = this.#df[id] as number;
      if (localDf === 0) continue;
      const df = Math.max(localDf, corpus?.df.get(term) ?? localDf);
      const w = Math.log(1 + (N - df + 0.5) / (df + 0.5)) * (k1 + 1) * times;
      const tfMax = this.#tfMax[id] as number;
      query.push({ id, term, w, bound: (w * tfMax) / (tfMax + this.#minNorm) });
    }
    return query.sort((a, b) => b.w - a.w || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
  }

  /** The postings a query's terms hold (removed documents' included). */
  #postingsOf(query: readonly QueryTerm[]): number {
    let n = 0;
    for (const { id } of query) n += (this.#lists.length[id] as number) / 2;
    return n;
  }

  /** What the JavaScript walk reads. */
  #view(): PostingsView {
    const lists = this.#lists;
    return { values: lists.values, listStart: lists.start, listLength: lists.length, docStart: this.#docStart, docTerms: this.#docTerms, fwd: this.#fwd, docCount: this.#docCount, terms: this.#termNames.length };
  }

  /** Queries on the native kernel (native/bm25_ops.cc): the plain walk, in the same order and arithmetic as the JavaScript walk's (walk.ts). */
  #native(queries: ReadonlyArray<readonly QueryTerm[]>, k: number, allowed: Uint8Array | undefined, norm: Float64Array, threads: number): LexicalHits[] {
    const kernel = this.#kernel as NativeBm25Search;
    const want = Math.min(k, this.#docCount);
    let total = 0;
    for (const q of queries) total += q.length;
    let io = this.#io;
    if (io.weights.length < total || io.offsets.length < queries.length + 1 || io.labels.length < queries.length * want) {
      io = nativeIo(total, queries.length, want);
      if (queries.length * want <= kKeptNativeResults) this.#io = io;
    }
    const { lists, weights, offsets, labels, scores, counts } = io;
    const arena = this.#lists;
    let t = 0;
    queries.forEach((q, i) => {
      for (const { id, w } of q) {
        lists[2 * t] = arena.start[id] as number;
        lists[2 * t + 1] = arena.length[id] as number;
        weights[t++] = w;
      }
      offsets[i + 1] = t;
    });
    kernel(arena.values, lists, offsets, queries.length, weights, norm, allowed, arena.sorted, want, labels, scores, counts, Math.max(1, Math.min(threads, Math.floor(queries.length / kQueriesPerThread))));
    return queries.map((_, i) => {
      const from = i * want;
      const n = counts[i] as number;
      return { labels: Array.from(labels.subarray(from, from + n)), scores: Array.from(scores.subarray(from, from + n)) };
    });
  }

  /**
   * The per-label length normalisation, recomputed after any insert or
   * removal (a document added at a new label within the slots changes no
   * count when another of the same length went, but its norm is new); −1
   * for a label without a document, which the walks skip.
   */
  #lengthNorms(avgdl: number): Float64Array {
    const slots = this.#docStart.length;
    if (this.#normFor === this.#changes && this.#normAvgdl === avgdl && this.#norm.length >= slots) return this.#norm;
    const { k1, b } = this.params;
    if (this.#norm.length < slots) this.#norm = new Float64Array(slots);
    const norm = this.#norm;
    const len = this.#docLen;
    let minNorm = Number.POSITIVE_INFINITY;
    const start = this.#docStart;
    for (let label = 0; label < slots; label++) {
      if (start[label] === kAbsent) {
        // Marks the label removed for the walks, which read its norm anyway.
        norm[label] = -1;
        continue;
      }
      const n = k1 * (1 - b + (b * (len[label] as number)) / avgdl);
      norm[label] = n;
      if (n < minNorm) minNorm = n;
    }
    this.#minNorm = Number.isFinite(minNorm) ? minNorm : 0;
    this.#normFor = this.#changes;
    this.#normAvgdl = avgdl;
    return norm;
  }

  /** The mean document length of a corpus (1 for an empty one). */
  #avgdl(totalLength: number, docs: number): number {
    return totalLength / Math.max(1, docs) || 1;
  }

  /**
   * This index's part of the corpus statistics of a search over several indexes.
   * @param terms - the query's terms.
   * @returns live documents, their total length, and each term's live document frequency.
   */
  corpusStats(terms: readonly string[]): CorpusStats {
    const df = new Map<string, number>();
    for (const term of terms) {
      const id = this.#termIds.get(term);
      df.set(term, id === undefined ? 0 : (this.#df[id] as number));
    }
    return { docs: this.#docCount, totalLength: this.#totalLength, df };
  }

  /**
   * Figures of the structures.
   * @returns counts and an estimate of their memory.
   */
  memoryStats(): LexicalMemoryStats {
    let termChars = 0;
    let terms = 0;
    for (let id = 0; id < this.#termNames.length; id++) {
      termChars += (this.#termNames[id] as string).length;
      if ((this.#df[id] as number) > 0) terms++;
    }
    const dictionary = this.#termNames.length * (16 + 24 + 32 + 8 + 8) + termChars * 2;
    const memoryBytes = dictionary + this.#lists.allocated * 4 + this.#lists.start.byteLength * 3 + this.#fwd.byteLength + this.#docStart.byteLength * 3;
    return { docs: this.#docCount, terms, postings: this.#livePostings, memoryBytes };
  }
}
