/**
 * The BERT encoder's forward pass on TF.js: embedding LayerNorm, then per
 * layer self-attention with the padding mask, output projection, residual
 * and LayerNorm, the feed-forward block with GELU, residual and LayerNorm.
 * The embedding lookup (a gather) runs in JS straight over the shared
 * weights, so the word-embedding table never enters a worker's TF.js heap.
 */
import type { Tf } from '../../tensor/backend.js';
import type { BertActivation, BertConfig } from './config.js';
import type { WeightSlot } from './weights.js';

type Tensor = ReturnType<Tf['tensor']>;

/** One encoder layer's tensors in the TF.js backend. */
interface LayerTensors {
  readonly q: Tensor; readonly qb: Tensor;
  readonly k: Tensor; readonly kb: Tensor;
  readonly v: Tensor; readonly vb: Tensor;
  readonly o: Tensor; readonly ob: Tensor;
  readonly ln1g: Tensor; readonly ln1b: Tensor;
  readonly i: Tensor; readonly ib: Tensor;
  readonly f: Tensor; readonly fb: Tensor;
  readonly ln2g: Tensor; readonly ln2b: Tensor;
}

/** Additive attention bias of a padded key: exp() of it is exactly 0 in float32. */
const kMaskBias = -1e9;

/** A BERT encoder bound to a TF.js backend and a view of the shared weights. */
export class BertEncoder {
  readonly #tf: Tf;
  readonly #c: BertConfig;
  readonly #layers: LayerTensors[] = [];
  readonly #lnG: Tensor;
  readonly #lnB: Tensor;
  readonly #word: Float32Array;
  readonly #pos: Float32Array;
  readonly #type0: Float32Array;

