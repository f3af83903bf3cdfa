/**
 * Test helpers for BERT model directories: a small safetensors writer, a
 * tiny random BERT written as a real Hugging Face / sentence-transformers
 * directory, and an independent plain-loop float64 reference forward pass.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../src/random.js';

/** A tensor for {@link writeSafetensors}. */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Float dtypes the writer can store. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Rounds a float to IEEE half precision (round to nearest even; no subnormal care needed for test weights).
 * @param x - the value.
 * @returns the 16 bits.
 */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0] as number;
  const sign = (b >>> 16) & 0x8000;
  let exp = ((b >>> 23) & 0xff) - 127 + 15;
  let mant = b & 0x7fffff;
  if (exp <= 0) {
    // Subnormal half: shift the implicit bit in.
    if (exp < -10) return sign;
    mant = (mant | 0x800000) >>> (1 - exp);
    return sign | ((mant + 0x1000) >>> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  const rounded = mant + 0xfff + ((mant >>> 13) & 1);
  if (rounded & 0x800000) {
    mant = 0;
    exp++;
    if (exp >= 31) return sign | 0x7c00;
  } else {
    mant = rounded;
  }
  return sign | (exp << 10) | (mant >>> 13);
}

/**
 * Rounds a float to bfloat16 (round to nearest even).
 * @param x - the value.
 * @returns the 16 bits.
 */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0] as number;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * The bytes of a safetensors file.
 * @param tensors - the tensors, laid out in order.
 * @param dtype - how values are stored.
 * @returns the file's bytes.
 */
export function safetensorsBytes(tensors: readonly TensorSpec[], dtype: FloatDtype = 'F32'): Buffer {
  const size = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * size] };
    offset += t.data.length * size;
  }
  const data = Buffer.alloc(offset);
  let o = 0;
  for (const t of tensors) {
    for (const x of t.data) {
      if (dtype === 'F32') data.writeFloatLE(x, o);
      else data.writeUInt16LE(dtype === 'F16' ? floatToHalf(x) : floatToBf16(x), o);
      o += size;
    }
  }
  return rawSafetensors(header, data);
}

/**
 * A safetensors file from a header object and data bytes, as given (for headers that lie).
 * @param header - the JSON header.
 * @param data - the data section.
 * @param headerLength - the length field to write; default the real length.
 * @returns the bytes.
 */
export function rawSafetensors(header: unknown, data: Uint8Array, headerLength?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

/** The tiny model's vocabulary. */
export const kTinyVocab = Object.freeze([
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]',
  'the', 'cat', 'sat', 'on', 'mat', 'un', '##aff', '##able', 'hello', 'world', '!', ',', '.', '?', "'",
  'a', '##b', '##c', 'naive', 'cafe', 'dog', 'runs', 'run', '##s', '##ning', 'over', 'lazy', '中', '国', 'x', '##x', 'é', 'Hello',
]);

/** Options of {@link writeTinyBert}. */
export interface TinyBertOptions {
  readonly layers?: number;
  readonly hidden?: number;
  readonly heads?: number;
  readonly ffn?: number;
  readonly maxPositions?: number;
  readonly pooling?: 'mean' | 'cls' | 'max';
  readonly dtype?: FloatDtype;
  readonly activation?: string;
  /** Weight names with the `bert.` prefix. @default true */
  readonly prefix?: boolean;
  /** Writes modules.json with Normalize (true) or without (false); undefined: no sentence-transformers files. */
  readonly normalize?: boolean;
  readonly maxSeqLength?: number;
  /** tokenizer.json instead of vocab.txt + tokenizer_config.json. */
  readonly tokenizerJson?: boolean;
  readonly seed?: number;
}

/** A written tiny model, with the weights as stored (rounded to the dtype). */
export interface TinyBert {
  readonly dir: string;
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly ffn: number;
  readonly eps: number;
  readonly activation: string;
  readonly pooling: 'mean' | 'cls' | 'max';
  readonly normalize: boolean;
  readonly weights: ReadonlyMap<string, Float32Array>;
}

