import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { readVocabTokenizer, WordPieceTokenizer } from '../src/models/bert/wordpiece.js';
import { loadNativeBertOps } from '../src/native/kernels.js';
import { cosine, referenceEmbed, writeTinyBert, type TinyBert, type TinyBertOptions } from './bert-fixtures.js';
import { kTestCacheDir } from './helpers.js';

const kWords = ['the', 'cat', 'sat', 'on', 'mat', 'unaffable', 'hello', 'world', '!', 'naive', 'cafe', 'dog', 'runs', 'running', 'over', 'lazy', 'xx', 'abc'];

/** Texts of 1 to 40 words from the tiny vocabulary: more tokens than one native run packs (1,024). */
function texts(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const words: string[] = [];
    for (let w = 0; w < 1 + ((i * 7) % 40); w++) words.push(kWords[(i * 13 + w * 5) % kWords.length] as string);
    out.push(words.join(' '));
  }
  return out;
}

const root = mkdtempSync(join(tmpdir(), 'vecforge-bert-native-'));
const engines: Engine[] = [];
let n = 0;

afterAll(async () => {
  for (const e of engines) await e.close();
  rmSync(root, { recursive: true, force: true });
});

async function open(model: TinyBert, math: 'auto' | 'tfjs', workers = 1): Promise<Engine> {
  const engine = await Engine.create({ model: model.dir, cacheDir: kTestCacheDir, workers, backend: 'wasm', math });
  engines.push(engine);
  return engine;
}

function idsOf(model: TinyBert, text: string): number[] {
  const tok = new WordPieceTokenizer(readVocabTokenizer(join(model.dir, 'vocab.txt'), join(model.dir, 'tokenizer_config.json')));
  return Array.from(tok.encode(text, 64).ids);
}

const ops = loadNativeBertOps();

describe.runIf(ops !== undefined)('native BERT math against the TF.js path and the float64 reference', () => {
  const cases: Array<[string, TinyBertOptions]> = [
    ['gelu, mean pooling', { seed: 3 }],
    ['gelu_new, cls pooling, F16', { seed: 4, activation: 'gelu_new', pooling: 'cls', normalize: true, dtype: 'F16' }],
    ['gelu_pytorch_tanh, max pooling, no Normalize', { seed: 6, activation: 'gelu_pytorch_tanh', pooling: 'max', normalize: false }],
  ];
  test.each(cases)('%s: the same vectors to 1e-4, both ≥ 0.9999 cosine to the reference', async (_name, options) => {
    const model = writeTinyBert(join(root, `m${n++}`), { maxPositions: 64, maxSeqLength: 64, ...options });
    const native = await open(model, 'auto');
    const tfjs = await open(model, 'tfjs');
    expect(String(native.info().modelFiles.math)).toMatch(/^native/);
    expect(String(tfjs.info().modelFiles.math)).toMatch(/^tfjs/);
    const input = texts(90);
    const a = await native.embed(input);
    const b = await tfjs.embed(input);
    expect(a.vectors).toHaveLength(input.length * a.dims);
    expect(b.vectors).toHaveLength(a.vectors.length);
    expect(a.items.filter((i) => i.state === 'ok')).toHaveLength(input.length);
    let maxDiff = 0;
    for (let i = 0; i < a.vectors.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a.vectors[i] as number) - (b.vectors[i] as number)));
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    const d = a.dims;
    for (const r of [0, 1, 17, 45, 89]) {
      const ref = referenceEmbed(model, idsOf(model, input[r] as string));
      expect(cosine(a.vectors.subarray(r * d, (r + 1) * d), ref)).toBeGreaterThanOrEqual(0.9999);
      expect(cosine(b.vectors.subarray(r * d, (r + 1) * d), ref)).toBeGreaterThanOrEqual(0.9999);
    }
  });

  test('a text gets the same bits alone, packed with others, and on 2 workers', async () => {
    const model = writeTinyBert(join(root, `m${n++}`), { seed: 8, maxPositions: 64, maxSeqLength: 64 });
    const one = await open(model, 'auto', 1);
    const two = await open(model, 'auto', 2);
    const input = texts(90);
    const alone = await one.embed([input[45] as string]);
    const packed = await one.embed(input);
    const onTwo = await two.embed(input);
    const d = alone.dims;
    expect(Array.from(packed.vectors.subarray(45 * d, 46 * d))).toEqual(Array.from(alone.vectors));
    expect(Array.from(onTwo.vectors)).toEqual(Array.from(packed.vectors));
  });

  test('VECFORGE_NATIVE=0 selects the TF.js path', async () => {
    const model = writeTinyBert(join(root, `m${n++}`), { seed: 9 });
    process.env['VECFORGE_NATIVE'] = '0';
    try {
      const engine = await open(model, 'auto');
      expect(engine.info().modelFiles.math).toBe('tfjs (native addon not available)');
    } finally {
      delete process.env['VECFORGE_NATIVE'];
    }
  });
});

