import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { ensureGloveCache } from '../src/models/glove/convert.js';
import { createGloveKernel } from '../src/models/glove/kernel.js';
import { kRepoRoot, kTestCacheDir } from './helpers.js';

/** The sample corpus texts, plus variants with upper case, curly apostrophes and non-ASCII words. */
function corpusTexts(): string[] {
  const texts: string[] = [];
  for (const line of readFileSync(join(kRepoRoot, 'data', 'sample-corpus.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    texts.push((JSON.parse(line) as { text: string }).text);
  }
  const variants = texts.slice(0, 300).map((t, i) => (i % 3 === 0 ? t.toUpperCase() : i % 3 === 1 ? `${t.replace(/'/g, '\u2019')} café` : `Zürich ${t} naïve`));
  return [...texts, ...variants];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

describe('glove-100d math paths agree on real text', () => {
  test('SIMD/fused path on 1 and 2 workers: identical; TF.js ops path: equal to 1e-5', async () => {
    const texts = corpusTexts();
    const run = async (workers: number, math: 'js' | 'tfjs'): Promise<{ vectors: Float32Array; states: string[] }> => {
      const e = await Engine.create({ cacheDir: kTestCacheDir, workers, backend: 'wasm', math });
      try {
        const r = await e.embed(texts);
        return { vectors: r.vectors, states: r.items.map((x) => x.state) };
      } finally {
        await e.close();
      }
    };
    const one = await run(1, 'js');
    const two = await run(2, 'js');
    const tf = await run(1, 'tfjs');
    expect(Buffer.from(two.vectors.buffer, two.vectors.byteOffset, two.vectors.byteLength).equals(Buffer.from(one.vectors.buffer, one.vectors.byteOffset, one.vectors.byteLength))).toBe(true);
    expect(two.states).toEqual(one.states);
    expect(tf.states).toEqual(one.states);
    expect(one.states.filter((s) => s === 'ok').length).toBeGreaterThan(texts.length * 0.99);
    expect(maxAbsDiff(one.vectors, tf.vectors)).toBeLessThan(1e-5);
  });

  test('the main-thread kernel gives the same rows with and without the SIMD kernel', () => {
    const texts = corpusTexts().slice(0, 1000);
    const { buffer, header, memory } = ensureGloveCache(kTestCacheDir);
    expect(memory).toBeDefined();
    const status = new Uint8Array(texts.length);
    const simd = createGloveKernel({ buffer, header, math: 'js', memory }, undefined);
    const plain = createGloveKernel({ buffer, header, math: 'js' }, undefined);
    const a = simd.embedBatch(texts, status) as Float32Array;
    const b = plain.embedBatch(texts, status) as Float32Array;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });
});
