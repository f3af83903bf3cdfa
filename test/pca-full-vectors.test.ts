import { existsSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeFloat16, encodeFloat16, kFloat16Table, toFloat16Bits } from '../src/pca/float16.js';
import { FullVectorStore, fullRowBytes, fullRowScorer, readFullRow, writeFullRows } from '../src/pca/full-vectors.js';
import { createRng } from '../src/pca/random.js';
import { tempDir } from './helpers.js';

describe('float16', () => {
  test.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0, 0],
    [-0, 0x8000],
    [65504, 0x7bff],
    [65520, 0x7c00],
    [-1e9, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [1e-8, 0],
    [Number.POSITIVE_INFINITY, 0x7c00],
    [Number.NaN, 0x7e00],
    // Ties go to even: 1 + 2⁻¹¹ is halfway between 1 and 1 + 2⁻¹⁰.
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [0.1, 0x2e66],
  ])('%d encodes as %i', (value, bits) => {
    expect(toFloat16Bits(value)).toBe(bits);
  });

  test('every finite pattern decodes and re-encodes to itself', () => {
    for (let h = 0; h < 65536; h++) {
      const exponent = (h >>> 10) & 0x1f;
      if (exponent === 0x1f && (h & 0x3ff) !== 0) continue;
      expect(toFloat16Bits(kFloat16Table[h] ?? Number.NaN)).toBe(h);
    }
  });

  test('the rounding error is at most half a unit in the last place', () => {
    const rng = createRng(7);
    const values = Float32Array.from({ length: 10_000 }, () => rng.nextGaussian());
    const bits = new Uint16Array(values.length);
    encodeFloat16(values, bits);
    const back = new Float32Array(values.length);
    decodeFloat16(bits, back);
    values.forEach((v, i) => {
      expect(Math.abs((back[i] ?? 0) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    });
  });
});

describe('FullVectorStore', () => {
  const dims = 37;
  const rng = createRng(11);
  const rows = Float32Array.from({ length: 50 * dims }, () => rng.nextGaussian() * 1e6);
  const labels = Uint32Array.from({ length: 50 }, (_, i) => (i < 25 ? i : i + 10));

  test.each(['memory', 'disk'] as const)('%s: rows round-trip through row scaling, save and load; exact distances', (storage) => {
    const dir = tempDir();
    const store = FullVectorStore.create(storage, dims, dir);
    expect(store.rowBytes).toBe(fullRowBytes(dims));
    expect(fullRowBytes(dims)).toBe(4 + 2 * 38);
    store.ensureRows(60);
    writeFullRows(store.ref(), rows, labels);
    const out = new Float32Array(dims);
    labels.forEach((label, i) => {
      readFullRow(store.ref(), label, out);
      const row = rows.subarray(i * dims, (i + 1) * dims);
      const largest = Math.max(...row.map(Math.abs));
      // Values far beyond half precision's range survive: each row is scaled by its largest magnitude.
      for (const [d, v] of row.entries()) expect(Math.abs((out[d] ?? 0) - v)).toBeLessThanOrEqual(largest * 2 ** -11);
    });
    // A label never written reads as zeros.
    expect([...readFullRow(store.ref(), 30, out)].every((x) => x === 0)).toBe(true);
    const query = rows.slice(0, dims);
    const l2 = fullRowScorer(store.ref(), 'l2');
    const ip = fullRowScorer(store.ref(), 'ip');
    expect(l2.distance(query, 0) / 1e12).toBeCloseTo(0, 1);
    let dot = 0;
    for (let d = 0; d < dims; d++) dot += (rows[dims + d] ?? 0) * (query[d] ?? 0);
    expect(ip.distance(query, 1) / Math.abs(dot)).toBeCloseTo((1 - dot) / Math.abs(dot), 2);

    const file = join(dir, 'saved.f16');
    store.saveTo(file, 60);
    expect(statSync(file).size).toBe(60 * store.rowBytes);
    if (storage === 'disk') expect(store.workingFileBytes).toBe(60 * store.rowBytes);
    else expect(store.memoryBytes).toBeGreaterThanOrEqual(60 * store.rowBytes);
    const loaded = FullVectorStore.load(storage, dims, file, 60, dir);
    const again = new Float32Array(dims);
    for (const label of labels) expect(readFullRow(loaded.ref(), label, again)).toEqual(readFullRow(store.ref(), label, out));
    expect(() => FullVectorStore.load(storage, dims, file, 61, dir)).toThrow(`${file} is ${60 * store.rowBytes} bytes; 61 rows of ${dims} dims take ${61 * store.rowBytes}`);
    store.close();
    loaded.close();
    // Working files are removed on close.
    const scratch = join(dir, '.scratch');
    expect(existsSync(scratch) ? readdirSync(scratch) : []).toEqual([]);
    expect(() => store.ref()).toThrow('the full-vector store is closed');
  });

  test('a short saved file is refused before it is read', () => {
    const dir = tempDir();
    const store = FullVectorStore.create('memory', 8, dir);
    const file = join(dir, 'saved.f16');
    store.saveTo(file, 10);
    truncateSync(file, 5);
    expect(() => FullVectorStore.load('disk', 8, file, 10, dir)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_CORRUPT' }));
    store.close();
  });
});
