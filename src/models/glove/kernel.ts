/**
 * The worker half of glove-100d: tokenises a batch against the shared
 * table and computes SIF sentence vectors, with TF.js ops or fused JS.
 */
import type { Tf } from '../../tensor/backend.js';
import { sifEmbed } from '../../tensor/sif.js';
import { createSifWasm, kWasmPageBytes, type SifWasm, type WasmMemory } from '../../tensor/sif-wasm.js';
import { kItemNoKnownWords, kItemOk, type EmbedKernel, type SlabBatch } from '../embedder.js';
import { gloveViews, type GloveHeader, type GloveTable } from './layout.js';
import { rowsCapacity, tokenizeToRows, tokenizeUtf8ToRows } from './tokenize.js';

/** The shared state glove-100d hands to workers. */
export interface GloveShared {
  readonly buffer: SharedArrayBuffer;
  readonly header: GloveHeader;
  readonly math: GloveMath;
  /** The ASCII lookup table of the UTF-8 tokeniser; absent: the main hash table. */
  readonly asciiLookup?: SharedArrayBuffer;
  /** The shared WebAssembly memory `buffer` belongs to, for the SIMD kernel; absent: JS loop only. */
  readonly memory?: WasmMemory;
}

/**
 * How glove-100d computes sentence vectors: `tfjs` runs TF.js ops (gather
 * done in JS, because the wasm backend's Gather kernel is slow; weighted
 * segment sum, matmul and normalisation on TF.js); `js` runs the same math
 * fused, straight over the shared table: a WebAssembly SIMD function
 * (src/tensor/sif-wasm.ts) where the table sits in a shared WebAssembly
 * memory, else one JS loop.
 */
export type GloveMath = 'tfjs' | 'js';

/** Embeds batches with the shared GloVe table. */
export class GloveKernel implements EmbedKernel {
  readonly dims: number;
  readonly #table: GloveTable;
  readonly #tf: Tf | undefined;
  readonly #math: GloveMath;
  readonly #acc: Float64Array;
  #rows = new Int32Array(256);
  /** The SIMD kernel and this instance's scratch page in the shared memory (rows, then one output row). */
  readonly #simd: { readonly run: SifWasm; readonly rows: Int32Array; readonly rowsPtr: number; readonly out: Float32Array; readonly outPtr: number; readonly ptrs: readonly [number, number, number] } | undefined;
  /** Present with `js` math: tokenises UTF-8 in shared memory and writes rows in place. */
  readonly embedSlab?: (batch: SlabBatch) => void;

  /**
   * @param table - views over the shared table.
   * @param tf - TF.js with a backend ready (required for `tfjs` math).
   * @param math - which implementation computes the vectors.
   * @param memory - the shared memory of `table`, for the SIMD kernel of `js` math.
   */
  constructor(table: GloveTable, tf: Tf | undefined, math: GloveMath, memory?: WasmMemory) {
    if (math === 'tfjs' && tf === undefined) throw new Error('glove-100d tfjs math needs TF.js');
    this.#table = table;
    this.#tf = tf;
    this.#math = math;
    this.dims = table.header.dims;
    this.#acc = new Float64Array(this.dims);
    if (math === 'js') this.embedSlab = (batch) => this.#embedSlabJs(batch);
    this.#simd = math === 'js' && memory !== undefined ? claimSimd(memory, table) : undefined;
  }

  /**
   * Embeds a batch of texts.
   * @param texts - the batch.
   * @param status - receives kItemOk or kItemNoKnownWords per text.
   * @returns texts.length × dims vectors.
   */
  embedBatch(texts: readonly string[], status: Uint8Array): Float32Array {
    return this.#math === 'js' ? this.#embedJs(texts, status) : this.#embedTf(texts, status);
  }

  #embedJs(texts: readonly string[], status: Uint8Array): Float32Array {
    const dims = this.dims;
    const out = new Float32Array(texts.length * dims);
    const rows: number[] = [];
    for (let s = 0; s < texts.length; s++) {
      rows.length = 0;
      tokenizeToRows(this.#table, texts[s] as string, rows);
      const n = rows.length;
      const scratch = this.#scratch(n);
      for (let r = 0; r < n; r++) scratch[r] = rows[r] as number;
      status[s] = this.#sifInto(scratch, n, out, s * dims);
    }
    return out;
  }

