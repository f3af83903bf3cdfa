/**
 * A TF.js layers model built and saved by TF.js in the test, embedded
 * through the engine and compared with running the same model directly.
 * Needs @tensorflow/tfjs-layers (an optional peer, like tfjs-node): skipped,
 * and said so, where it is not installed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Engine } from '../src/index.js';
import { readVocabTokenizer, WordPieceTokenizer } from '../src/models/bert/wordpiece.js';
import { isTfjsModelRuntimeInstalled } from '../src/tensor/tfjs-models.js';
import { cosine, kTinyVocab } from './bert-fixtures.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const kHasLayers = isTfjsModelRuntimeInstalled('layers');
const kTexts = ['the cat sat on the mat', 'Hello, World!', 'unaffable', 'the lazy dog runs over the cat, the cat runs over the lazy dog. hello world!', 'a'];

interface LayersApi {
  input(args: { shape: Array<number | null>; dtype: string; name: string }): unknown;
  model(args: { inputs: unknown[]; outputs: unknown; name: string }): { predict(x: tf.Tensor[]): tf.Tensor; save(handler: unknown): Promise<unknown> };
  layers: Record<string, (args: Record<string, unknown>) => { apply(x: unknown): unknown }>;
}

/** Builds ids → Embedding → Dense(tanh), + Embedding(mask), with TF.js, and saves it with a file-writing handler. */
async function buildAndSave(dir: string): Promise<{ predict(ids: number[]): Float32Array }> {
  // A variable specifier: the package is an optional peer, not installed everywhere.
  const pkg = '@tensorflow/tfjs-layers';
  const tfl = (await import(pkg)) as LayersApi;
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const ids = tfl.input({ shape: [null], dtype: 'int32', name: 'ids' });
  const mask = tfl.input({ shape: [null], dtype: 'int32', name: 'mask' });
  const emb = tfl.layers.embedding?.({ inputDim: kTinyVocab.length, outputDim: 8, name: 'emb' }).apply(ids);
  const dense = tfl.layers.dense?.({ units: 6, activation: 'tanh', name: 'dense' }).apply(emb);
  const maskEmb = tfl.layers.embedding?.({ inputDim: 2, outputDim: 6, name: 'mask_emb' }).apply(mask);
  const hidden = tfl.layers.add?.({ name: 'hidden' }).apply([dense, maskEmb]);
  const model = tfl.model({ inputs: [ids, mask], outputs: hidden, name: 'tiny' });
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: artifacts.modelTopology, format: artifacts.format, generatedBy: artifacts.generatedBy, convertedBy: artifacts.convertedBy, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  writeFileSync(join(dir, 'vocab.txt'), `${kTinyVocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  return {
    predict: (row) =>
      tf.tidy(() => {
        const x = tf.tensor2d([row], [1, row.length], 'int32');
        const m = tf.ones([1, row.length], 'int32');
        return model.predict([x, m]).dataSync() as Float32Array;
      }),
  };
}

function meanPool(hidden: Float32Array, len: number, dims: number, pooling: 'mean' | 'max' | 'cls'): Float64Array {
  const out = new Float64Array(dims);
  if (pooling === 'max') out.fill(-Infinity);
  for (let t = 0; t < (pooling === 'cls' ? 1 : len); t++) {
    for (let d = 0; d < dims; d++) {
      const v = hidden[t * dims + d] as number;
      out[d] = pooling === 'max' ? Math.max(out[d] as number, v) : (out[d] as number) + (pooling === 'mean' ? v / len : v);
    }
  }
  return out;
}

describe.skipIf(!kHasLayers)('TF.js layers model directory, built and saved by TF.js (needs @tensorflow/tfjs-layers)', () => {
  const engines: Engine[] = [];
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
  });

  test.each(['mean', 'max', 'cls'] as const)('pooling %s: engine vectors on 1 and 2 workers equal running the model directly, text by text', async (pooling) => {
    const dir = join(tempDir('vecforge-tfjs-run-'), 'model');
    const direct = await buildAndSave(dir);
    writeFileSync(join(dir, 'vecforge.json'), JSON.stringify({ inputs: { ids: 'ids', mask: 'mask' }, output: 'hidden', dims: 6, pooling, maxSeqLength: 64 }));
    const tok = new WordPieceTokenizer(readVocabTokenizer(join(dir, 'vocab.txt'), join(dir, 'tokenizer_config.json')));
    const results = [];
    for (const workers of [1, 2]) {
      const engine = await Engine.create({ model: dir, cacheDir: kTestCacheDir, workers });
      engines.push(engine);
      const info = engine.info();
      expect(info.modelId).toMatch(/^tfjs:model@sha256-[0-9a-f]{32}$/);
      expect(info.modelFiles).toMatchObject({ architecture: 'TF.js layers model (inputs ids: ids, mask: mask; output hidden)', dims: 6, pooling, maxSeqLength: 64, dtype: 'float32', weightsFile: 'weights.bin' });
      results.push(await engine.embed(kTexts));
    }
    const [one, two] = results;
    expect(Array.from(two?.vectors ?? [])).toEqual(Array.from(one?.vectors ?? []));
    kTexts.forEach((text, r) => {
      expect(one?.items[r]?.state).toBe('ok');
      const ids = Array.from(tok.encode(text, 64).ids);
      const ref = meanPool(direct.predict(ids), ids.length, 6, pooling);
      expect(cosine(one?.vectors.subarray(r * 6, (r + 1) * 6) ?? [], ref)).toBeGreaterThanOrEqual(0.99999);
    });
  });
});
