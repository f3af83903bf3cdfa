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

/** BM25 parameters. */
export interface Bm25Params {
  /** Term-frequency saturation. */
  readonly k1: number;
  /** Length normalisation, in [0, 1]. */
  readonly b: number;
}

/** A label's slot when it holds no document. */
const kAbsent = 0xffffffff;
/** Postings of removed documents are purged once they outnumber the live ones and are at least this many. */
const kMinCompactPostings = 4096;

/** Top-k lexical hits, best first. */
export interface LexicalHits {
  readonly labels: number[];
  readonly scores: number[];
}

/** Figures of the in-memory index. */
export interface LexicalMemoryStats {
  readonly docs: number;
  readonly terms: number;
  readonly postings: number;
  /** An estimate of the bytes the structures hold (V8 arrays of small integers at 8 bytes an element). */
  readonly memoryBytes: number;
}

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
  #normFor = { docs: -1, length: -1, slots: -1 };

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
      (this.#postings[id] as number[]).push(label, f);
    }
    this.#fwdUsed += 2 * n;
    this.#docStart[label] = start;
    this.#docTerms[label] = n;
    this.#docLen[label] = length;
    this.#docCount++;
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
    this.#termIds = new Map();
    this.#termNames = [];
    this.#df = [];
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
   * The k best documents for the query terms.
   * @param terms - the query's terms (repeats count once).
   * @param k - hits wanted.
   * @param allowed - a label bitset (bit `label & 7` of byte `label >> 3`); undefined for every label.
   * @returns labels and scores, best first (ties by label).
   */
  search(terms: readonly string[], k: number, allowed?: Uint8Array): LexicalHits {
    const N = this.#docCount;
    if (N === 0 || k <= 0) return { labels: [], scores: [] };
    const { k1 } = this.params;
    const slots = this.#docStart.length;
    if (this.#acc.length < slots) this.#acc = new Float64Array(slots);
    const norm = this.#lengthNorms();
    const acc = this.#acc;
    let touched = this.#touched;
    let nTouched = 0;
    const docStart = this.#docStart;
    // Postings of removed documents are skipped only when there are any.
    const skipDead = this.#deadPostings > 0;
    for (const term of new Set(terms)) {
      const id = this.#termIds.get(term);
      if (id === undefined) continue;
      const df = this.#df[id] as number;
      if (df === 0) continue;
      const w = Math.log(1 + (N - df + 0.5) / (df + 0.5)) * (k1 + 1);
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
        acc[label] = before + (w * tf) / (tf + (norm[label] as number));
      }
    }
    const top = topK(touched, nTouched, acc, k);
    for (let i = 0; i < nTouched; i++) acc[touched[i] as number] = 0;
    return top;
  }

  /** The per-label length normalisation, recomputed only when N, the total length or the label slots changed. */
  #lengthNorms(): Float64Array {
    const f = this.#normFor;
    const slots = this.#docStart.length;
    if (f.docs === this.#docCount && f.length === this.#totalLength && f.slots === slots) return this.#norm;
    const { k1, b } = this.params;
    const avgdl = this.#totalLength / Math.max(1, this.#docCount) || 1;
    if (this.#norm.length < slots) this.#norm = new Float64Array(slots);
    const norm = this.#norm;
    const len = this.#docLen;
    for (let label = 0; label < slots; label++) norm[label] = k1 * (1 - b + (b * (len[label] as number)) / avgdl);
    this.#normFor = { docs: this.#docCount, length: this.#totalLength, slots };
    return norm;
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

/** The k labels of highest score among the first `n` of `touched` (ties: lower label first), best first. */
function topK(touched: Int32Array, n: number, acc: Float64Array, k: number): LexicalHits {
  const better = (a: number, b: number): boolean => {
    const sa = acc[a] as number;
    const sb = acc[b] as number;
    return sa > sb || (sa === sb && a < b);
  };
  // A min-heap (worst on top) of at most k labels.
  const heap: number[] = [];
  const down = (i0: number): void => {
    let i = i0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < heap.length && better(heap[w] as number, heap[l] as number)) w = l;
      if (r < heap.length && better(heap[w] as number, heap[r] as number)) w = r;
      if (w === i) return;
      [heap[i], heap[w]] = [heap[w] as number, heap[i] as number];
      i = w;
    }
  };
  for (let t = 0; t < n; t++) {
    const label = touched[t] as number;
    if (heap.length < k) {
      heap.push(label);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!better(heap[p] as number, heap[i] as number)) break;
        [heap[i], heap[p]] = [heap[p] as number, heap[i] as number];
        i = p;
      }
    } else if (better(label, heap[0] as number)) {
      heap[0] = label;
      down(0);
    }
  }
  heap.sort((a, b) => (better(a, b) ? -1 : 1));
  return { labels: heap, scores: heap.map((l) => acc[l] as number) };
}
