/**
 * The postings of a lexical index (bm25.ts) in one Uint32Array arena: each
 * term's list is a contiguous run of (label, tf) pairs, so a search hands
 * (start, length) ranges to the native kernel (native/bm25_ops.cc) or walks
 * them in JavaScript, without a copy. A list that outgrows its run moves to
 * the arena's end with twice the room (or grows in place when it is last);
 * the arena is repacked, every list contiguous again with a little room,
 * once the space left behind outweighs the live postings.
 */

/** A list's first run, in arena values (2 per posting). */
const kFirstRun = 4;

/**
 * `a`, or a copy at least 1.5 times as long holding `need` values, new slots set to `fill` (0 by default).
 * @param a - the array.
 * @param need - values it must hold.
 * @param fill - the value of new slots.
 * @returns an array of length ≥ need.
 */
export function grow(a: Uint32Array<ArrayBuffer>, need: number, fill?: number): Uint32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const out = new Uint32Array(Math.max(need, Math.ceil(a.length * 1.5), 1024));
  out.set(a);
  if (fill !== undefined) out.fill(fill, a.length);
  return out;
}

/** Per-term posting lists in one arena. */
export class PostingArena {
  /** (label, tf) pairs; lists at `start[id]`, `length[id]` values used of `room[id]`. */
  values = new Uint32Array(1024);
  /** Arena values allocated. */
  #used = 0;
  /** Values in runs no list uses any more (moved-away lists, their unused room). */
  #abandoned = 0;
  start = new Uint32Array(1024);
  length = new Uint32Array(1024);
  #room = new Uint32Array(1024);
  #terms = 0;
  /** Whether every list's labels ascend (labels are handed out in order; a caller that adds out of order clears it until {@link clear}). */
  sorted = true;

  /** Terms with a list (ids 0 … terms − 1). */
  get terms(): number {
    return this.#terms;
  }

  /** Arena values allocated (used and room). */
  get allocated(): number {
    return this.#used;
  }

  /** Adds an empty list for the next term id. */
  addTerm(): void {
    const id = this.#terms++;
    this.start = grow(this.start, id + 1);
    this.length = grow(this.length, id + 1);
    this.#room = grow(this.#room, id + 1);
    this.start[id] = 0;
    this.length[id] = 0;
    this.#room[id] = 0;
  }

  /**
   * Appends a posting to a term's list.
   * @param id - the term.
   * @param label - the document.
   * @param tf - its frequency there.
   */
  push(id: number, label: number, tf: number): void {
    let at = (this.start[id] as number) + (this.length[id] as number);
    if ((this.length[id] as number) > 0 && label < (this.values[at - 2] as number)) this.sorted = false;
    if ((this.length[id] as number) + 2 > (this.#room[id] as number)) at = this.#grow(id);
    this.values[at] = label;
    this.values[at + 1] = tf;
    this.length[id] = (this.length[id] as number) + 2;
  }

  /** Gives a full list twice its room; returns where its next posting goes. */
  #grow(id: number): number {
    const start = this.start[id] as number;
    const len = this.length[id] as number;
    const room = this.#room[id] as number;
    const want = Math.max(kFirstRun, room * 2);
    if (room > 0 && start + room === this.#used) {
      // The last run in the arena grows in place.
      this.values = grow(this.values, start + want);
      this.#used = start + want;
    } else {
      if (this.#abandoned + room > this.#used - this.#abandoned && this.#used > 65_536) {
        this.pack();
        if (len + 2 <= (this.#room[id] as number)) return (this.start[id] as number) + len;
        return this.#grow(id);
      }
      this.values = grow(this.values, this.#used + want);
      this.values.copyWithin(this.#used, start, start + len);
      this.#abandoned += room;
      this.start[id] = this.#used;
      this.#used += want;
    }
    this.#room[id] = want;
    return (this.start[id] as number) + len;
  }

  /** Every list contiguous again, each with room for an eighth more (at least one posting). */
  pack(): void {
    let total = 0;
    for (let id = 0; id < this.#terms; id++) total += (this.length[id] as number) + Math.max(2, 2 * Math.ceil((this.length[id] as number) / 8));
    const out = new Uint32Array(Math.max(1024, total));
    let at = 0;
    for (let id = 0; id < this.#terms; id++) {
      const len = this.length[id] as number;
      const start = this.start[id] as number;
      out.set(this.values.subarray(start, start + len), at);
      this.start[id] = at;
      const room = len + Math.max(2, 2 * Math.ceil(len / 8));
      this.#room[id] = room;
      at += room;
    }
    this.values = out;
    this.#used = at;
    this.#abandoned = 0;
  }

  /** Drops every list and term. */
  clear(): void {
    this.values = new Uint32Array(1024);
    this.#used = 0;
    this.#abandoned = 0;
    this.#terms = 0;
    this.sorted = true;
  }
}
