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

import type { Bm25Params, CorpusStats, LexicalMemoryStats } from './options.js';
import { TermCounter } from './term-counter.js';
import type { StopWords } from './tokenize.js';
import { candidatesAbove, type LexicalHits, PartialTop, topK } from './top-k.js';

export type { Bm25Params, CorpusStats, LexicalMemoryStats } from './options.js';
export type { LexicalHits } from './top-k.js';

/** A label's slot when it holds no document. */
const kAbsent = 0xffffffff;
/** Postings of removed documents are purged once they outnumber the live ones and are at least this many. */
const kMinCompactPostings = 4096;

/** About what completing one document from the forward store costs, in postings walked. */
const kLookupCost = 24;

/** A search prunes when a query term is in more than 1 / kPruneShare of the documents (see {@link LexicalIndex.search}). */
const kPruneShare = 4;

/** How many times a search counts the documents still in the running while it walks postings. */
const kThetaRecomputes = 4;

function grow(a: Uint32Array<ArrayBuffer>, need: number, fill?: number): Uint32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const out = new Uint32Array(Math.max(need, Math.ceil(a.length * 1.5), 1024));
  out.set(a);
  if (fill !== undefined) out.fill(fill, a.length);
  return out;
}

/** BM25 over labelled documents. */
export class LexicalIndex {
  readonly params: Bm25Params;
  #termIds = new Map<string, number>();
  #termNames: string[] = [];
  #df: number[] = [];
  /** Per term: label, tf, label, tf, … (removed labels stay until a compaction). */
  #postings: number[][] = [];
  #livePostings = 0;
  #deadPostings = 0;
  #fwd = new Uint32Array(1024);
  #fwdUsed = 0;
  #docStart = new Uint32Array(1024).fill(kAbsent);
  #docTerms = new Uint32Array(1024);
  #docLen = new Uint32Array(1024);
  #docCount = 0;
  #totalLength = 0;
  /** Per-label score accumulator and the labels it touched, reused by every search (searches are synchronous). */
  #acc = new Float64Array(0);
  #touched = new Int32Array(1024);
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
  /** Per term id: its position among a query's pruned terms, or -1 (reset after each search). */
  #queryPos = new Int32Array(0);
  /** Per label: completed in the pruned phase of the running search (reset after it). */
  #finished = new Uint8Array(0);
  /** Texts' terms counted by term id ({@link LexicalIndex.addText}); its memo is cleared by a compaction, which renumbers terms. */
  readonly #words = new TermCounter((term) => this.#intern(term));
  /** The running search's best partial scores, and in its pruned phase its best final ones. */
  #top = new PartialTop();
  #finalTop = new PartialTop();

  /** @param params - k1 and b. */
  constructor(params: Bm25Params) {
    this.params = params;
  }

