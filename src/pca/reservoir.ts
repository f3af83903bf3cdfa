/**
 * Uniform reservoir sampling of row-major Float32 rows, so a PCA sample can
 * be drawn from a stream whose length is unknown up front.
 */
import { createRng, kMaxSeed, type Rng } from './random.js';
import { checkInteger, checkRows, kMaxRowDims } from './validate.js';

/** The seed a {@link ReservoirSampler} uses when none is given. */
export const kDefaultReservoirSeed = 0x5eed;

/** The largest reservoir, in rows. */
export const kMaxReservoirCapacity = 16_777_216;

/** The largest reservoir, in values (capacity × dims): 4 GiB of float32. */
export const kMaxReservoirValues = 1_073_741_824;

/**
 * Keeps a uniform random sample of at most `capacity` rows out of every row
 * passed to {@link ReservoirSampler.add}, in one pass and O(capacity × dims)
 * memory. It runs Li's Algorithm L: after the reservoir fills, it draws the
 * gap to the next accepted row from a geometric law instead of one random
 * number per row, so skipping costs nothing per rejected row. Every row seen
 * so far is in the sample with the same probability, capacity / seen.
 *
 * The random stream advances only when a row is accepted, so the sample for a
 * given seed depends on the sequence of rows, never on how it was cut into
 * `add` calls.
 */
export class ReservoirSampler {
  /** Values per row. */
  readonly dims: number;
  /** The most rows the sample holds. */
  readonly capacity: number;
  readonly #rng: Rng;
  readonly #buffer: Float32Array;
  #held = 0;
  #seen = 0;
  /** Global index of the next row to accept once the reservoir is full. */
  #nextAccepted = 0;
  /** Algorithm L's running maximum-of-uniforms variable. */
  #w = 0;

  /**
   * @param capacity - the most rows to keep; an integer in [1, 16777216],
   *   with capacity × dims at most 1073741824.
   * @param dims - values per row; an integer in [1, 100000].
   * @param seed - seed of the random stream; an integer in [0, 4294967295].
   * @default seed 0x5eed ({@link kDefaultReservoirSeed}): sampling is
   *   reproducible unless a seed is chosen.
   * @throws {TypeError} when an argument is not a number.
   * @throws {RangeError} when an argument is out of range.
   */
  constructor(capacity: number, dims: number, seed: number = kDefaultReservoirSeed) {
    this.capacity = checkInteger('capacity', capacity, 1, kMaxReservoirCapacity);
    this.dims = checkInteger('dims', dims, 1, kMaxRowDims);
    checkInteger('seed', seed, 0, kMaxSeed);
    if (capacity * dims > kMaxReservoirValues) {
      throw new RangeError(`capacity × dims must be at most ${kMaxReservoirValues}, got ${capacity} × ${dims}`);
    }
    this.#rng = createRng(seed);
    this.#buffer = new Float32Array(capacity * dims);
  }

  /** The number of rows the sample holds now: min(seen, capacity). */
  get count(): number {
    return this.#held;
  }

  /** The number of rows offered to {@link ReservoirSampler.add} so far. */
  get seen(): number {
    return this.#seen;
  }

  /**
   * Offers rows to the sample. The rows are copied; the caller may reuse
   * the array afterwards.
   * @param rows - row-major values, a whole number of rows of `dims` values.
   * @throws {TypeError} when `rows` is not a Float32Array.
   * @throws {RangeError} when `rows.length` is not a multiple of `dims`.
   */
  add(rows: Float32Array): void {
    checkRows('rows', rows, this.dims);
    const dims = this.dims;
    const rowCount = rows.length / dims;
    const batchStart = this.#seen;
    if (this.#held < this.capacity) {
      const take = Math.min(this.capacity - this.#held, rowCount);
      this.#buffer.set(rows.subarray(0, take * dims), this.#held * dims);
      this.#held += take;
      if (this.#held === this.capacity) {
        this.#w = Math.exp(Math.log(this.#rng.nextFloat()) / this.capacity);
        this.#nextAccepted = batchStart + take - 1 + this.#skip() + 1;
      }
    }
    if (this.#held === this.capacity) {
      const batchEnd = batchStart + rowCount;
      while (this.#nextAccepted < batchEnd) {
        const source = (this.#nextAccepted - batchStart) * dims;
        const slot = Math.min(this.capacity - 1, Math.floor(this.#rng.nextFloat() * this.capacity));
        this.#buffer.set(rows.subarray(source, source + dims), slot * dims);
        this.#w *= Math.exp(Math.log(this.#rng.nextFloat()) / this.capacity);
        this.#nextAccepted += this.#skip() + 1;
      }
    }
    this.#seen = batchStart + rowCount;
  }

  /**
   * Copies the sample out.
   * @returns `count` rows, row-major, `count × dims` values, in reservoir
   *   slot order (not stream order).
   */
  sample(): Float32Array {
    return this.#buffer.slice(0, this.#held * this.dims);
  }

  /** Draws how many rows to pass over before the next accepted one. */
  #skip(): number {
    // W reaches 1 only by rounding (a huge capacity) and 0 only after ~1e300 rows.
    if (this.#w >= 1) return 0;
    if (this.#w <= 0) return Number.MAX_SAFE_INTEGER;
    const logKeep = Math.log1p(-this.#w);
    const gap = Math.floor(Math.log(this.#rng.nextFloat()) / logKeep);
    return Number.isFinite(gap) ? gap : Number.MAX_SAFE_INTEGER;
  }
}
