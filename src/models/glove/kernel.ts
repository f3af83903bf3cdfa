/**
 * The worker half of glove-100d: tokenises a batch against the shared
 * table and runs the SIF kernel on TF.js.
 */
import type { Tf } from '../../tensor/backend.js';
import { sifEmbed } from '../../tensor/sif.js';
import { kItemNoKnownWords, kItemOk, type EmbedKernel } from '../embedder.js';
import { gloveViews, type GloveHeader, type GloveTable } from './layout.js';
import { tokenizeToRows } from './tokenize.js';

/** The shared state glove-100d hands to workers. */
export interface GloveShared {
  readonly buffer: SharedArrayBuffer;
  readonly header: GloveHeader;
}

/** Embeds batches with the shared GloVe table. */
export class GloveKernel implements EmbedKernel {
  readonly dims: number;
  readonly #table: GloveTable;
  readonly #tf: Tf;

  /**
   * @param table - views over the shared table.
   * @param tf - TF.js with a backend ready.
   */
  constructor(table: GloveTable, tf: Tf) {
    this.#table = table;
    this.#tf = tf;
    this.dims = table.header.dims;
  }

  /**
   * Embeds a batch of texts.
   * @param texts - the batch.
   * @param status - receives kItemOk or kItemNoKnownWords per text.
   * @returns texts.length × dims vectors.
   */
  embedBatch(texts: readonly string[], status: Uint8Array): Float32Array {
    const t = this.#table;
    const dims = this.dims;
    const tokenRows: number[] = [];
    const tokenSentence: number[] = [];
    const tokenWeight: number[] = [];
    const local = new Map<number, number>();
    const distinct: number[] = [];
    const rows: number[] = [];
    for (let s = 0; s < texts.length; s++) {
      rows.length = 0;
      tokenizeToRows(t, texts[s] ?? '', rows);
      status[s] = rows.length > 0 ? kItemOk : kItemNoKnownWords;
      const share = 1 / Math.max(1, rows.length);
      for (const row of rows) {
        let l = local.get(row);
        if (l === undefined) {
          l = distinct.length;
          local.set(row, l);
          distinct.push(row);
        }
        tokenRows.push(l);
        tokenSentence.push(s);
        tokenWeight.push((t.weights[row] ?? 0) * share);
      }
    }
    const gathered = new Float32Array(distinct.length * dims);
    for (let i = 0; i < distinct.length; i++) {
      const src = (distinct[i] ?? 0) * dims;
      gathered.set(t.vectors.subarray(src, src + dims), i * dims);
    }
    return sifEmbed(
      this.#tf,
      {
        rows: gathered,
        tokenRows: Int32Array.from(tokenRows),
        tokenSentence: Int32Array.from(tokenSentence),
        tokenWeight: Float32Array.from(tokenWeight),
        sentences: texts.length,
        dims,
      },
      t.pc,
    );
  }
}

/**
 * Builds the kernel in a worker from the shared state.
 * @param shared - the {@link GloveShared} state.
 * @param tf - TF.js, required by this model.
 * @returns the kernel.
 */
export function createGloveKernel(shared: unknown, tf: Tf | undefined): EmbedKernel {
  if (tf === undefined) throw new Error('glove-100d needs TF.js');
  const s = shared as GloveShared;
  return new GloveKernel(gloveViews(s.buffer, s.header), tf);
}
