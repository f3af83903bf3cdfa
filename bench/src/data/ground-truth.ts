/**
 * Exact k-nearest-neighbour ground truth by cosine similarity, by brute
 * force. This is what the benchmarks measure approximate search against.
 *
 * Two engines compute the same answer: a plain JS loop
 * ({@link exactCosineTopK}, the reference) and TF.js wasm matmuls whose
 * float32 candidates are rescored in float64 ({@link computeGroundTruth}).
 * Measured side by side on the GloVe set (1,000 queries × 340,479 rows ×
 * 100 dims, on a shared 2-core machine): wasm matmul with a JS top-k scan
 * ran 3.5–5× faster than the JS loop. Replacing the JS scan by `tf.topk` on
 * each score chunk cost about the same (each is roughly 45% of the wasm
 * run), so the scan stays in JS, where ties and the float64 rescoring are
 * easy to control. A wasm `matMul` with `transposeB` ran 12× slower than
 * one on a pre-transposed operand.
 */
import { loadTf, throwIfAborted, type Tf } from '../internals.js';

/** The engines {@link computeGroundTruth} can run on. */
export const kGroundTruthEngines = Object.freeze(['wasm', 'js'] as const);

/** One engine of {@link computeGroundTruth}. */
export type GroundTruthEngine = (typeof kGroundTruthEngines)[number];

/** Options of {@link computeGroundTruth}. */
export interface GroundTruthOptions {
  /** Which engine scores the pairs. @default 'wasm' */
  readonly engine?: GroundTruthEngine;
  /**
   * The wasm engine scores queries against the base in chunks; this bounds
   * the values of one [queries × base chunk] score matrix (4 bytes each).
   * @default 16777216 (64 MiB)
   */
  readonly scoreMatrixValues?: number;
  /** Cancels the computation between chunks. @default undefined */
  readonly signal?: AbortSignal;
}

/** The defaults of {@link GroundTruthOptions}. */
export const kDefaultGroundTruthOptions = Object.freeze({ engine: 'wasm' as GroundTruthEngine, scoreMatrixValues: 16 * 1024 * 1024 });

// float32 matmul scores can swap near-tied neighbours; keeping this many
// extra candidates and rescoring them in float64 makes the order exact.
const kRescoreMargin = 16;
const kQueryBlockRows = 1024;

/**
 * Computes the same ids as {@link exactCosineTopK}: for each query, the `k`
 * base rows most similar by cosine similarity, most similar first, ties to
 * the lower row number.
 * @param base - `baseRows * dims` values, row-major.
 * @param queries - `queryRows * dims` values, row-major.
 * @param dims - values per row, an integer ≥ 1.
 * @param k - neighbours per query, an integer in [1, baseRows].
 * @param options - the engine and a signal.
 * @returns `queryRows * k` base row numbers, row-major.
 * @throws {RangeError} when `dims` or `k` is out of range, `dims` does not divide an input's length, the engine is unknown or `scoreMatrixValues` is not a positive integer.
 * @throws {VecforgeError} ERR_BACKEND when the wasm backend fails to start; ERR_ABORTED when cancelled.
 */
export async function computeGroundTruth(
  base: Float32Array,
  queries: Float32Array,
  dims: number,
  k: number,
  options: GroundTruthOptions = {},
): Promise<Int32Array> {
  const engine = options.engine ?? kDefaultGroundTruthOptions.engine;
  if (!kGroundTruthEngines.includes(engine)) {
    throw new RangeError(`options.engine must be one of ${kGroundTruthEngines.join(', ')}, got ${String(engine)}`);
  }
  const scoreMatrixValues = options.scoreMatrixValues ?? kDefaultGroundTruthOptions.scoreMatrixValues;
  if (!Number.isInteger(scoreMatrixValues) || scoreMatrixValues < 1) {
    throw new RangeError(`options.scoreMatrixValues must be an integer ≥ 1, got ${scoreMatrixValues}`);
  }
  checkShapes(base, queries, dims, k);
  throwIfAborted(options.signal);
  if (engine === 'js') return exactCosineTopK(base, queries, dims, k);
  const tf = await loadTf('wasm');
  return wasmTopK(tf, base, queries, dims, k, scoreMatrixValues, options.signal);
}

