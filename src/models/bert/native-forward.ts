/**
 * The BERT encoder's forward pass on the addon's native ops (see
 * native/bert_ops.cc), the same function as the TF.js pass in forward.ts:
 * embedding LayerNorm, then per layer Q/K/V projections, self-attention,
 * output projection, residual and LayerNorm, the feed-forward block with
 * GELU, residual and LayerNorm.
 *
 * Two differences in how, not what: the weights are read in place from the
 * shared buffer (a worker holds no copy of them), and sequences are packed
 * back to back instead of padded, so only real tokens are computed and each
 * attends to its own sequence (no mask, no padding waste).
 */
import type { NativeBertOps } from '../../native/kernels.js';
import type { BertConfig } from './config.js';
import type { WeightSlot } from './weights.js';

/** One encoder layer's weights: views of the shared buffer. */
interface LayerViews {
  readonly q: Float32Array; readonly qb: Float32Array;
  readonly k: Float32Array; readonly kb: Float32Array;
  readonly v: Float32Array; readonly vb: Float32Array;
  readonly o: Float32Array; readonly ob: Float32Array;
  readonly ln1g: Float32Array; readonly ln1b: Float32Array;
  readonly i: Float32Array; readonly ib: Float32Array;
  readonly f: Float32Array; readonly fb: Float32Array;
  readonly ln2g: Float32Array; readonly ln2b: Float32Array;
}

const kActivationCode = Object.freeze({ gelu: 1, gelu_new: 2, gelu_pytorch_tanh: 2 } as const);

/** Scratch arrays of one run, grown to the largest run seen and reused. */
interface Scratch {
  tokens: number;
  x: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array;
  ctx: Float32Array; inner: Float32Array;
}

/**
 * Multiply–adds of one encoder pass over sequences of the given lengths:
 * the projections and the feed-forward block per token, QKᵀ and PV per
 * pair of tokens in a sequence (2 FLOPs each).
 * @param config - the model.
 * @param lengths - real tokens of each sequence.
 * @param padTo - when set, every sequence counts as this long (a padded batch).
 * @returns floating-point operations.
 */
export function encoderFlops(config: BertConfig, lengths: ArrayLike<number>, padTo?: number): number {
  const h = config.hiddenSize;
  const perToken = 2 * (4 * h * h + 2 * h * config.intermediateSize);
  let total = 0;
  for (let s = 0; s < lengths.length; s++) {
    const len = padTo ?? (lengths[s] as number);
    total += len * perToken + 4 * len * len * h;
  }
  return total * config.numLayers;
}

/** A BERT encoder on the native ops, over views of the shared weights. */
export class NativeBertEncoder {
  readonly #ops: NativeBertOps;
  readonly #c: BertConfig;
  readonly #layers: LayerViews[] = [];
  readonly #lnG: Float32Array;
  readonly #lnB: Float32Array;
  readonly #word: Float32Array;
  readonly #pos: Float32Array;
  readonly #type0: Float32Array;
  readonly #act: number;
  #scratch: Scratch | undefined;