  /**
   * Copies the encoder weights (not the embedding tables) into the backend.
   * @param tf - TF.js with a backend ready.
   * @param config - the model config.
   * @param buffer - the shared weights.
   * @param slots - where each tensor lies in `buffer`.
   */
  constructor(tf: Tf, config: BertConfig, buffer: SharedArrayBuffer, slots: Readonly<Record<string, WeightSlot>>) {
    this.#tf = tf;
    this.#c = config;
    const view = (name: string): Float32Array => {
      const slot = slots[name];
      if (slot === undefined) throw new Error(`bert weights: no tensor ${name}`);
      return new Float32Array(buffer, slot.offset * 4, slot.shape.reduce((a, b) => a * b, 1));
    };
    const tensor = (name: string): Tensor => {
      const slot = slots[name] as WeightSlot;
      return tf.keep(tf.tensor(view(name), [...slot.shape], 'float32'));
    };
    // Linear weights are stored [out, in]; kept transposed, [in, out],
    // because the wasm backend's matMul with transposeB is ~10× slower.
    const linear = (name: string): Tensor => {
      const slot = slots[name] as WeightSlot;
      return tf.keep(tf.tidy(() => tf.transpose(tf.tensor2d(view(name), [slot.shape[0] as number, slot.shape[1] as number], 'float32'))));
    };
    this.#word = view('embeddings.word_embeddings.weight');
    this.#pos = view('embeddings.position_embeddings.weight');
    this.#type0 = view('embeddings.token_type_embeddings.weight').subarray(0, config.hiddenSize);
    this.#lnG = tensor('embeddings.LayerNorm.weight');
    this.#lnB = tensor('embeddings.LayerNorm.bias');
    for (let l = 0; l < config.numLayers; l++) {
      const p = `encoder.layer.${l}.`;
      this.#layers.push({
        q: linear(`${p}attention.self.query.weight`), qb: tensor(`${p}attention.self.query.bias`),
        k: linear(`${p}attention.self.key.weight`), kb: tensor(`${p}attention.self.key.bias`),
        v: linear(`${p}attention.self.value.weight`), vb: tensor(`${p}attention.self.value.bias`),
        o: linear(`${p}attention.output.dense.weight`), ob: tensor(`${p}attention.output.dense.bias`),
        ln1g: tensor(`${p}attention.output.LayerNorm.weight`), ln1b: tensor(`${p}attention.output.LayerNorm.bias`),
        i: linear(`${p}intermediate.dense.weight`), ib: tensor(`${p}intermediate.dense.bias`),
        f: linear(`${p}output.dense.weight`), fb: tensor(`${p}output.dense.bias`),
        ln2g: tensor(`${p}output.LayerNorm.weight`), ln2b: tensor(`${p}output.LayerNorm.bias`),
      });
    }
  }

  /**
   * Runs the encoder on a padded batch.
   * @param ids - batch × seq token ids, row-major; positions past a row's length are ignored.
   * @param lengths - each row's real token count (≥ 1).
   * @param seq - the padded sequence length.
   * @returns the last hidden states, batch × seq × hidden (padded positions hold junk).
   */
  run(ids: Int32Array, lengths: Int32Array, seq: number): Float32Array {
    const tf = this.#tf;
    const c = this.#c;
    const h = c.hiddenSize;
    const batch = lengths.length;
    const x0 = new Float32Array(batch * seq * h);
    const bias = new Float32Array(batch * seq);
    const word = this.#word;
    const pos = this.#pos;
    const type0 = this.#type0;
    for (let b = 0; b < batch; b++) {
      const len = lengths[b] as number;
      for (let t = 0; t < seq; t++) {
        if (t >= len) {
          bias[b * seq + t] = kMaskBias;
          continue;
        }
        const o = (b * seq + t) * h;
        const w = (ids[b * seq + t] as number) * h;
        const p = t * h;
        for (let d = 0; d < h; d++) x0[o + d] = (word[w + d] as number) + (pos[p + d] as number) + (type0[d] as number);
      }
    }
    const heads = c.numHeads;
    const dh = h / heads;
    const scale = 1 / Math.sqrt(dh);
    const eps = c.layerNormEps;
    const act = c.activation;
    const dense = (x: Tensor, w: Tensor, b: Tensor): Tensor => tf.add(tf.matMul(x as never, w as never), b);
    const norm = (x: Tensor, g: Tensor, b: Tensor): Tensor => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
    };
    const split = (x: Tensor): Tensor => tf.transpose(tf.reshape(x, [batch, seq, heads, dh]), [0, 2, 1, 3]);
    const mask = tf.tensor4d(bias, [batch, 1, 1, seq]);
    let out = tf.tidy(() => norm(tf.tensor2d(x0, [batch * seq, h]), this.#lnG, this.#lnB));
    // One tidy per layer: a layer's intermediates are freed before the next
    // runs, so the backend's heap peaks at one layer's worth, not all of them.
    for (const L of this.#layers) {
      const x = out;
      out = tf.tidy(() => {
        const q = split(tf.mul(dense(x, L.q, L.qb), scale));
        // Keys as [batch, heads, dh, seq], so the scores need no transposeB.
        const k = tf.transpose(tf.reshape(dense(x, L.k, L.kb), [batch, seq, heads, dh]), [0, 2, 3, 1]);
        const v = split(dense(x, L.v, L.vb));
        const scores = tf.add(tf.matMul(q as never, k as never), mask);
        // Softmax from max, exp and a sum rather than tf.softmax: the wasm
        // backend's fused softmax sums with SIMD lanes whose split depends
        // on the padded length, so a text's vector would change in its last
        // bits with its batch; Max and Sum add in order, and padded keys add
        // exact zeros, so a vector is the same in any batch.
        const e = tf.exp(tf.sub(scores, tf.max(scores, -1, true)));
        const probs = tf.div(e, tf.sum(e, -1, true));
        const ctx = tf.reshape(tf.transpose(tf.matMul(probs as never, v as never), [0, 2, 1, 3]), [batch * seq, h]);
        const x1 = norm(tf.add(dense(ctx, L.o, L.ob), x), L.ln1g, L.ln1b);
        const inner = activate(tf, dense(x1, L.i, L.ib), act);
        return norm(tf.add(dense(inner, L.f, L.fb), x1), L.ln2g, L.ln2b);
      });
      x.dispose();
    }
    mask.dispose();
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  }
}

function activate(tf: Tf, x: Tensor, act: BertActivation): Tensor {
  if (act === 'gelu') return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  // gelu_new and gelu_pytorch_tanh: the tanh approximation.
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}
