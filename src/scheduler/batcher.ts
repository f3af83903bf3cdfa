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
 * Estimated tokens of a text of `bytes` UTF-8 bytes: English words average
 * about 5 bytes plus a separator.
 * @param bytes - the text's UTF-8 length.
 * @returns the estimate, at least 1.
 */
export function estimateTokens(bytes: number): number {
  return Math.ceil(bytes / 6) + 1;
}

/**
 * Fills `order` with the items to embed, sorted by length within windows,
 * and cuts it into batches.
 * @param items - indexes of the items to embed, in input order.
 * @param lengths - byte length of every item, by item index.
 * @param order - receives the batch order (length ≥ items.length).
 * @param sortWindow - items per sorting window.
 * @param batchTokens - token budget of one batch.
 * @returns the batches, covering order[0, items.length).
 */
export function planBatches(
  items: readonly number[],
  lengths: Uint32Array,
  order: Uint32Array,
  sortWindow: number,
  batchTokens: number,
): BatchRange[] {
  const batches: BatchRange[] = [];
  for (let w = 0; w < items.length; w += sortWindow) {
    const window = items.slice(w, w + sortWindow).sort((a, b) => (lengths[a] ?? 0) - (lengths[b] ?? 0));
    order.set(window, w);
    let start = w;
    let tokens = 0;
    for (let j = 0; j < window.length; j++) {
      const t = estimateTokens(lengths[window[j] ?? 0] ?? 0);
      if (tokens > 0 && tokens + t > batchTokens) {
        batches.push({ start, end: w + j });
        start = w + j;
        tokens = 0;
      }
      tokens += t;
    }
    if (start < w + window.length) batches.push({ start, end: w + window.length });
  }
  return batches;
}
