import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { getModel } from '../src/models/registry.js';
import { isTfjsModelRuntimeInstalled } from '../src/tensor/tfjs-models.js';
import { readTfjsModel, findTfjsFiles } from '../src/models/tfjs/files.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { kTfjsVecforge, writeTfjsLayersDir } from './tfjs-fixtures.js';

async function prepare(dir: string): Promise<unknown> {
  return getModel(dir).prepare({ cacheDir: kTestCacheDir, backend: 'wasm', math: 'auto' });
}

async function modelDir(options: Parameters<typeof writeTfjsLayersDir>[1] = { vecforge: { ...kTfjsVecforge } }): Promise<string> {
  return writeTfjsLayersDir(join(tempDir('vecforge-tfjs-'), 'model'), options);
}

describe('TF.js model directories: reading model.json and its weights from disk', () => {
  test('a directory with model.json is a TF.js model; its weights are read whole, in manifest order', async () => {
    const dir = await modelDir();
    expect(getModel(dir).summary).toBe(`TF.js sentence encoder from ${dir}`);
    const data = readTfjsModel(findTfjsFiles(dir));
    expect(data.format).toBe('layers');
    expect(data.weightSpecs.map((w) => w.name)).toEqual(['emb/embeddings', 'dense/kernel', 'dense/bias', 'mask_emb/embeddings']);
    expect(data.parameters).toBe(38 * 8 + 8 * 6 + 6 + 2 * 6);
    expect(data.weightData.byteLength).toBe(data.parameters * 4);
  });

  test('a weight path outside the directory, or a URL, is refused before anything is read', async () => {
    for (const p of ['../secret.bin', '/etc/passwd', 'https://example.com/w.bin', 'a/../../x.bin']) {
      const dir = await modelDir({ vecforge: { ...kTfjsVecforge }, paths: [p] });
      expect(() => readTfjsModel(findTfjsFiles(dir)), p).toThrow(/must be a file name relative to the model directory|points outside the model directory/);
    }
  });

  test('shards that do not hold exactly the bytes the weights need are refused', async () => {
    const dir = await modelDir({ vecforge: { ...kTfjsVecforge }, truncate: 4 });
    const n = 38 * 8 + 8 * 6 + 6 + 2 * 6;
    expect(() => readTfjsModel(findTfjsFiles(dir))).toThrow(`${join(dir, 'model.json')}: the weight files hold ${n * 4 - 4} bytes, but the weights listed need ${n * 4}`);
    const missing = await modelDir({ vecforge: { ...kTfjsVecforge }, paths: ['nope.bin'] });
    expect(() => readTfjsModel(findTfjsFiles(missing))).toThrow(`${join(missing, 'model.json')}: weight file nope.bin is missing`);
  });
});

describe('TF.js model directories: vecforge.json errors', () => {
  test('missing vecforge.json: says what it must hold and what was found', async () => {
    const dir = await modelDir({});
    await expect(prepare(dir)).rejects.toThrow(
      `TF.js model directory ${dir} is missing vecforge.json (it names the model's input and output tensors and the pooling: {"inputs": {"ids": "…", "mask": "…"}, "output": "…", "dims": N, "pooling": "mean"}); found: group1-shard1of1.bin, model.json, tokenizer_config.json, vocab.txt`,
    );
  });

  test.each([
    [{ ...kTfjsVecforge, inputs: { ids: 'input_ids', mask: 'mask' } }, 'inputs.ids "input_ids" is not an input of MODEL; its inputs: ids, mask'],
    [{ ...kTfjsVecforge, output: 'pooled' }, 'output "pooled" is not an output of MODEL; its outputs: hidden'],
    [{ ...kTfjsVecforge, inputs: { ids: 'ids' } }, 'MODEL has 2 inputs (ids, mask) but VF names 1 (ids: ids); each input must be named as ids, mask or tokenTypes'],
    [{ ...kTfjsVecforge, inputs: { ids: 'ids', mask: 'mask', segments: 'x' } }, 'inputs.segments is not an input role; roles: ids, mask, tokenTypes'],
    [{ ...kTfjsVecforge, pooling: 'sum' }, 'pooling "sum" is not supported; supported: mean, cls, max, none'],
    [{ ...kTfjsVecforge, dims: undefined }, '"dims" (the output\'s width) is required: MODEL does not give it'],
    [{ ...kTfjsVecforge, maxSeqLength: 2 }, '"maxSeqLength" 2 leaves no room for a token between [CLS] and [SEP]'],
  ])('vecforge.json %j is refused', async (vecforge, message) => {
    const dir = await modelDir({ vecforge });
    const expected = message.replaceAll('MODEL', join(dir, 'model.json')).replaceAll('VF', join(dir, 'vecforge.json'));
    await expect(prepare(dir)).rejects.toThrow(message.startsWith('MODEL') ? expected : `${join(dir, 'vecforge.json')}: ${expected}`);
  });

  test('a model with a third input that vecforge.json does not name: wrong input count', async () => {
    const dir = await modelDir({ vecforge: { ...kTfjsVecforge }, extraInputs: ['position_ids'] });
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'model.json')} has 3 inputs (ids, mask, position_ids) but ${join(dir, 'vecforge.json')} names 2 (ids: ids, mask: mask)`);
  });

  test.skipIf(isTfjsModelRuntimeInstalled('layers'))('without @tensorflow/tfjs-layers, a valid layers directory fails naming the package to install', async () => {
    const dir = await modelDir();
    await expect(prepare(dir)).rejects.toThrow(`${dir}: TF.js layers models need the package @tensorflow/tfjs-layers, which is not installed`);
  });

  test('a model.json that is neither format is refused', async () => {
    const dir = await modelDir();
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: { x: 1 }, weightsManifest: [] }));
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'model.json')}: not a TF.js model: "format" is undefined and "modelTopology" is neither a graph (node list) nor a Keras model config; supported: graph-model, layers-model`);
  });
});
