/**
 * The worker half of a TF.js model directory: loads the model from the
 * shared model.json and weights, tokenises with WordPiece, runs padded,
 * length-sorted sub-batches, pools over the real tokens and normalises.
 */
import type { Tf } from '../../tensor/backend.js';
import { loadTfjsModel, type RunnableModel } from '../../tensor/tfjs-models.js';
import { kItemOk, kItemOkTruncated, type EmbedKernel } from '../embedder.js';
import { WordPieceTokenizer, type Encoding, type WordPieceSpec } from '../bert/wordpiece.js';
import type { TfjsModelConfig } from './config.js';
import type { TfjsWeightSpec } from './files.js';

/** The state a prepared TF.js model hands every worker. */
export interface TfjsShared {
  readonly config: TfjsModelConfig;
  readonly tokenizer: WordPieceSpec;
  readonly modelJson: Record<string, unknown>;
  readonly weightSpecs: readonly TfjsWeightSpec[];
  /** The weight shards' bytes, read once on the main thread. */
  readonly weightData: SharedArrayBuffer;
}

/** Padded tokens (rows × longest row) one model run may hold. */
export const kTfjsMaxPaddedTokens = 4096;

type Tensor = ReturnType<Tf['tensor']>;

/** Embeds batches with a TF.js model. */
export class TfjsKernel implements EmbedKernel {
  readonly dims: number;
  readonly #tf: Tf;
  readonly #model: RunnableModel;
  readonly #config: TfjsModelConfig;
  readonly #tokenizer: WordPieceTokenizer;
  readonly #fixedLength: number;

  /**
   * @param shared - the prepared model's shared state.
   * @param tf - TF.js with a backend ready.
   * @param model - the loaded model.
   */
  constructor(shared: TfjsShared, tf: Tf, model: RunnableModel) {
    this.#tf = tf;
    this.#model = model;
    this.#config = shared.config;
    this.dims = shared.config.dims;
    this.#tokenizer = new WordPieceTokenizer(shared.tokenizer);
    this.#fixedLength = Math.max(0, ...shared.config.inputs.map((i) => i.fixedLength));
  }

  /**
   * Embeds a batch of texts.
   * @param texts - the batch.
   * @param status - receives kItemOk, or kItemOkTruncated for a text cut to the maximum sequence length.
   * @returns texts.length × dims vectors.
   */
  embedBatch(texts: readonly string[], status: Uint8Array): Float32Array {
    const out = new Float32Array(texts.length * this.dims);
    const enc: Encoding[] = texts.map((t) => this.#tokenizer.encode(t, this.#config.maxSeqLength));
    // Longest first, so each sub-batch pads to its own first row.
    const order = Array.from(enc.keys()).sort((a, b) => (enc[b] as Encoding).ids.length - (enc[a] as Encoding).ids.length || a - b);
    for (let start = 0; start < order.length; ) {
      const seq = this.#fixedLength > 0 ? this.#fixedLength : (enc[order[start] as number] as Encoding).ids.length;
      let end = start + 1;
      while (end < order.length && (end - start + 1) * seq <= kTfjsMaxPaddedTokens) end++;
      const rows = order.slice(start, end).map((i) => enc[i] as Encoding);
      const hidden = this.run(rows.map((e) => e.ids), seq);
      rows.forEach((e, r) => {
        const item = order[start + r] as number;
        this.#pool(hidden, r, seq, e.ids.length, out, item * this.dims);
        status[item] = e.truncated ? kItemOkTruncated : kItemOk;
      });
      start = end;
    }
    return out;
  }

  /**
   * Runs the model on token ids padded to `seq`.
   * @param rows - each row's ids.
   * @param seq - the padded length.
   * @returns the output, rows × seq × dims (or rows × dims for pooling none).
   * @throws {Error} when the output's shape is not what vecforge.json says.
   */
  run(rows: readonly Int32Array[], seq: number): Float32Array {
    const tf = this.#tf;
    const n = rows.length;
    const ids = new Int32Array(n * seq).fill(this.#tokenizer.padId);
    const mask = new Int32Array(n * seq);
    rows.forEach((r, i) => {
      ids.set(r, i * seq);
      mask.fill(1, i * seq, i * seq + r.length);
    });
    const values: Record<string, Int32Array> = { ids, mask, tokenTypes: new Int32Array(n * seq) };
    const { output, pooling, dims } = this.#config;
    return tf.tidy(() => {
      const inputs: Record<string, Tensor> = {};
      for (const input of this.#config.inputs) {
        const data = values[input.role] as Int32Array;
        inputs[input.name] = input.dtype === 'int32' ? tf.tensor2d(data, [n, seq], 'int32') : tf.tensor2d(Float32Array.from(data), [n, seq], 'float32');
      }
      const result = this.#model.run(inputs, output);
      const want = pooling === 'none' ? [n, dims] : [n, seq, dims];
      if (result.shape.length !== want.length || result.shape.some((d, i) => d !== want[i])) {
        throw new Error(`TF.js model output "${output}" has shape [${result.shape.join(', ')}], expected [${want.join(', ')}] (${pooling === 'none' ? 'pooling none: batch × dims' : 'batch × sequence × dims'} with dims ${dims} from vecforge.json)`);
      }
      return result.dataSync() as Float32Array;
    });
  }

  #pool(hidden: Float32Array, row: number, seq: number, len: number, out: Float32Array, o: number): void {
    const dims = this.dims;
    const { pooling, normalize } = this.#config;
    const acc = new Float64Array(dims);
    if (pooling === 'none') {
      for (let d = 0; d < dims; d++) acc[d] = hidden[row * dims + d] as number;
    } else {
      const base = row * seq * dims;
      if (pooling === 'cls') for (let d = 0; d < dims; d++) acc[d] = hidden[base + d] as number;
      else if (pooling === 'max') {
        acc.fill(-Infinity);
        for (let t = 0; t < len; t++) for (let d = 0; d < dims; d++) acc[d] = Math.max(acc[d] as number, hidden[base + t * dims + d] as number);
      } else {
        for (let t = 0; t < len; t++) for (let d = 0; d < dims; d++) acc[d] = (acc[d] as number) + (hidden[base + t * dims + d] as number);
        for (let d = 0; d < dims; d++) acc[d] = (acc[d] as number) / len;
      }
    }
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += (acc[d] as number) ** 2;
    const scale = normalize ? 1 / Math.max(Math.sqrt(norm), 1e-12) : 1;
    for (let d = 0; d < dims; d++) out[o + d] = (acc[d] as number) * scale;
  }
}

/**
 * Builds the kernel in a worker: loads the model and runs it once on a
 * short text, so a model whose output does not fit vecforge.json fails at
 * start-up rather than on every batch.
 * @param shared - the {@link TfjsShared} state.
 * @param tf - TF.js, required by this model.
 * @returns the kernel.
 * @throws {Error} without TF.js, or when the model does not load or its output has the wrong shape.
 */
export async function createTfjsKernel(shared: unknown, tf: Tf | undefined): Promise<EmbedKernel> {
  if (tf === undefined) throw new Error('the tfjs kernel needs TF.js');
  const s = shared as TfjsShared;
  // A transient private copy: TF.js keeps the weights in its backend, not this buffer.
  const weightData = new Uint8Array(s.weightData).slice().buffer;
  const model = await loadTfjsModel(tf, s.config.format, { modelJson: s.modelJson, weightSpecs: s.weightSpecs, weightData });
  const kernel = new TfjsKernel(s, tf, model);
  kernel.embedBatch(['a'], new Uint8Array(1));
  return kernel;
}