async function wasmTopK(
  tf: Tf,
  base: Float32Array,
  queries: Float32Array,
  dims: number,
  k: number,
  scoreMatrixValues: number,
  signal: AbortSignal | undefined,
): Promise<Int32Array> {
  const baseRows = base.length / dims;
  const queryRows = queries.length / dims;
  const b = normalizeRows(base, dims);
  const q = normalizeRows(queries, dims);
  const keep = Math.min(baseRows, k + kRescoreMargin);
  const out = new Int32Array(queryRows * k);
  const queryBlock = Math.min(queryRows, kQueryBlockRows);
  const chunkRows = Math.max(1, Math.floor(scoreMatrixValues / Math.max(1, queryBlock)));
  const heaps = Array.from({ length: queryBlock }, () => new TopK(keep));
  const transposed = new Float32Array(Math.min(chunkRows, baseRows) * dims);
  for (let q0 = 0; q0 < queryRows; q0 += queryBlock) {
    const rows = Math.min(queryBlock, queryRows - q0);
    for (const heap of heaps) heap.clear();
    const queryTensor = tf.tensor2d(q.subarray(q0 * dims, (q0 + rows) * dims), [rows, dims]);
    try {
      for (let start = 0; start < baseRows; start += chunkRows) {
        throwIfAborted(signal);
        const count = Math.min(chunkRows, baseRows - start);
        // matMul with transposeB runs ~12× slower on wasm than on a
        // pre-transposed operand, so the chunk is transposed here.
        for (let i = 0; i < count; i++) {
          const from = (start + i) * dims;
          for (let d = 0; d < dims; d++) transposed[d * count + i] = b[from + d] as number;
        }
        const scores = tf.tidy(() => tf.matMul(queryTensor, tf.tensor2d(transposed.subarray(0, dims * count), [dims, count])));
        let values: Float32Array;
        try {
          values = (await scores.data()) as Float32Array;
        } finally {
          scores.dispose();
        }
        for (let r = 0; r < rows; r++) {
          const heap = heaps[r] as TopK;
          const offset = r * count;
          for (let i = 0; i < count; i++) heap.offer(values[offset + i] as number, start + i);
        }
      }
    } finally {
      queryTensor.dispose();
    }
    const ids = new Int32Array(keep);
    for (let r = 0; r < rows; r++) {
      const heap = heaps[r] as TopK;
      heap.writeSorted(ids, 0);
      // Rescore the float32 candidates exactly, in the reference's arithmetic.
      const exact = new TopK(k);
      const qFrom = (q0 + r) * dims;
      const sorted = Array.from(ids.subarray(0, heap.size)).sort((x, y) => x - y);
      for (const id of sorted) {
        let sum = 0;
        const bFrom = id * dims;
        for (let d = 0; d < dims; d++) sum += (b[bFrom + d] as number) * (q[qFrom + d] as number);
        exact.offer(sum, id);
      }
      exact.writeSorted(out, (q0 + r) * k);
    }
  }
  return out;
}

function checkShapes(base: Float32Array, queries: Float32Array, dims: number, k: number): void {
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`dims must be an integer ≥ 1, got ${dims}`);
  if (base.length % dims !== 0) throw new RangeError(`base.length must be a multiple of dims (${dims}), got ${base.length}`);
  if (queries.length % dims !== 0) {
    throw new RangeError(`queries.length must be a multiple of dims (${dims}), got ${queries.length}`);
  }
  const baseRows = base.length / dims;
  if (!Number.isInteger(k) || k < 1 || k > baseRows) {
    throw new RangeError(`k must be an integer in [1, ${baseRows}] (the number of base rows), got ${k}`);
  }
}

/**
 * Returns, for each query, the ids (row numbers in `base`) of the `k` base
 * rows most similar to it by cosine similarity, most similar first. Ties
 * go to the lower row number. A zero vector has similarity 0 to everything.
 *
 * Similarities are accumulated in float64 over float32-normalised vectors, so
 * the order is exact up to the float32 rounding of the inputs. Queries are
 * scored four at a time so each base row is loaded once per four queries.
 * @param base - `baseRows * dims` values, row-major.
 * @param queries - `queryRows * dims` values, row-major.
 * @param dims - values per row, an integer ≥ 1.
 * @param k - neighbours per query, an integer in [1, baseRows].
 * @returns `queryRows * k` base row numbers, row-major.
 * @throws {RangeError} when `dims` or `k` is out of range or `dims` does not divide an input's length.
 */