describe.runIf(ops !== undefined)('native BERT ops', () => {
  const native = ops as NonNullable<typeof ops>;
  const fill = (count: number, seed: number): Float32Array => Float32Array.from({ length: count }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.8);

  test.each([
    [0, (x: number) => x],
    [1, (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
    [2, (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
  ])('linearRows (activation %i) equals x · Wᵀ + b in float64 to 1e-5', (activation, act) => {
    const [m, k, outDims] = [13, 70, 37];
    const x = fill(m * k, 1);
    const w = fill(outDims * k, 2);
    const b = fill(outDims, 3);
    const out = native.linearRows(x, w, b, new Float32Array(m * outDims), activation);
    expect(out).toHaveLength(m * outDims);
    let maxDiff = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < outDims; j++) {
        let s = b[j] as number;
        for (let d = 0; d < k; d++) s += (x[i * k + d] as number) * (w[j * k + d] as number);
        maxDiff = Math.max(maxDiff, Math.abs(act(s) - (out[i * outDims + j] as number)));
      }
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });

  test('attentionRows over packed sequences equals each sequence alone', () => {
    const lengths = [5, 1, 9];
    const h = 12;
    const total = 15;
    const [q, k, v] = [fill(total * h, 4), fill(total * h, 5), fill(total * h, 6)];
    const packed = native.attentionRows(q, k, v, Int32Array.from(lengths), 3, new Float32Array(total * h));
    let at = 0;
    for (const len of lengths) {
      const part = (a: Float32Array): Float32Array => a.slice(at * h, (at + len) * h);
      const alone = native.attentionRows(part(q), part(k), part(v), Int32Array.of(len), 3, new Float32Array(len * h));
      expect(Array.from(packed.subarray(at * h, (at + len) * h))).toEqual(Array.from(alone));
      at += len;
    }
    // A one-token sequence attends only to itself: its context is its own value row.
    for (let d = 0; d < h; d++) expect(packed[5 * h + d]).toBeCloseTo(v[5 * h + d] as number, 6);
  });

  test('bad shapes are refused with the argument named', () => {
    const x = new Float32Array(6);
    expect(() => native.linearRows(x, new Float32Array(6), new Float32Array(2), new Float32Array(5), 0)).toThrow(/out\.length \(5\) must be rows × bias\.length = 4/);
    expect(() => native.linearRows(x, new Float32Array(7), new Float32Array(2), new Float32Array(4), 0)).toThrow(/weight\.length \(7\) must be a positive multiple of bias\.length \(2\)/);
    expect(() => native.linearRows(x, new Float32Array(6), new Float32Array(2), new Float32Array(4), 3)).toThrow(RangeError);
    expect(() => native.attentionRows(x, x, x, Int32Array.of(0), 1, x)).toThrow(/lengths\[0\] must be in \[1, 65536\], got 0/);
    expect(() => native.attentionRows(x, x, x, Int32Array.of(3), 4, x)).toThrow(/hidden size 2 must be a multiple of heads \(4\)/);
    expect(() => native.layerNormRows(x, new Float32Array(3), new Float32Array(3), new Float32Array(3), 1e-12)).toThrow(/residual\.length \(3\) must equal x\.length \(6\)/);
    expect(() => native.linearRows(x, new Float32Array(6), new Float32Array(0), new Float32Array(4), 0)).toThrow(/bias\.length must be 1\.\..*, got 0/);
    expect(() => native.linearRows(new Float32Array(5), new Float32Array(6), new Float32Array(2), new Float32Array(4), 0)).toThrow(RangeError);
    expect(() => native.attentionRows(new Float32Array(5), x, x, Int32Array.of(2), 1, x)).toThrow(/q\.length \(5\) must be a positive multiple of Σ lengths \(2\)/);
    expect(() => native.attentionRows(x, new Float32Array(4), x, Int32Array.of(2), 1, x)).toThrow(/k, v and out must have q's length \(6\)/);
    expect(() => native.layerNormRows(x, null, new Float32Array(3), new Float32Array(2), 1e-12)).toThrow(/beta\.length \(2\) must equal gamma\.length \(3\)/);
    expect(() => native.layerNormRows(x, null, new Float32Array(3), new Float32Array(3), 2)).toThrow(/eps must be in \[0, 1\], got 2/);
    expect(() => native.layerNormRows(x, null, new Float32Array(3), new Float32Array(3), Number.NaN)).toThrow(RangeError);
    expect(() => native.linearRows(x, new Float32Array(6), new Float32Array(2), new Float64Array(4) as unknown as Float32Array, 0)).toThrow(TypeError);
  });
});

/** erf to double precision (series for |x| < 3, continued fraction beyond). */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 3) {
    // erfc(a) ≈ e^(−a²)/(a√π) · (1 − 1/(2a²) + 3/(4a⁴)), well below 1e-5 here.
    const c = (Math.exp(-a * a) / (a * Math.sqrt(Math.PI))) * (1 - 1 / (2 * a * a) + 3 / (4 * a ** 4));
    return Math.sign(x) * (1 - c);
  }
  let term = x;
  let sum = x;
  for (let k = 1; k < 60; k++) {
    term *= (-x * x) / k;
    sum += term / (2 * k + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