  /** Documents present. */
  get docCount(): number {
    return this.#docCount;
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
      this.#postings.push([]);
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
      (this.#postings[id] as number[]).push(label, f);
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
    const labels: number[] = [];
    for (let label = 0; label < this.#docStart.length; label++) if (this.#docStart[label] !== kAbsent) labels.push(label);
    const old = { fwd: this.#fwd, start: this.#docStart, terms: this.#docTerms, len: this.#docLen, names: this.#termNames };
    this.#words.clear();
    this.#termIds = new Map();
    this.#termNames = [];
    this.#df = [];
    this.#tfMax = [];
    this.#postings = [];
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
  }

  /**
   * The k best documents for the query terms: exact BM25 top-k. Terms are
   * walked in decreasing idf order (ties by the term) into a per-label
   * accumulator. When a term is in over a quarter of the documents, with
   * MaxScore-style pruning: the k best partial scores are kept as they grow
   * (θ, the k-th); once θ exceeds what the terms left can add to any
   * document (each term's weight at its largest tf and the shortest live
   * document), and completing the touched documents that still can from
   * the forward store is cheaper than the postings left, the long lists
   * are not walked. Scores are summed in the same term order either way:
   * the exhaustive result, bit for bit. Measured on GCIDE (126,230 entries,
   * 1,000 definition-length queries): without stop words, pruning is 1.2×
   * faster than the plain walk at k 10; with the English stop words
   * dropped no list is that long, and the plain walk is 1.3–1.5× faster
   * than pruning would be (its heap costs more than it saves).
   * @param terms - the query's terms (repeats count once).
   * @param k - hits wanted.
   * @param allowed - a label bitset (bit `label & 7` of byte `label >> 3`); undefined for every label.
   * @param corpus - statistics to score with instead of this index's own (several indexes searched as one); undefined for its own.
   * @returns labels and scores, best first (ties by label).
   */
  search(terms: readonly string[], k: number, allowed?: Uint8Array, corpus?: CorpusStats): LexicalHits {
    if (this.#docCount === 0 || k <= 0) return { labels: [], scores: [] };
    const N = corpus?.docs ?? this.#docCount;
    const { k1 } = this.params;
    const slots = this.#docStart.length;
    if (this.#acc.length < slots) this.#acc = new Float64Array(slots);
    const norm = this.#lengthNorms(corpus === undefined ? this.#avgdl(this.#totalLength, this.#docCount) : this.#avgdl(corpus.totalLength, corpus.docs));
    const minNorm = this.#minNorm;
    const acc = this.#acc;
    const docStart = this.#docStart;
    // The query's terms present in the index, highest weight first.
    const query: Array<{ id: number; term: string; w: number; bound: number }> = [];
    for (const term of new Set(terms)) {
      const id = this.#termIds.get(term);
      if (id === undefined) continue;
      const localDf = this.#df[id] as number;
      if (localDf === 0) continue;
      const df = Math.max(localDf, corpus?.df.get(term) ?? localDf);
      const w = Math.log(1 + (N - df + 0.5) / (df + 0.5)) * (k1 + 1);
      const tfMax = this.#tfMax[id] as number;
      query.push({ id, term, w, bound: (w * tfMax) / (tfMax + minNorm) });
    }
    query.sort((a, b) => b.w - a.w || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
    // rest[i]: the most the terms from i on can add to one document.
    const rest = new Float64Array(query.length + 1);
    for (let i = query.length - 1; i >= 0; i--) rest[i] = (rest[i + 1] as number) + (query[i]?.bound as number);
    let touched = this.#touched;
    let nTouched = 0;
    // Postings of removed documents are skipped only when there are any.
    const skipDead = this.#deadPostings > 0;
    let next = 0;
    // Pruning pays only when some query term is in a large share of the
    // documents (its long list is what gets skipped); otherwise keeping the
    // partial top k costs more than it saves, and every list is walked.
    let longest = 0;
    for (const q of query) longest = Math.max(longest, (this.#postings[q.id] as number[]).length / 2);
    // The k best partial scores, kept as they change (a min-heap with each
    // label's slot): its top is θ, a lower bound of the k-th best final score.
    const best = longest * kPruneShare > this.#docCount ? this.#top : null;
    best?.reset(k, this.#docStart.length);
    // Postings of the terms from i on: what walking them would cost.
    const restPostings = new Float64Array(query.length + 1);
    for (let i = query.length - 1; i >= 0; i--) restPostings[i] = (restPostings[i + 1] as number) + (this.#postings[(query[i] as { id: number }).id] as number[]).length / 2;
    let looked = 0;
    for (; next < query.length; next++) {
      const remaining = rest[next] as number;
      const theta = best !== null && best.held === k ? (best.scores[0] as number) : 0;
      // Stop walking postings once no untouched document can reach θ and
      // completing the touched ones that still can (about kLookupCost
      // postings' worth each, from the forward store) is cheaper than the
      // postings left. The count is a pass over the touched labels: only
      // while those are fewer than the postings left, a few times at most.
      if (best !== null && remaining < theta && looked < kThetaRecomputes && (restPostings[next] as number) > nTouched) {
        looked++;
        if (candidatesAbove(acc, touched, nTouched, theta - remaining) * kLookupCost < (restPostings[next] as number)) break;
      }
      const { id, w } = query[next] as { id: number; w: number };
      const post = this.#postings[id] as number[];
      if (touched.length < nTouched + post.length / 2) {
        const grown = new Int32Array(Math.max(touched.length * 2, nTouched + post.length / 2));
        grown.set(touched.subarray(0, nTouched));
        touched = grown;
        this.#touched = grown;
      }
      // Hot loop: indexes are in range by construction, so values are read without `?? 0` guards.
      for (let i = 0; i < post.length; i += 2) {
        const label = post[i] as number;
        if (skipDead && docStart[label] === kAbsent) continue;
        if (allowed !== undefined && ((allowed[label >> 3] as number) & (1 << (label & 7))) === 0) continue;
        const tf = post[i + 1] as number;
        const before = acc[label] as number;
        if (before === 0) touched[nTouched++] = label;
        const after = before + (w * tf) / (tf + (norm[label] as number));
        acc[label] = after;
        if (best !== null && (best.held < k || after > (best.scores[0] as number))) best.offer(label, after);
      }
    }
    const theta = best !== null && best.held === k ? (best.scores[0] as number) : 0;
    best?.clear();
    if (next < query.length) this.#finishCandidates(query, next, rest[next] as number, theta, touched, nTouched, k, norm);
    const top = topK(touched, nTouched, acc, k);
    for (let i = 0; i < nTouched; i++) acc[touched[i] as number] = 0;
    return top;
  }

  /**
   * The pruned phase of {@link search}: the terms from `from` on are added
   * from the forward store to the documents that can still reach the top
   * k: θ starts as the k-th best partial score and rises with the final
   * scores completed; a document whose partial score plus what the
   * remaining terms can add stays below θ is skipped: its final score
   * cannot reach the k-th, and its partial one, lower still, never enters
   * the top k either.
   */
  #finishCandidates(query: ReadonlyArray<{ id: number; w: number }>, from: number, remaining: number, theta0: number, touched: Int32Array, nTouched: number, k: number, norm: Float64Array): void {
    const acc = this.#acc;
    if (this.#queryPos.length < this.#termNames.length) this.#queryPos = new Int32Array(Math.max(this.#termNames.length, this.#queryPos.length * 2)).fill(-1);
    if (this.#finished.length < acc.length) this.#finished = new Uint8Array(acc.length);
    const pos = this.#queryPos;
    const finished = this.#finished;
    const left = query.length - from;
    for (let j = 0; j < left; j++) pos[query[from + j]?.id as number] = j;
    const tfs = new Uint32Array(left);
    const fwd = this.#fwd;
    const docStart = this.#docStart;
    const docTerms = this.#docTerms;
    // The k best final scores so far (each label completes once): its top is θ once it holds k.
    const best = this.#finalTop;
    best.reset(k, acc.length);
    const done: number[] = [];
    const complete = (label: number): void => {
      tfs.fill(0);
      const start = docStart[label] as number;
      const end = start + 2 * (docTerms[label] as number);
      for (let f = start; f < end; f += 2) {
        const j = pos[fwd[f] as number] as number;
        if (j >= 0) tfs[j] = fwd[f + 1] as number;
      }
      let score = acc[label] as number;
      for (let j = 0; j < left; j++) {
        const tf = tfs[j] as number;
        if (tf > 0) score += ((query[from + j]?.w as number) * tf) / (tf + (norm[label] as number));
      }
      acc[label] = score;
      finished[label] = 1;
      done.push(label);
      if (best.held < k || score > (best.scores[0] as number)) best.offer(label, score);
    };
    try {
      let theta = theta0;
      for (let t = 0; t < nTouched; t++) {
        const label = touched[t] as number;
        if (finished[label] === 1 || (acc[label] as number) + remaining < theta) continue;
        complete(label);
        if (best.held === k) theta = Math.max(theta, best.scores[0] as number);
      }
    } finally {
      for (let j = 0; j < left; j++) pos[query[from + j]?.id as number] = -1;
      for (const label of done) finished[label] = 0;
      best.clear();
    }
  }

  /**
   * The per-label length normalisation, recomputed after any insert or
   * removal (a document added at a new label within the slots changes no
   * count when another of the same length went, but its norm is new).
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
      const n = k1 * (1 - b + (b * (len[label] as number)) / avgdl);
      norm[label] = n;
      if (n < minNorm && start[label] !== kAbsent) minNorm = n;
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
    let postingSlots = 0;
    for (let id = 0; id < this.#termNames.length; id++) {
      termChars += (this.#termNames[id] as string).length;
      postingSlots += (this.#postings[id] as number[]).length;
      if ((this.#df[id] as number) > 0) terms++;
    }
    const dictionary = this.#termNames.length * (16 + 24 + 32 + 8 + 8) + termChars * 2;
    const memoryBytes = dictionary + postingSlots * 8 + this.#fwd.byteLength + this.#docStart.byteLength * 3;
    return { docs: this.#docCount, terms, postings: this.#livePostings, memoryBytes };
  }
}
