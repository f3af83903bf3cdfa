/**
 * The worker half of a BERT sentence encoder: tokenises a batch, runs the
 * encoder on sub-batches (native math: sequences packed back to back within
 * a token budget; TF.js: length-sorted, padded, within a padded-token
 * budget), pools over the real tokens and L2-normalises.
 */
import { loadNativeBertOps } from '../../native/kernels.js';
import type { Tf } from '../../tensor/backend.js';
import { kItemOk, kItemOkTruncated, type EmbedKernel } from '../embedder.js';
import type { BertConfig, BertSentenceConfig } from './config.js';
import { BertEncoder } from './forward.js';
import { NativeBertEncoder } from './native-forward.js';
import { WordPieceTokenizer, type Encoding, type WordPieceSpec } from './wordpiece.js';
import type { WeightSlot } from './weights.js';

/**
 * How the encoder computes: `native` on the addon's ops (weights read in
 * place from shared memory, sequences packed), `tfjs` as TF.js ops.
 */
export type BertMath = 'native' | 'tfjs';

/** The state a prepared BERT model hands every worker. */
export interface BertShared {
  readonly math: BertMath;
  readonly config: BertConfig;
  readonly sentence: BertSentenceConfig;
  readonly tokenizer: WordPieceSpec;
  /** All weights as float32, read once on the main thread. */
  readonly weights: SharedArrayBuffer;
  readonly slots: Readonly<Record<string, WeightSlot>>;
}

/** Padded tokens (rows × longest row) one TF.js encoder run may hold. */
export const kMaxPaddedTokens = 1024;
/** Real tokens one native encoder run packs (a longer single text runs alone): 14 MB of scratch at hidden 384. */
export const kMaxPackedTokens = 1024;
/** Attention scores (rows × heads × longest²) one encoder run may hold: 64 MB of float32. */
export const kMaxAttentionFloats = 16 * 1024 * 1024;

/**
 * Pools hidden states over a row's real tokens.
 * @param hidden - batch × seq × dims.
 * @param row - the row.
 * @param seq - the padded length.
 * @param len - the row's real length.
 * @param dims - hidden size.
 * @param sentence - pooling mode and normalisation.
 * @param out - receives the vector.
 * @param o - where in `out`.
 */
export function poolRow(hidden: Float32Array, row: number, seq: number, len: number, dims: number, sentence: BertSentenceConfig, out: Float32Array, o: number): void {
  poolTokens(hidden, row * seq, len, dims, sentence, out, o);
}

/**
 * Pools hidden states over one sequence's tokens.
 * @param hidden - tokens × dims.
 * @param first - the sequence's first token.
 * @param len - its real length.
 * @param dims - hidden size.
 * @param sentence - pooling mode and normalisation.
 * @param out - receives the vector.
 * @param o - where in `out`.
 */
export function poolTokens(hidden: Float32Array, first: number, len: number, dims: number, sentence: BertSentenceConfig, out: Float32Array, o: number): void {
  const base = first * dims;
  const acc = new Float64Array(dims);
  if (sentence.pooling === 'cls') {
    for (let d = 0; d < dims; d++) acc[d] = hidden[base + d] as number;
  } else if (sentence.pooling === 'max') {
    acc.fill(-Infinity);
    for (let t = 0; t < len; t++) for (let d = 0; d < dims; d++) acc[d] = Math.max(acc[d] as number, hidden[base + t * dims + d] as number);
  } else {
    for (let t = 0; t < len; t++) for (let d = 0; d < dims; d++) acc[d] = (acc[d] as number) + (hidden[base + t * dims + d] as number);
    for (let d = 0; d < dims; d++) acc[d] = (acc[d] as number) / len;
  }
  let scale = 1;
  if (sentence.normalize) {
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += (acc[d] as number) ** 2;
    // sentence-transformers' Normalize divides by max(norm, 1e-12).
    scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
  }
  for (let d = 0; d < dims; d++) out[o + d] = (acc[d] as number) * scale;
}

/** Embeds batches with a BERT encoder. */
export class BertKernel implements EmbedKernel {
  readonly dims: number;
  readonly #tokenizer: WordPieceTokenizer;
  readonly #encoder: BertEncoder | NativeBertEncoder;
  readonly #shared: BertShared;

