/**
 * The SIF sentence-vector kernel as TF.js ops over gathered word rows:
 * weighted segment sums per sentence (scatterND), removal of the common component by matmul,
 * L2 normalisation.
 */
import type { Tf } from './backend.js';

/** One batch, flattened: the words of every sentence, in order. */
export interface SifBatch {
  /** Every token's word vector, tokens × dims (already gathered). */
  readonly rows: Float32Array;
  /** For every token, its sentence (0-based). */
  readonly tokenSentence: Int32Array;
  /** For every token, its SIF weight divided by its sentence's token count. */
  readonly tokenWeight: Float32Array;
  /** Number of sentences. */
  readonly sentences: number;
  /** Vector dims. */
  readonly dims: number;
}

/**
 * Computes SIF sentence vectors: v_s = Σ w_t · x_t, minus its projection on
 * the common component `pc`, L2-normalised. Sentences without tokens come
 * out as zero rows, never NaN.
 * @param tf - TF.js with a backend ready.
 * @param batch - the flattened batch.
 * @param pc - the unit common component, length dims.
 * @returns sentences × dims, row-major.
 */
export function sifEmbed(tf: Tf, batch: SifBatch, pc: Float32Array): Float32Array {
  const { dims, sentences } = batch;
  if (batch.tokenSentence.length === 0) return new Float32Array(sentences * dims);
  return tf.tidy(() => {
    const gathered = tf.tensor2d(batch.rows, [batch.rows.length / dims, dims]);
    const weighted = tf.mul(gathered, tf.tensor2d(batch.tokenWeight, [batch.tokenWeight.length, 1]));
    // scatterND sums updates that share an index: a weighted segment sum
    // that, unlike unsortedSegmentSum, every backend (wasm included) has.
    const segments = tf.tensor2d(batch.tokenSentence, [batch.tokenSentence.length, 1], 'int32');
    const sums = tf.scatterND(segments, weighted, [sentences, dims]) as import('@tensorflow/tfjs-core').Tensor2D;
    const u = tf.tensor2d(pc, [dims, 1]);
    const removed = tf.sub(sums, tf.matMul(tf.matMul(sums, u), u, false, true));
    const norms = tf.sqrt(tf.sum(tf.square(removed), 1, true));
    // A zero row stays zero: divide by max(norm, tiny) instead of norm.
    const normalised = tf.div(removed, tf.maximum(norms, tf.scalar(1e-30)));
    return normalised.dataSync() as Float32Array;
  });
}
