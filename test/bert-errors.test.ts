import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Engine, VecforgeError } from '../src/index.js';
import { bertDirectoryDefinition } from '../src/models/bert/definition.js';
import { rawSafetensors, safetensorsBytes, writeTinyBert } from './bert-fixtures.js';
import { kTestCacheDir, tempDir } from './helpers.js';

async function prepare(dir: string): Promise<unknown> {
  return bertDirectoryDefinition(dir).prepare({ cacheDir: kTestCacheDir, backend: 'wasm', math: 'auto' });
}

function model(edit?: (dir: string) => void): string {
  const dir = join(tempDir('vecforge-bert-err-'), 'model');
  writeTinyBert(dir, { layers: 1, hidden: 8, heads: 2, ffn: 16 });
  edit?.(dir);
  return dir;
}

function editConfig(dir: string, patch: Record<string, unknown>): void {
  const config = { model_type: 'bert', vocab_size: 38, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 64, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu' };
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...patch }));
}

describe('BERT model directory errors', () => {
  test('an empty directory: lists what is missing', async () => {
    const dir = tempDir('vecforge-bert-err-');
    await expect(prepare(dir)).rejects.toThrow(`model directory ${dir} is missing config.json, vocab.txt or tokenizer.json, model.safetensors; the directory is empty`);
  });

  test('a directory without weights: lists what it found, and says pytorch_model.bin is not supported', async () => {
    const dir = model((d) => {
      rmSync(join(d, 'model.safetensors'));
      writeFileSync(join(d, 'pytorch_model.bin'), 'x');
    });
    await expect(prepare(dir)).rejects.toThrow(`model directory ${dir} is missing model.safetensors (pytorch_model.bin is not supported: convert it to safetensors); found: config.json, pytorch_model.bin, tokenizer_config.json, vocab.txt`);
  });

  test('a directory that does not exist', async () => {
    const dir = join(tempDir('vecforge-bert-err-'), 'nope');
    await expect(prepare(dir)).rejects.toThrow(`model directory ${dir} does not exist or is not a directory`);
  });

  test.each([
    [{ model_type: 'gpt2' }, 'model_type "gpt2" is not supported; supported: bert'],
    [{ hidden_act: 'relu' }, 'hidden_act "relu" is not supported; supported: gelu, gelu_new, gelu_pytorch_tanh'],
    [{ position_embedding_type: 'relative_key' }, 'position_embedding_type "relative_key" is not supported; supported: absolute'],
    [{ hidden_size: 9 }, 'hidden_size 9 is not a multiple of num_attention_heads 2'],
    [{ num_hidden_layers: 0 }, '"num_hidden_layers" must be a positive integer, got 0'],
  ])('config.json %j is refused', async (patch, message) => {
    const dir = model((d) => editConfig(d, patch));
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'config.json')}: ${message}`);
  });

  test('an unsupported pooling mode names the supported ones', async () => {
    const dir = model((d) => {
      mkdirSync(join(d, '1_Pooling'));
      writeFileSync(join(d, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_mean_sqrt_len_tokens: true }));
    });
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, '1_Pooling', 'config.json')}: pooling mean_sqrt_len_tokens is not supported; supported: exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens`);
  });

  test('a missing tensor is named with its shape', async () => {
    const dir = model((d) => writeFileSync(join(d, 'model.safetensors'), safetensorsBytes([{ name: 'bert.embeddings.word_embeddings.weight', shape: [38, 8], data: new Float32Array(38 * 8) }])));
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: tensor "bert.embeddings.position_embeddings.weight" (shape [64, 8]) is missing; the file has 1 tensors, e.g. "bert.embeddings.word_embeddings.weight"`);
  });

  test('a tensor of the wrong shape is named with both shapes', async () => {
    const dir = model((d) => editConfig(d, { vocab_size: 40 }));
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: tensor "bert.embeddings.word_embeddings.weight" has shape [38, 8], expected [40, 8] from config.json`);
  });

  test('a lying safetensors header is refused, not allocated', async () => {
    const dir = model((d) => writeFileSync(join(d, 'model.safetensors'), rawSafetensors({ a: { dtype: 'F32', shape: [2 ** 30, 2 ** 20], data_offsets: [0, 2 ** 52] } }, new Uint8Array(8))));
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: not a valid safetensors file: tensor "a" has data_offsets [0, ${2 ** 52}] outside the 8-byte data section`);
  });

  test('Engine.create with a model path rejects with ERR_MODEL; a plain unknown name still lists the built-ins', async () => {
    const dir = join(tempDir('vecforge-bert-err-'), 'missing');
    const error = await Engine.create({ model: dir, cacheDir: kTestCacheDir, workers: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VecforgeError);
    expect((error as VecforgeError).code).toBe('ERR_MODEL');
    await expect(Engine.create({ model: 'bert', cacheDir: kTestCacheDir })).rejects.toThrow(new RangeError('options.model must be one of "glove-100d", got "bert"'));
  });

  test('the model id follows the bytes of the weights', async () => {
    const dir = model();
    const a = (await prepare(dir)) as { id: string };
    writeTinyBert(dir, { layers: 1, hidden: 8, heads: 2, ffn: 16, seed: 99 });
    const b = (await prepare(dir)) as { id: string };
    expect(a.id).toMatch(/^bert:model@sha256-/);
    expect(b.id).not.toBe(a.id);
    expect(((await prepare(dir)) as { id: string }).id).toBe(b.id);
  });
});
