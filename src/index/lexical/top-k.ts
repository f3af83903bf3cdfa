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

/** The k labels of highest score among the first `n` of `touched` (ties: lower label first), best first. */
export function topK(touched: Int32Array, n: number, acc: Float64Array, k: number): LexicalHits {
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