  #embedSlabJs(batch: SlabBatch): void {
    const { bytes, offsets, base, items, out, status } = batch;
    const dims = this.dims;
    const table = this.#table;
    for (let j = 0; j < items.length; j++) {
      const i = items[j] as number;
      const local = i - base;
      const a = offsets[local] as number;
      const b = offsets[local + 1] as number;
      const rows = this.#scratch(rowsCapacity(b - a));
      const n = tokenizeUtf8ToRows(table, bytes, a, b, rows);
      status[i] = this.#sifInto(rows, n, out, i * dims);
    }
  }

  /** A reusable rows buffer of at least `n` entries: the SIMD scratch when it fits. */
  #scratch(n: number): Int32Array {
    if (this.#simd !== undefined && n <= this.#simd.rows.length) return this.#simd.rows;
    if (this.#rows.length < n) this.#rows = new Int32Array(Math.max(n, this.#rows.length * 2));
    return this.#rows;
  }

  /**
   * Writes the SIF vector of `rows[0, n)` to out[o, o + dims): weighted sum,
   * common component removed, L2-normalised. The 1/n of the average is left
   * out: normalisation cancels any positive scale.
   * @returns kItemOk, or kItemNoKnownWords (row left as it was: zero).
   */
  #sifInto(rows: Int32Array, n: number, out: Float32Array, o: number): number {
    if (n === 0) return kItemNoKnownWords;
    const simd = this.#simd;
    if (simd !== undefined && rows === simd.rows) {
      simd.run.sif(simd.rowsPtr, n, simd.ptrs[0], simd.ptrs[1], simd.ptrs[2], simd.outPtr);
      // The first write to each page of a call's fresh arena faults it in:
      // most of this copy's cost, paid once per 10 rows.
      out.set(simd.out, o);
      return kItemOk;
    }
    const dims = this.dims;
    const { vectors, weights, pc } = this.#table;
    const acc = this.#acc;
    acc.fill(0);
    const body = dims & ~3;
    // Hot loop: indexes are in range by construction, so the values are
    // read without the `?? 0` guards noUncheckedIndexedAccess would ask
    // for; unrolled by four, which V8 runs ~1.5× faster.
    for (let r = 0; r < n; r++) {
      const row = rows[r] as number;
      const w = weights[row] as number;
      const at = row * dims;
      let d = 0;
      for (; d < body; d += 4) {
        acc[d] = (acc[d] as number) + w * (vectors[at + d] as number);
        acc[d + 1] = (acc[d + 1] as number) + w * (vectors[at + d + 1] as number);
        acc[d + 2] = (acc[d + 2] as number) + w * (vectors[at + d + 2] as number);
        acc[d + 3] = (acc[d + 3] as number) + w * (vectors[at + d + 3] as number);
      }
      for (; d < dims; d++) acc[d] = (acc[d] as number) + w * (vectors[at + d] as number);
    }
    let proj = 0;
    for (let d = 0; d < dims; d++) proj += (acc[d] as number) * (pc[d] as number);
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      const x = (acc[d] as number) - proj * (pc[d] as number);
      acc[d] = x;
      norm += x * x;
    }
    // A zero vector (every word on the common component) stays zero.
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dims; d++) out[o + d] = (acc[d] as number) * inv;
    return kItemOk;
  }

  #embedTf(texts: readonly string[], status: Uint8Array): Float32Array {
    const t = this.#table;
    const dims = this.dims;
    const tokenSentence: number[] = [];
    const tokenWeight: number[] = [];
    const tokenWord: number[] = [];
    const rows: number[] = [];
    for (let s = 0; s < texts.length; s++) {
      rows.length = 0;
      tokenizeToRows(t, texts[s] ?? '', rows);
      status[s] = rows.length > 0 ? kItemOk : kItemNoKnownWords;
      const share = 1 / Math.max(1, rows.length);
      for (const row of rows) {
        tokenWord.push(row);
        tokenSentence.push(s);
        tokenWeight.push((t.weights[row] ?? 0) * share);
      }
    }
    // The gather: copy each token's row out of shared memory. TF.js would
    // copy the rows into its heap anyway, and wasm's Gather kernel is ~30×
    // slower than this loop.
    const gathered = new Float32Array(tokenWord.length * dims);
    for (let i = 0; i < tokenWord.length; i++) {
      const src = (tokenWord[i] ?? 0) * dims;
      gathered.set(t.vectors.subarray(src, src + dims), i * dims);
    }
    return sifEmbed(
      this.#tf as Tf,
      { rows: gathered, tokenSentence: Int32Array.from(tokenSentence), tokenWeight: Float32Array.from(tokenWeight), sentences: texts.length, dims },
      t.pc,
    );
  }
}

/**
 * Sets up the SIMD kernel: claims a scratch page of the table's memory
 * (memory.grow hands every caller, in any thread, its own page).
 * @returns the kernel and its scratch, or undefined (JS loop) when WebAssembly
 *   SIMD, the dims or the memory's spare pages do not allow it.
 */
function claimSimd(memory: WasmMemory, table: GloveTable): { run: SifWasm; rows: Int32Array; rowsPtr: number; out: Float32Array; outPtr: number; ptrs: readonly [number, number, number] } | undefined {
  const dims = table.header.dims;
  const run = createSifWasm(memory, dims);
  if (run === undefined || dims * 4 > kWasmPageBytes / 2) return undefined;
  let page: number;
  try {
    page = memory.grow(1);
  } catch {
    return undefined;
  }
  // grow() replaces `memory.buffer`; views over the old one (the table's) stay valid.
  const base = page * kWasmPageBytes;
  const outPtr = base + kWasmPageBytes - dims * 4;
  const rowsPtr = base;
  return {
    run,
    rows: new Int32Array(memory.buffer, rowsPtr, (outPtr - rowsPtr) / 4),
    rowsPtr,
    out: new Float32Array(memory.buffer, outPtr, dims),
    outPtr,
    ptrs: [table.vectors.byteOffset, table.weights.byteOffset, table.pc.byteOffset],
  };
}

/**
 * Builds the kernel in a worker from the shared state.
 * @param shared - the {@link GloveShared} state.
 * @param tf - TF.js, required by this model.
 * @returns the kernel.
 */
export function createGloveKernel(shared: unknown, tf: Tf | undefined): EmbedKernel {
  const s = shared as GloveShared;
  return new GloveKernel(gloveViews(s.buffer, s.header, s.asciiLookup), tf, s.math, s.memory);
}