export function exactCosineTopK(base: Float32Array, queries: Float32Array, dims: number, k: number): Int32Array {
  checkShapes(base, queries, dims, k);
  const baseRows = base.length / dims;
  const queryRows = queries.length / dims;
  const b = normalizeRows(base, dims);
  const q = normalizeRows(queries, dims);
  const out = new Int32Array(queryRows * k);
  const heaps = [0, 1, 2, 3].map(() => new TopK(k));
  for (let q0 = 0; q0 < queryRows; q0 += 4) {
    const count = Math.min(4, queryRows - q0);
    for (const heap of heaps) heap.clear();
    const [h0, h1, h2, h3] = heaps as [TopK, TopK, TopK, TopK];
    // Rows past the end of `queries` alias query q0: their results are dropped.
    const o0 = q0 * dims;
    const o1 = (count > 1 ? q0 + 1 : q0) * dims;
    const o2 = (count > 2 ? q0 + 2 : q0) * dims;
    const o3 = (count > 3 ? q0 + 3 : q0) * dims;
    for (let row = 0; row < baseRows; row++) {
      const ob = row * dims;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let d = 0; d < dims; d++) {
        const x = b[ob + d] as number;
        s0 += x * (q[o0 + d] as number);
        s1 += x * (q[o1 + d] as number);
        s2 += x * (q[o2 + d] as number);
        s3 += x * (q[o3 + d] as number);
      }
      h0.offer(s0, row);
      h1.offer(s1, row);
      h2.offer(s2, row);
      h3.offer(s3, row);
    }
    for (let i = 0; i < count; i++) (heaps[i] as TopK).writeSorted(out, (q0 + i) * k);
  }
  return out;
}

/**
 * Copies rows and scales each to unit L2 norm; zero rows stay zero.
 * @param data - `rows * dims` values.
 * @param dims - values per row.
 * @returns the normalised copy.
 */
export function normalizeRows(data: Float32Array, dims: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let at = 0; at < data.length; at += dims) {
    let sum = 0;
    for (let d = 0; d < dims; d++) sum += (data[at + d] as number) ** 2;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let d = 0; d < dims; d++) out[at + d] = (data[at + d] as number) * scale;
  }
  return out;
}

/**
 * A bounded min-heap of (score, id) keeping the k best: higher score wins,
 * equal scores go to the lower id. Rows are offered in increasing id order,
 * so a newcomer that only ties the worst kept score never displaces it.
 */
class TopK {
  readonly #k: number;
  readonly #scores: Float64Array;
  readonly #ids: Int32Array;
  #size = 0;

  constructor(k: number) {
    this.#k = k;
    this.#scores = new Float64Array(k);
    this.#ids = new Int32Array(k);
  }

  get size(): number {
    return this.#size;
  }

  clear(): void {
    this.#size = 0;
  }

  offer(score: number, id: number): void {
    const scores = this.#scores;
    const ids = this.#ids;
    if (this.#size < this.#k) {
      let at = this.#size++;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(score, id, scores[parent] as number, ids[parent] as number)) break;
        scores[at] = scores[parent] as number;
        ids[at] = ids[parent] as number;
        at = parent;
      }
      scores[at] = score;
      ids[at] = id;
      return;
    }
    if (!(score > (scores[0] as number))) return;
    const size = this.#size;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      if (right < size && worse(scores[right] as number, ids[right] as number, scores[left] as number, ids[left] as number)) {
        child = right;
      }
      if (!worse(scores[child] as number, ids[child] as number, score, id)) break;
      scores[at] = scores[child] as number;
      ids[at] = ids[child] as number;
      at = child;
    }
    scores[at] = score;
    ids[at] = id;
  }

  writeSorted(out: Int32Array, offset: number): void {
    const order = Array.from({ length: this.#size }, (_, i) => i);
    const scores = this.#scores;
    const ids = this.#ids;
    order.sort((a, b) => (scores[b] as number) - (scores[a] as number) || (ids[a] as number) - (ids[b] as number));
    for (let i = 0; i < order.length; i++) out[offset + i] = ids[order[i] as number] as number;
  }
}

/** Whether (scoreA, idA) ranks below (scoreB, idB). */
function worse(scoreA: number, idA: number, scoreB: number, idB: number): boolean {
  return scoreA < scoreB || (scoreA === scoreB && idA > idB);
}
