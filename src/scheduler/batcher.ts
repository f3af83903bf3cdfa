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

const kLengthBuckets = 1024;

/**
 * Stable counting sort of items by length (lengths past 1023 share the last
 * bucket): linear time, where a comparison sort of every window showed up in
 * main-thread profiles.
 * @param items - item indexes.
 * @param lengths - length of every item, by item index.
 * @returns the items, shortest first.
 */
export function sortByLength(items: ArrayLike<number>, lengths: Uint32Array): Uint32Array {
  const counts = new Uint32Array(kLengthBuckets + 1);
  const n = items.length;
  for (let j = 0; j < n; j++) {
    const b = Math.min(lengths[items[j] as number] as number, kLengthBuckets - 1) + 1;
    counts[b] = (counts[b] as number) + 1;
  }
  for (let b = 1; b <= kLengthBuckets; b++) counts[b] = (counts[b] as number) + (counts[b - 1] as number);
  const out = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const i = items[j] as number;
    const b = Math.min(lengths[i] as number, kLengthBuckets - 1);
    out[counts[b] as number] = i;
    counts[b] = (counts[b] as number) + 1;
  }
  return out;
}

/**
 * Cost of a batch: `rows` texts, the longest `longest` tokens long (see BatchCost in models/embedder.ts).
 */
export type BatchCostFn = (rows: number, longest: number) => number;

/**
 * Sorts one window's items by length into `order` and cuts it into batches.
 * Without `cost`, a batch's tokens are the sum of each item's estimate from
 * its UTF-16 length; with it, `lengths` are model tokens and a batch costs
 * `cost(rows, longest)` (padded tokens, with attention's length² share).
 * @param items - indexes of the window's items to embed, in input order.
 * @param lengths - UTF-16 length of every item (model tokens with `cost`), by item index.
 * @param order - the call's order array; positions [at, at + items.length) are filled.
 * @param at - where in `order` the window starts.
 * @param batchTokens - token budget of one batch.
 * @param minBatches - cut the window into at least this many batches when
 *   it has the items (so that a window smaller than the budget still keeps
 *   every worker busy). @default 1
 * @param cost - the model's batch cost; undefined: the UTF-16 estimate.
 * @returns the batches, covering order[at, at + items.length).
 */
export function planWindow(items: ArrayLike<number>, lengths: Uint32Array, order: Uint32Array, at: number, batchTokens: number, minBatches = 1, cost?: BatchCostFn): BatchRange[] {
  const window = sortByLength(items, lengths);
  order.set(window, at);
  if (cost !== undefined) return cutByCost(window, lengths, at, batchTokens, minBatches, cost);
  const batches: BatchRange[] = [];
  const n = window.length;
  const tokens = new Uint32Array(n);
  let total = 0;
  for (let j = 0; j < n; j++) {
    const t = estimateTokens(lengths[window[j] as number] as number);
    tokens[j] = t;
    total += t;
  }
  if (minBatches > 1) batchTokens = Math.max(1, Math.min(batchTokens, Math.ceil(total / minBatches)));
  let start = at;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const t = tokens[j] as number;
    if (sum > 0 && sum + t > batchTokens) {
      batches.push({ start, end: at + j });
      start = at + j;
      sum = 0;
    }
    sum += t;
  }
  if (start < at + n) batches.push({ start, end: at + n });
  return batches;
}

/** Batches per worker a costed window below the budget is cut into, at most. */
const kSpread = 8;
/** The smallest cost a window is cut to for spreading (about one native run's 1,024 packed tokens). */
const kMinBatchCost = 1024;

/**
 * Cuts a window sorted shortest first by a padded cost: a batch grows while
 * `cost(rows, longest)` (the current item is its longest) fits the budget.
 * @param window - the window's items, shortest first.
 * @param lengths - model tokens of every item, by item index.
 * @param at - where in `order` the window starts.
 * @param budget - cost budget of one batch.
 * @param minBatches - cut into at least this many batches when the window has the items.
 * @param cost - the model's batch cost.
 * @returns the batches.
 */
function cutByCost(window: Uint32Array, lengths: Uint32Array, at: number, budget: number, minBatches: number, cost: BatchCostFn): BatchRange[] {
  const n = window.length;
  if (minBatches > 1) {
    let total = 0;
    for (let j = 0; j < n; j++) total += cost(1, lengths[window[j] as number] as number);
    // A model that costs its batches (a transformer) spends long on each, and
    // a cost estimate is only close: with one batch per worker, the worker
    // whose batch ran long leaves the other idle at the end of the call. Up
    // to kSpread batches per worker even that out, none cut below
    // kMinBatchCost (small batches run the matmuls on few rows).
    const target = Math.max(minBatches, Math.min(minBatches * kSpread, Math.floor(total / kMinBatchCost)));
    budget = Math.max(1, Math.min(budget, Math.ceil(total / target)));
  }
  const batches: BatchRange[] = [];
  let start = 0;
  for (let j = 0; j < n; j++) {
    const rows = j - start + 1;
    if (rows > 1 && cost(rows, lengths[window[j] as number] as number) > budget) {
      batches.push({ start: at + start, end: at + j });
      start = j;
    }
  }
  if (start < n) batches.push({ start: at + start, end: at + n });
  return batches;
}
