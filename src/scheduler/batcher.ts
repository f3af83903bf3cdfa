/**
 * Cuts batches by token budget. Within windows of `sortWindow` items, items
 * are sorted by length so that each batch holds texts of similar size;
 * results still land in input order because every item owns a fixed row.
 */

/** A batch: positions [start, end) of the order array. */
export interface BatchRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Estimated tokens of a text of `length` UTF-16 units: English words
 * average about 5 letters plus a separator.
 * @param length - the text's length.
 * @returns the estimate, at least 1.
 */
export function estimateTokens(length: number): number {
  return Math.ceil(length / 6) + 1;
}

/**
 * Sorts one window's items by length into `order` and cuts it into batches.
 * @param items - indexes of the window's items to embed, in input order.
 * @param lengths - UTF-16 length of every item, by item index.
 * @param order - the call's order array; positions [at, at + items.length) are filled.
 * @param at - where in `order` the window starts.
 * @param batchTokens - token budget of one batch.
 * @returns the batches, covering order[at, at + items.length).
 */
export function planWindow(items: number[], lengths: Uint32Array, order: Uint32Array, at: number, batchTokens: number): BatchRange[] {
  const batches: BatchRange[] = [];
  const window = items.sort((a, b) => (lengths[a] ?? 0) - (lengths[b] ?? 0));
  order.set(window, at);
  let start = at;
  let tokens = 0;
  for (let j = 0; j < window.length; j++) {
    const t = estimateTokens(lengths[window[j] ?? 0] ?? 0);
    if (tokens > 0 && tokens + t > batchTokens) {
      batches.push({ start, end: at + j });
      start = at + j;
      tokens = 0;
    }
    tokens += t;
  }
  if (start < at + window.length) batches.push({ start, end: at + window.length });
  return batches;
}
