/**
 * Selection for BM25 searches (bm25.ts): the k best partial scores kept as
 * they grow (a min-heap with label slots), counting the documents above a floor,
 * and the final top k of the accumulator.
 */

/** Top-k lexical hits, best first. */
export interface LexicalHits {
  readonly labels: number[];
  readonly scores: number[];
}

/**
 * How many of the first `n` touched labels have a score of at least `floor`.
 * @param acc - scores by label.
 * @param touched - labels.
 * @param n - how many of them.
 * @param floor - the floor.
 * @returns the count.
 */
export function candidatesAbove(acc: Float64Array, touched: Int32Array, n: number, floor: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if ((acc[touched[i] as number] as number) >= floor) c++;
  return c;
}


/**
 * The k best (label, score) pairs of a search's partial scores, as they
 * grow: a min-heap by score, with each label's heap slot so that a label
 * already held moves instead of entering twice.
 */
export class PartialTop {
  scores = new Float64Array(0);
  labels = new Int32Array(0);
  held = 0;
  #k = 0;
  /** Per label: its heap slot, or -1. */
  #slot = new Int32Array(0);

  reset(k: number, slots: number): void {
    if (this.scores.length < k) {
      this.scores = new Float64Array(k);
      this.labels = new Int32Array(k);
    }
    if (this.#slot.length < slots) this.#slot = new Int32Array(slots).fill(-1);
    this.#k = k;
    this.held = 0;
  }

  /** Forgets the labels held (their slots back to -1). */
  clear(): void {
    for (let i = 0; i < this.held; i++) this.#slot[this.labels[i] as number] = -1;
    this.held = 0;
  }

  /** Offers a label's new (higher) score. */
  offer(label: number, score: number): void {
    const at = this.#slot[label] as number;
    if (at >= 0) {
      // Held already: its score only grew, so it sinks towards the leaves.
      this.scores[at] = score;
      this.#down(at);
      return;
    }
    if (this.held < this.#k) {
      const i = this.held++;
      this.#place(i, label, score);
      this.#up(i);
      return;
    }
    this.#slot[this.labels[0] as number] = -1;
    this.#place(0, label, score);
    this.#down(0);
  }

  #place(i: number, label: number, score: number): void {
    this.labels[i] = label;
    this.scores[i] = score;
    this.#slot[label] = i;
  }

  #swap(i: number, j: number): void {
    const l = this.labels[i] as number;
    const s = this.scores[i] as number;
    this.#place(i, this.labels[j] as number, this.scores[j] as number);
    this.#place(j, l, s);
  }

  #up(i0: number): void {
    let i = i0;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((this.scores[p] as number) <= (this.scores[i] as number)) return;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i0: number): void {
    let i = i0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.held && (this.scores[l] as number) < (this.scores[m] as number)) m = l;
      if (r < this.held && (this.scores[r] as number) < (this.scores[m] as number)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}

/** Scratch of {@link topK}: a min-heap of (score, label), worst on top. */
let gHeapScores = new Float64Array(64);
let gHeapLabels = new Int32Array(64);

/**
 * The k labels of highest score among the first `n` of `touched` (ties:
 * lower label first), best first: a min-heap of k whose worst entry is a
 * threshold most labels fail at the first comparison.
 * @param touched - labels.
 * @param n - how many of them.
 * @param acc - scores by label.
 * @param k - hits wanted.
 * @returns labels and scores.
 */
export function topK(touched: Int32Array, n: number, acc: Float64Array, k: number): LexicalHits {
  if (gHeapScores.length < k) {
    gHeapScores = new Float64Array(k);
    gHeapLabels = new Int32Array(k);
  }
  const hs = gHeapScores;
  const hl = gHeapLabels;
  // Entry i ranks below (score, label): a lower score, or the same score and a higher label.
  const below = (i: number, score: number, label: number): boolean => (hs[i] as number) < score || ((hs[i] as number) === score && (hl[i] as number) > label);
  // Places (score, label) at the root of a heap of `size` and sifts it down past every child that ranks below it.
  const siftDown = (score: number, label: number, size: number): void => {
    let i = 0;
    for (;;) {
      const a = 2 * i + 1;
      if (a >= size) break;
      const c = a + 1 < size && below(a + 1, hs[a] as number, hl[a] as number) ? a + 1 : a;
      if (!below(c, score, label)) break;
      hs[i] = hs[c] as number;
      hl[i] = hl[c] as number;
      i = c;
    }
    hs[i] = score;
    hl[i] = label;
  };
  let held = 0;
  for (let t = 0; t < n; t++) {
    const label = touched[t] as number;
    const score = acc[label] as number;
    if (held === k) {
      // Replaces the worst, if it ranks above it.
      if (below(0, score, label)) siftDown(score, label, k);
      continue;
    }
    // Sift up: the entry rises while its parent ranks above it.
    let i = held++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (below(p, score, label)) break;
      hs[i] = hs[p] as number;
      hl[i] = hl[p] as number;
      i = p;
    }
    hs[i] = score;
    hl[i] = label;
  }
  // The worst leaves the heap first: filled from the end, the lists are best first.
  const labels = new Array<number>(held);
  const scores = new Array<number>(held);
  for (let m = held; m > 0; m--) {
    labels[m - 1] = hl[0] as number;
    scores[m - 1] = hs[0] as number;
    siftDown(hs[m - 1] as number, hl[m - 1] as number, m - 1);
  }
  return { labels, scores };
}