function roundTo(dtype: FloatDtype, x: number): number {
  if (dtype === 'F32') return Math.fround(x);
  const buf = Buffer.alloc(4);
  if (dtype === 'BF16') {
    buf.writeUInt16LE(floatToBf16(x), 2);
    return buf.readFloatLE(0);
  }
  const b = safetensorsBytes([{ name: 'x', shape: [1], data: Float32Array.of(x) }], 'F16');
  const h = b.readUInt16LE(b.length - 2);
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * Writes a tiny random BERT model directory.
 * @param dir - an empty directory.
 * @param options - shape, pooling, dtype and files.
 * @returns the model and its weights.
 */
export function writeTinyBert(dir: string, options: TinyBertOptions = {}): TinyBert {
  const layers = options.layers ?? 2;
  const hidden = options.hidden ?? 16;
  const heads = options.heads ?? 4;
  const ffn = options.ffn ?? 32;
  const maxPositions = options.maxPositions ?? 64;
  const dtype = options.dtype ?? 'F32';
  const activation = options.activation ?? 'gelu';
  const pooling = options.pooling ?? 'mean';
  const eps = 1e-12;
  const rng = createRng(options.seed ?? 7);
  const weights = new Map<string, Float32Array>();
  const specs: TensorSpec[] = [];
  const add = (name: string, shape: number[], kind: 'w' | 'g' | 'b'): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u = rng.nextFloat() - 0.5;
      data[i] = roundTo(dtype, kind === 'g' ? 1 + 0.2 * u : kind === 'b' ? 0.2 * u : 0.8 * u);
    }
    weights.set(name, data);
    specs.push({ name: (options.prefix === false ? '' : 'bert.') + name, shape, data });
  };
  add('embeddings.word_embeddings.weight', [kTinyVocab.length, hidden], 'w');
  add('embeddings.position_embeddings.weight', [maxPositions, hidden], 'w');
  add('embeddings.token_type_embeddings.weight', [2, hidden], 'w');
  add('embeddings.LayerNorm.weight', [hidden], 'g');
  add('embeddings.LayerNorm.bias', [hidden], 'b');
  for (let l = 0; l < layers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const part of ['query', 'key', 'value']) {
      add(`${p}attention.self.${part}.weight`, [hidden, hidden], 'w');
      add(`${p}attention.self.${part}.bias`, [hidden], 'b');
    }
    add(`${p}attention.output.dense.weight`, [hidden, hidden], 'w');
    add(`${p}attention.output.dense.bias`, [hidden], 'b');
    add(`${p}attention.output.LayerNorm.weight`, [hidden], 'g');
    add(`${p}attention.output.LayerNorm.bias`, [hidden], 'b');
    add(`${p}intermediate.dense.weight`, [ffn, hidden], 'w');
    add(`${p}intermediate.dense.bias`, [ffn], 'b');
    add(`${p}output.dense.weight`, [hidden, ffn], 'w');
    add(`${p}output.dense.bias`, [hidden], 'b');
    add(`${p}output.LayerNorm.weight`, [hidden], 'g');
    add(`${p}output.LayerNorm.bias`, [hidden], 'b');
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(specs, dtype));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['BertModel'], model_type: 'bert', vocab_size: kTinyVocab.length, hidden_size: hidden, num_hidden_layers: layers,
      num_attention_heads: heads, intermediate_size: ffn, max_position_embeddings: maxPositions, type_vocab_size: 2,
      layer_norm_eps: eps, hidden_act: activation, position_embedding_type: 'absolute',
    }),
  );
  if (options.tokenizerJson === true) {
    writeFileSync(
      join(dir, 'tokenizer.json'),
      JSON.stringify({
        normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
        pre_tokenizer: { type: 'BertPreTokenizer' },
        post_processor: { type: 'TemplateProcessing', cls: ['[CLS]', 2], sep: ['[SEP]', 3] },
        model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(kTinyVocab.map((t, i) => [t, i]).reverse()) },
      }),
    );
  } else {
    writeFileSync(join(dir, 'vocab.txt'), `${kTinyVocab.join('\n')}\n`);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, tokenize_chinese_chars: true, strip_accents: null }));
  }
  const normalize = options.normalize ?? true;
  if (options.normalize !== undefined || options.pooling !== undefined || options.maxSeqLength !== undefined) {
    const modules = [
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      ...(normalize ? [{ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }] : []),
    ];
    writeFileSync(join(dir, 'modules.json'), JSON.stringify(modules));
    mkdirSync(join(dir, '1_Pooling'), { recursive: true });
    writeFileSync(
      join(dir, '1_Pooling', 'config.json'),
      JSON.stringify({ word_embedding_dimension: hidden, pooling_mode_cls_token: pooling === 'cls', pooling_mode_mean_tokens: pooling === 'mean', pooling_mode_max_tokens: pooling === 'max', pooling_mode_mean_sqrt_len_tokens: false }),
    );
    writeFileSync(join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: options.maxSeqLength ?? 128, do_lower_case: false }));
  }
  return { dir, layers, hidden, heads, ffn, eps, activation, pooling, normalize, weights };
}

/**
 * Independent float64 reference: a plain-loop BERT forward pass, pooling and normalisation.
 * @param m - the model.
 * @param ids - [CLS] … [SEP] ids of one text.
 * @returns the sentence vector.
 */