  /**
   * @param ops - the native ops.
   * @param config - the model config.
   * @param buffer - the shared weights (never copied).
   * @param slots - where each tensor lies in `buffer`.
   */
  constructor(ops: NativeBertOps, config: BertConfig, buffer: SharedArrayBuffer, slots: Readonly<Record<string, WeightSlot>>) {
    this.#ops = ops;
    this.#c = config;
    this.#act = kActivationCode[config.activation];
    const view = (name: string): Float32Array => {
      const slot = slots[name];
      if (slot === undefined) throw new Error(`bert weights: no tensor ${name}`);
      return new Float32Array(buffer, slot.offset * 4, slot.shape.reduce((a, b) => a * b, 1));
    };
    this.#word = view('embeddings.word_embeddings.weight');
    this.#pos = view('embeddings.position_embeddings.weight');
    this.#type0 = view('embeddings.token_type_embeddings.weight').subarray(0, config.hiddenSize);
    this.#lnG = view('embeddings.LayerNorm.weight');
    this.#lnB = view('embeddings.LayerNorm.bias');
    for (let l = 0; l < config.numLayers; l++) {
      const p = `encoder.layer.${l}.`;
      this.#layers.push({
        q: view(`${p}attention.self.query.weight`), qb: view(`${p}attention.self.query.bias`),
        k: view(`${p}attention.self.key.weight`), kb: view(`${p}attention.self.key.bias`),
        v: view(`${p}attention.self.value.weight`), vb: view(`${p}attention.self.value.bias`),
        o: view(`${p}attention.output.dense.weight`), ob: view(`${p}attention.output.dense.bias`),
        ln1g: view(`${p}attention.output.LayerNorm.weight`), ln1b: view(`${p}attention.output.LayerNorm.bias`),
        i: view(`${p}intermediate.dense.weight`), ib: view(`${p}intermediate.dense.bias`),
        f: view(`${p}output.dense.weight`), fb: view(`${p}output.dense.bias`),
        ln2g: view(`${p}output.LayerNorm.weight`), ln2b: view(`${p}output.LayerNorm.bias`),
      });
    }
  }

  #scratchFor(tokens: number): Scratch {
    const s = this.#scratch;
    if (s !== undefined && s.tokens >= tokens) return s;
    const h = this.#c.hiddenSize;
    const n = tokens * h;
    const fresh: Scratch = {
      tokens,
      x: new Float32Array(n), q: new Float32Array(n), k: new Float32Array(n), v: new Float32Array(n),
      ctx: new Float32Array(n), inner: new Float32Array(tokens * this.#c.intermediateSize),
    };
    this.#scratch = fresh;
    return fresh;
  }

  /**
   * Runs the encoder on sequences packed back to back.
   * @param ids - the token ids of every sequence, one after another.
   * @param lengths - each sequence's length (≥ 1); they sum to `ids.length`.
   * @returns the last hidden states, ids.length × hidden, in the order of `ids`;
   *   a view of scratch memory, valid until the next call.
   */
  run(ids: Int32Array, lengths: Int32Array): Float32Array {
    const c = this.#c;
    const ops = this.#ops;
    const h = c.hiddenSize;
    const tokens = ids.length;
    const s = this.#scratchFor(tokens);
    const n = tokens * h;
    let x = s.x.subarray(0, n);
    let y = s.ctx.subarray(0, n);
    const q = s.q.subarray(0, n);
    const k = s.k.subarray(0, n);
    const v = s.v.subarray(0, n);
    const inner = s.inner.subarray(0, tokens * c.intermediateSize);
    const word = this.#word;
    const pos = this.#pos;
    const type0 = this.#type0;
    let t = 0;
    for (let r = 0; r < lengths.length; r++) {
      const len = lengths[r] as number;
      for (let p = 0; p < len; p++, t++) {
        const o = t * h;
        const w = (ids[t] as number) * h;
        const pp = p * h;
        for (let d = 0; d < h; d++) x[o + d] = (word[w + d] as number) + (pos[pp + d] as number) + (type0[d] as number);
      }
    }
    ops.layerNormRows(x, null, this.#lnG, this.#lnB, c.layerNormEps);
    for (const L of this.#layers) {
      ops.linearRows(x, L.q, L.qb, q, 0);
      ops.linearRows(x, L.k, L.kb, k, 0);
      ops.linearRows(x, L.v, L.vb, v, 0);
      ops.attentionRows(q, k, v, lengths, c.numHeads, y);
      // The attention output lands in q (free now), then becomes LN(q + x).
      ops.linearRows(y, L.o, L.ob, q, 0);
      ops.layerNormRows(q, x, L.ln1g, L.ln1b, c.layerNormEps);
      ops.linearRows(q, L.i, L.ib, inner, this.#act);
      ops.linearRows(inner, L.f, L.fb, y, 0);
      ops.layerNormRows(y, q, L.ln2g, L.ln2b, c.layerNormEps);
      // y holds the layer's output: swap it into x for the next layer.
      const next = y;
      y = x;
      x = next;
    }
    return x;
  }
}
