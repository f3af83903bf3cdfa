import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { bertDirectoryDefinition } from '../src/models/bert/definition.js';
import { rawSafetensors, writeTinyBert } from './bert-fixtures.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const engines: Engine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

async function prepare(dir: string): Promise<unknown> {
  return bertDirectoryDefinition(dir).prepare({ cacheDir: kTestCacheDir, backend: 'wasm', math: 'auto' });
}

function patchConfig(dir: string, patch: Record<string, unknown>): void {
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as object), ...patch }));
}

/** Renames the weights' `bert.` prefix, rewriting the safetensors header. */
function renamePrefix(dir: string, prefix: string): void {
  const path = join(dir, 'model.safetensors');
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const renamed = Object.fromEntries(Object.entries(header).map(([k, v]) => [k.startsWith('bert.') ? `${prefix}${k.slice(5)}` : k, v]));
  writeFileSync(path, rawSafetensors(renamed, bytes.subarray(8 + headerLength)));
}

const kTexts = ['the cat sat on the mat', 'Hello, World!', 'unaffable'];

describe('BERT-layout model types', () => {
  test('model_type "ernie" (no task ids, weights under "ernie.") gives the same vectors as the same weights as "bert"', async () => {
    const root = tempDir('vecforge-types-');
    const bert = writeTinyBert(join(root, 'bert'), { seed: 7 });
    const ernie = writeTinyBert(join(root, 'ernie'), { seed: 7 });
    patchConfig(ernie.dir, { model_type: 'ernie', use_task_id: false, architectures: ['ErnieModel'] });
    renamePrefix(ernie.dir, 'ernie.');
    const a = await Engine.create({ model: bert.dir, cacheDir: kTestCacheDir, workers: 1 });
    engines.push(a);
    const b = await Engine.create({ model: ernie.dir, cacheDir: kTestCacheDir, workers: 1 });
    engines.push(b);
    expect(b.info().modelFiles.architecture).toMatch(/^ernie \(2 layers/);
    expect(b.info().modelId).not.toBe(a.info().modelId);
    const [va, vb] = [await a.embed(kTexts), await b.embed(kTexts)];
    expect(vb.items.every((i) => i.state === 'ok')).toBe(true);
    expect(Array.from(vb.vectors)).toEqual(Array.from(va.vectors));
  });

  test('ernie with a task-type embedding is refused, naming it', async () => {
    const dir = join(tempDir('vecforge-types-'), 'm');
    writeTinyBert(dir);
    patchConfig(dir, { model_type: 'ernie', use_task_id: true });
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'config.json')}: model_type "ernie" with "use_task_id": true (a task-type embedding) is not supported; supported: ernie without task ids, bert`);
  });

  test.each([
    ['roberta', ' (positions start after the padding index and the tokenizer is byte-level BPE)'],
    ['xlm-roberta', ' (positions start after the padding index and the tokenizer is SentencePiece)'],
    ['distilbert', ' (different weight names (q_lin, ffn.lin1) and no token-type embeddings)'],
    ['mpnet', ' (relative position attention bias)'],
    ['t5', ''],
  ])('model_type %j is refused with the supported list', async (type, why) => {
    const dir = join(tempDir('vecforge-types-'), 'm');
    writeTinyBert(dir);
    patchConfig(dir, { model_type: type });
    await expect(prepare(dir)).rejects.toThrow(`${join(dir, 'config.json')}: model_type "${type}" is not supported${why}; supported: bert, ernie (BERT's weight layout)`);
  });
});
