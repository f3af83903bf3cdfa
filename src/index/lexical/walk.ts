/**
 * The JavaScript BM25 walk of the lexical index (bm25.ts): the portable
 * twin of the native kernel (native/bm25_ops.cc), with the same scores bit
 * for bit, plus MaxScore-style pruning where a query term's list is long
 * enough for it to pay. It owns the per-search scratch (the score
 * accumulator, the touched labels, the partial top k); the index hands it
 * a view of its postings and forward store for each search.
 */
import { candidatesAbove, type LexicalHits, PartialTop, topK } from './top-k.js';

/** About what completing one document from the forward store costs, in postings walked. */
const kLookupCost = 24;

/** A search prunes when a query term is in more than 1 / kPruneShare of the documents. */
const kPruneShare = 4;

/** How many times a search counts the documents still in the running while it walks postings. */
const kThetaRecomputes = 4;

/** A query term present in the index: its id, weight idf · (k1 + 1), and the most it can add to one document. */
export interface QueryTerm {
  readonly id: number;
  readonly term: string;
  readonly w: number;
  readonly bound: number;
}

/** A query's terms as an index resolved them (ids, weights), and the index's change count then. */
export interface ResolvedTerms {
  readonly stamp: number;
  readonly terms: readonly string[];
  readonly query: readonly QueryTerm[];
}

/** A search's hits and its resolved terms, which `LexicalIndex.scoreLabels` reuses while the index is unchanged. */
export interface ResolvedHits extends LexicalHits {
  readonly resolved: ResolvedTerms;
}

/** What a walk reads of the index: the postings arena, the forward store, and counts. */
export interface PostingsView {
  /** The arena's (label, tf) pairs, and each term's run in it. */
  readonly values: Uint32Array;
  readonly listStart: Uint32Array;
  readonly listLength: Uint32Array;
  /** Per label: where its (term, tf) pairs start in `fwd` (0xffffffff when absent), and how many. */
  readonly docStart: Uint32Array;
  readonly docTerms: Uint32Array;
  readonly fwd: Uint32Array;
  readonly docCount: number;
  /** Terms in the dictionary. */
  readonly terms: number;
}

/** A score accumulator and the scratch of the pruned phase, reused by every search (searches are synchronous). */
export class Bm25Walk {
  #acc = new Float64Array(0);
  #touched = new Int32Array(1024);
  /** Per term id: its position among a query's pruned terms, or -1 (reset after each search). */
  #queryPos = new Int32Array(0);
  /** Per label: completed in the pruned phase of the running search (reset after it). */
  #finished = new Uint8Array(0);
  /** The running search's best partial scores, and in its pruned phase its best final ones. */
  #top = new PartialTop();
  #finalTop = new PartialTop();
  /** A document's tf of each query term, in {@link Bm25Walk.score}. */
  #tfs = new Uint32Array(64);

