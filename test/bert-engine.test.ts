import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { readVocabTokenizer, WordPieceTokenizer } from '../src/models/bert/wordpiece.js';
import { cosine, referenceEmbed, writeTinyBert, type TinyBert, type TinyBertOptions } from './bert-fixtures.js';
import { kTestCacheDir } from './helpers.js';

const kTexts = [
  'the cat sat on the mat',
  'Hello, World!',
  'unaffable',
  'the lazy dog runs over the cat, the cat runs over the lazy dog. hello world!',
  'Naïve café 中国',
  'abc abd x',
  'running',
  'a',
];

const root = mkdtempSync(join(tmpdir(), 'vecforge-bert-'));
const engines: Engine[] = [];

async function open(model: TinyBert, workers = 1): Promise<Engine> {
  const engine = await Engine.create({ model: model.dir, cacheDir: kTestCacheDir, workers, backend: 'wasm' });
  engines.push(engine);
  return engine;
}

let n = 0;
function tiny(options: TinyBertOptions = {}): TinyBert {
  return writeTinyBert(join(root, `m${n++}`), options);
}

function idsOf(model: TinyBert, text: string, max = 64): number[] {
  const tok = new WordPieceTokenizer(readVocabTokenizer(join(model.dir, 'vocab.txt'), join(model.dir, 'tokenizer_config.json')));
  return Array.from(tok.encode(text, max).ids);
}

async function expectReference(engine: Engine, model: TinyBert, texts: readonly string[]): Promise<void> {
  const { vectors, dims, items } = await engine.embed(texts);
  expect(items).toHaveLength(texts.length);
  expect(items.every((i) => i.state === 'ok')).toBe(true);
  texts.forEach((text, r) => {
    const ref = referenceEmbed(model, idsOf(model, text));
    expect(cosine(vectors.subarray(r * dims, (r + 1) * dims), ref)).toBeGreaterThanOrEqual(0.9999);
    if (!model.normalize) {
      // Without Normalize, the scale must match too.
      for (let d = 0; d < dims; d++) expect(vectors[r * dims + d]).toBeCloseTo(ref[d] as number, 3);
    }
  });
}

let base: TinyBert;
let one: Engine;
let two: Engine;

beforeAll(async () => {
  base = tiny();
  one = await open(base, 1);
  two = await open(base, 2);
});

afterAll(async () => {
  for (const e of engines) await e.close();
  rmSync(root, { recursive: true, force: true });
});

describe('BERT directory through the engine', () => {
  test('gives identical vectors on 1 and 2 workers', async () => {
    const a = await one.embed(kTexts);
    const b = await two.embed(kTexts);
    expect(a.dims).toBe(16);
    expect(b.vectors).toHaveLength(kTexts.length * 16);
    expect(Array.from(b.vectors)).toEqual(Array.from(a.vectors));
  });

  test('equals the float64 reference forward pass (mean pooling, normalised by default)', async () => {
    await expectReference(one, base, kTexts);
  });

  test('padding never changes a text vector', async () => {
    const alone = await one.embed(['the cat sat']);
    const padded = await one.embed(['the cat sat', kTexts[3] as string, 'hello']);
    const d = alone.dims;
    let maxDiff = 0;
    for (let i = 0; i < d; i++) maxDiff = Math.max(maxDiff, Math.abs((alone.vectors[i] as number) - (padded.vectors[i] as number)));
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });

  test('info shows architecture, dims, parameters, pooling, max length and dtype', () => {
    const info = one.info();
    expect(info.model).toBe(base.dir);
    expect(info.modelId).toMatch(/^bert:m0@sha256-[0-9a-f]{32}$/);
    expect(info.dims).toBe(16);
    expect(info.modelFiles).toMatchObject({
      architecture: 'bert (2 layers, hidden 16, 4 heads, FFN 32, gelu)',
      dims: 16,
      pooling: 'mean',
      normalize: 'yes',
      maxSeqLength: 64,
      dtype: 'F32',
    });
    let params = 0;
    for (const w of base.weights.values()) params += w.length;
    expect(info.modelFiles.parameters).toBe(params);
  });

  test('per-item failures stay per item', async () => {
    const r = await one.embed(['hello', '', 42]);
    expect(r.items.map((i) => i.state)).toEqual(['ok', 'failed', 'failed']);
  });
});

describe('model variants', () => {
  test.each(['mean', 'cls', 'max'] as const)('%s pooling from 1_Pooling/config.json', async (pooling) => {
    const model = tiny({ pooling, normalize: true, seed: 11 });
    const engine = await open(model);
    expect(engine.info().modelFiles.pooling).toBe(pooling);
    await expectReference(engine, model, kTexts.slice(0, 5));
  });

  test.each(['F16', 'BF16'] as const)('%s weights, without Normalize, with gelu_new', async (dtype) => {
    const model = tiny({ dtype, normalize: false, activation: dtype === 'F16' ? 'gelu_new' : 'gelu_pytorch_tanh', prefix: false, seed: 5 });
    const engine = await open(model);
    expect(engine.info().modelFiles).toMatchObject({ dtype, normalize: 'no' });
    await expectReference(engine, model, kTexts.slice(0, 5));
  });

  test('a text over max_seq_length is cut and flagged truncated, not failed', async () => {
    const model = tiny({ maxSeqLength: 6 });
    const engine = await open(model);
    expect(engine.info().modelFiles.maxSeqLength).toBe(6);
    const r = await engine.embed(['the cat sat', 'the cat sat on the mat', 'the cat sat on']);
    expect(r.items).toEqual([{ state: 'ok' }, { state: 'ok', truncated: true }, { state: 'ok' }]);
    // The cut text is the first max_seq_length - 2 pieces.
    const ref = referenceEmbed(model, idsOf(model, 'the cat sat on the mat', 6));
    expect(cosine(r.vectors.subarray(16, 32), ref)).toBeGreaterThanOrEqual(0.9999);
  });
});