  /**
   * @param shared - the prepared model's shared state.
   * @param tf - TF.js with a backend ready (needed by `tfjs` math).
   * @throws {Error} for `native` math where the addon does not load, or `tfjs` math without TF.js.
   */
  constructor(shared: BertShared, tf: Tf | undefined) {
    this.#shared = shared;
    this.dims = shared.config.hiddenSize;
    this.#tokenizer = new WordPieceTokenizer(shared.tokenizer);
    if (shared.math === 'native') {
      const ops = loadNativeBertOps();
      if (ops === undefined) throw new Error('the bert kernel\'s native math needs the vecforge addon in this worker (node native/build.mjs), or math: tfjs');
      this.#encoder = new NativeBertEncoder(ops, shared.config, shared.weights, shared.slots);
    } else {
      if (tf === undefined) throw new Error('the bert kernel\'s tfjs math needs TF.js');
      this.#encoder = new BertEncoder(tf, shared.config, shared.weights, shared.slots);
    }
  }

  /**
   * Embeds a batch of texts.
   * @param texts - the batch.
   * @param status - receives kItemOk, or kItemOkTruncated for a text cut to the maximum sequence length.
   * @returns texts.length × dims vectors.
   */
  embedBatch(texts: readonly string[], status: Uint8Array): Float32Array {
    const { sentence, config } = this.#shared;
    const dims = this.dims;
    const out = new Float32Array(texts.length * dims);
    const enc: Encoding[] = texts.map((t) => this.#tokenizer.encode(t, sentence.maxSeqLength));
    const encoder = this.#encoder;
    if (encoder instanceof NativeBertEncoder) {
      this.#embedPacked(encoder, enc, status, out);
      return out;
    }
    // Longest first, so each sub-batch pads to its own first row.
    const order = Array.from(enc.keys()).sort((a, b) => (enc[b] as Encoding).ids.length - (enc[a] as Encoding).ids.length || a - b);
    for (let start = 0; start < order.length; ) {
      const seq = (enc[order[start] as number] as Encoding).ids.length;
      let end = start + 1;
      while (end < order.length && (end - start + 1) * seq <= kMaxPaddedTokens && (end - start + 1) * config.numHeads * seq * seq <= kMaxAttentionFloats) end++;
      const rows = end - start;
      const ids = new Int32Array(rows * seq);
      const lengths = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        const e = enc[order[start + r] as number] as Encoding;
        ids.set(e.ids, r * seq);
        lengths[r] = e.ids.length;
      }
      const hidden = encoder.run(ids, lengths, seq);
      for (let r = 0; r < rows; r++) {
        const item = order[start + r] as number;
        poolRow(hidden, r, seq, lengths[r] as number, dims, sentence, out, item * dims);
        status[item] = (enc[item] as Encoding).truncated ? kItemOkTruncated : kItemOk;
      }
      start = end;
    }
    return out;
  }

  /** Native math: texts in input order, packed back to back into runs of at most kMaxPackedTokens real tokens. */
  #embedPacked(encoder: NativeBertEncoder, enc: readonly Encoding[], status: Uint8Array, out: Float32Array): void {
    const { sentence } = this.#shared;
    const dims = this.dims;
    for (let start = 0; start < enc.length; ) {
      let tokens = (enc[start] as Encoding).ids.length;
      let end = start + 1;
      while (end < enc.length && tokens + (enc[end] as Encoding).ids.length <= kMaxPackedTokens) tokens += (enc[end++] as Encoding).ids.length;
      const ids = new Int32Array(tokens);
      const lengths = new Int32Array(end - start);
      let at = 0;
      for (let r = start; r < end; r++) {
        const e = enc[r] as Encoding;
        ids.set(e.ids, at);
        at += e.ids.length;
        lengths[r - start] = e.ids.length;
      }
      const hidden = encoder.run(ids, lengths);
      let first = 0;
      for (let r = start; r < end; r++) {
        const len = lengths[r - start] as number;
        poolTokens(hidden, first, len, dims, sentence, out, r * dims);
        first += len;
        status[r] = (enc[r] as Encoding).truncated ? kItemOkTruncated : kItemOk;
      }
      start = end;
    }
  }
}

/**
 * Builds the kernel in a worker from the shared state.
 * @param shared - the {@link BertShared} state.
 * @param tf - TF.js, required by `tfjs` math.
 * @returns the kernel.
 * @throws {Error} without what its math needs.
 */
export function createBertKernel(shared: unknown, tf: Tf | undefined): EmbedKernel {
  return new BertKernel(shared as BertShared, tf);
}