export function referenceEmbed(m: TinyBert, ids: readonly number[]): Float64Array {
  const H = m.hidden;
  const T = ids.length;
  const w = (name: string): Float32Array => m.weights.get(name) as Float32Array;
  const at = (a: Float64Array[], t: number): Float64Array => a[t] as Float64Array;
  const layerNorm = (x: Float64Array, g: Float32Array, b: Float32Array): Float64Array => {
    let mean = 0;
    for (const v of x) mean += v;
    mean /= x.length;
    let v2 = 0;
    for (const v of x) v2 += (v - mean) ** 2;
    v2 /= x.length;
    const inv = 1 / Math.sqrt(v2 + m.eps);
    return x.map((v, i) => (v - mean) * inv * (g[i] as number) + (b[i] as number));
  };
  const linear = (x: Float64Array, W: Float32Array, b: Float32Array, out: number): Float64Array => {
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = b[o] as number;
      for (let i = 0; i < x.length; i++) s += (W[o * x.length + i] as number) * (x[i] as number);
      y[o] = s;
    }
    return y;
  };
  const erf = (x: number): number => {
    // Series / continued fraction to float64 accuracy, independent of TF.js's approximation.
    const ax = Math.abs(x);
    if (ax < 3) {
      let term = ax;
      let sum = ax;
      for (let n = 1; n < 200; n++) {
        term *= (-ax * ax) / n;
        sum += term / (2 * n + 1);
        if (Math.abs(term) < 1e-17) break;
      }
      return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
    }
    let f = 0;
    for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
    return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
  };
  const gelu = (x: number): number =>
    m.activation === 'gelu' ? 0.5 * x * (1 + erf(x / Math.SQRT2)) : 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const word = w('embeddings.word_embeddings.weight');
  const pos = w('embeddings.position_embeddings.weight');
  const type = w('embeddings.token_type_embeddings.weight');
  let hs: Float64Array[] = ids.map((id, t) => {
    const e = new Float64Array(H);
    for (let d = 0; d < H; d++) e[d] = (word[id * H + d] as number) + (pos[t * H + d] as number) + (type[d] as number);
    return layerNorm(e, w('embeddings.LayerNorm.weight'), w('embeddings.LayerNorm.bias'));
  });
  const dh = H / m.heads;
  for (let l = 0; l < m.layers; l++) {
    const p = `encoder.layer.${l}.`;
    const q = hs.map((x) => linear(x, w(`${p}attention.self.query.weight`), w(`${p}attention.self.query.bias`), H));
    const k = hs.map((x) => linear(x, w(`${p}attention.self.key.weight`), w(`${p}attention.self.key.bias`), H));
    const v = hs.map((x) => linear(x, w(`${p}attention.self.value.weight`), w(`${p}attention.self.value.bias`), H));
    const ctx = hs.map(() => new Float64Array(H));
    for (let h = 0; h < m.heads; h++) {
      for (let i = 0; i < T; i++) {
        const scores = new Float64Array(T);
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < dh; d++) s += (at(q, i)[h * dh + d] as number) * (at(k, j)[h * dh + d] as number);
          scores[j] = s / Math.sqrt(dh);
          max = Math.max(max, scores[j] as number);
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += scores[j] = Math.exp((scores[j] as number) - max);
        for (let j = 0; j < T; j++) for (let d = 0; d < dh; d++) at(ctx, i)[h * dh + d] = (at(ctx, i)[h * dh + d] as number) + ((scores[j] as number) / sum) * (at(v, j)[h * dh + d] as number);
      }
    }
    hs = hs.map((x, t) => {
      const a = linear(at(ctx, t), w(`${p}attention.output.dense.weight`), w(`${p}attention.output.dense.bias`), H).map((y, d) => y + (x[d] as number));
      const x1 = layerNorm(a, w(`${p}attention.output.LayerNorm.weight`), w(`${p}attention.output.LayerNorm.bias`));
      const inner = linear(x1, w(`${p}intermediate.dense.weight`), w(`${p}intermediate.dense.bias`), m.ffn).map(gelu);
      const o = linear(inner, w(`${p}output.dense.weight`), w(`${p}output.dense.bias`), H).map((y, d) => y + (x1[d] as number));
      return layerNorm(o, w(`${p}output.LayerNorm.weight`), w(`${p}output.LayerNorm.bias`));
    });
  }
  const out = new Float64Array(H);
  if (m.pooling === 'cls') out.set(at(hs, 0));
  else if (m.pooling === 'max') {
    out.fill(-Infinity);
    for (const x of hs) for (let d = 0; d < H; d++) out[d] = Math.max(out[d] as number, x[d] as number);
  } else {
    for (const x of hs) for (let d = 0; d < H; d++) out[d] = (out[d] as number) + (x[d] as number) / T;
  }
  if (m.normalize) {
    let n = 0;
    for (const x of out) n += x * x;
    n = Math.sqrt(n);
    for (let d = 0; d < H; d++) out[d] = (out[d] as number) / n;
  }
  return out;
}

/**
 * Cosine of two vectors.
 * @param a - first.
 * @param b - second.
 * @returns their cosine.
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}