  /**
   * BM25 of given documents for one query, from the forward store: each
   * label's terms looked up among the query's, summed in the query's order
   * with the walks' arithmetic, so a label both score gets the same bits.
   * @param view - the index's structures.
   * @param query - the query's terms, in the walks' order.
   * @param labels - the documents; a label without one scores 0.
   * @param norm - the per-label length norms (negative: removed).
   * @param out - receives one score per label.
   */
  score(view: PostingsView, query: readonly QueryTerm[], labels: ArrayLike<number>, norm: Float64Array, out: Float64Array): void {
    if (this.#queryPos.length < view.terms) this.#queryPos = new Int32Array(Math.max(view.terms, this.#queryPos.length * 2)).fill(-1);
    const pos = this.#queryPos;
    const n = query.length;
    for (let j = 0; j < n; j++) pos[(query[j] as QueryTerm).id] = j;
    if (this.#tfs.length < n) this.#tfs = new Uint32Array(Math.max(n, this.#tfs.length * 2));
    const tfs = this.#tfs;
    const { fwd, docStart, docTerms } = view;
    try {
      for (let i = 0; i < labels.length; i++) {
        const label = labels[i] as number;
        const nl = label < norm.length ? (norm[label] as number) : -1;
        if (nl < 0 || label >= docStart.length || docStart[label] === 0xffffffff) {
          out[i] = 0;
          continue;
        }
        tfs.fill(0, 0, n);
        const start = docStart[label] as number;
        const end = start + 2 * (docTerms[label] as number);
        for (let f = start; f < end; f += 2) {
          const j = pos[fwd[f] as number] as number;
          if (j >= 0) tfs[j] = fwd[f + 1] as number;
        }
        let s = 0;
        for (let j = 0; j < n; j++) {
          const tf = tfs[j] as number;
          if (tf > 0) s += ((query[j] as QueryTerm).w * tf) / (tf + nl);
        }
        out[i] = s;
      }
    } finally {
      for (let j = 0; j < n; j++) pos[(query[j] as QueryTerm).id] = -1;
    }
  }

  /** One query walked in JavaScript, pruned when a term's list is long enough for it to pay (see LexicalIndex.search). */
  walk(view: PostingsView, query: readonly QueryTerm[], k: number, allowed: Uint8Array | undefined, norm: Float64Array): LexicalHits {
    const slots = view.docStart.length;
    if (this.#acc.length < slots) this.#acc = new Float64Array(slots);
    const acc = this.#acc;
    const values = view.values;
    const listStart = view.listStart;
    const listLength = view.listLength;
    // rest[i]: the most the terms from i on can add to one document.
    const rest = new Float64Array(query.length + 1);
    for (let i = query.length - 1; i >= 0; i--) rest[i] = (rest[i + 1] as number) + (query[i]?.bound as number);
    let touched = this.#touched;
    let nTouched = 0;
    let next = 0;
    // Pruning pays only when some query term is in a large share of the
    // documents (its long list is what gets skipped); otherwise keeping the
    // partial top k costs more than it saves, and every list is walked.
    let longest = 0;
    for (const q of query) longest = Math.max(longest, (listLength[q.id] as number) / 2);
    // The k best partial scores, kept as they change (a min-heap with each
    // label's slot): its top is θ, a lower bound of the k-th best final score.
    const best = longest * kPruneShare > view.docCount ? this.#top : null;
    best?.reset(k, view.docStart.length);
    // Postings of the terms from i on: what walking them would cost.
    const restPostings = new Float64Array(query.length + 1);
    for (let i = query.length - 1; i >= 0; i--) restPostings[i] = (restPostings[i + 1] as number) + (listLength[(query[i] as QueryTerm).id] as number) / 2;
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
      const from = listStart[id] as number;
      const to = from + (listLength[id] as number);
      if (touched.length < nTouched + (to - from) / 2) {
        const grown = new Int32Array(Math.max(touched.length * 2, nTouched + (to - from) / 2));
        grown.set(touched.subarray(0, nTouched));
        touched = grown;
        this.#touched = grown;
      }
      // Hot loop: indexes are in range by construction, so values are read without `?? 0` guards.
      for (let i = from; i < to; i += 2) {
        const label = values[i] as number;
        const nl = norm[label] as number;
        // A removed document's norm is negative (bm25.ts): its postings stay until a compaction.
        if (nl < 0) continue;
        if (allowed !== undefined && ((allowed[label >> 3] as number) & (1 << (label & 7))) === 0) continue;
        const tf = values[i + 1] as number;
        const before = acc[label] as number;
        if (before === 0) touched[nTouched++] = label;
        const after = before + (w * tf) / (tf + nl);
        acc[label] = after;
        if (best !== null && (best.held < k || after > (best.scores[0] as number))) best.offer(label, after);
      }
    }
    const theta = best !== null && best.held === k ? (best.scores[0] as number) : 0;
    best?.clear();
    if (next < query.length) this.#finishCandidates(view, query, next, rest[next] as number, theta, touched, nTouched, k, norm);
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
  #finishCandidates(view: PostingsView, query: readonly QueryTerm[], from: number, remaining: number, theta0: number, touched: Int32Array, nTouched: number, k: number, norm: Float64Array): void {
    const acc = this.#acc;
    if (this.#queryPos.length < view.terms) this.#queryPos = new Int32Array(Math.max(view.terms, this.#queryPos.length * 2)).fill(-1);
    if (this.#finished.length < acc.length) this.#finished = new Uint8Array(acc.length);
    const pos = this.#queryPos;
    const finished = this.#finished;
    const left = query.length - from;
    for (let j = 0; j < left; j++) pos[query[from + j]?.id as number] = j;
    const tfs = new Uint32Array(left);
    const fwd = view.fwd;
    const docStart = view.docStart;
    const docTerms = view.docTerms;
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
}
