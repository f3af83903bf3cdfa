import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readFvecs, readIvecs, vecsFileBytes, writeFvecs, writeIvecs } from '../src/data/fvecs.js';
import { drawQueryIndexes, mulberry32, prepareGlove } from '../src/data/glove.js';
import { computeGroundTruth, exactCosineTopK, kGroundTruthEngines } from '../src/data/ground-truth.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vecforge-data-fvecs-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function randomMatrix(rows: number, dims: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const data = new Float32Array(rows * dims);
  for (let i = 0; i < data.length; i++) data[i] = random() * 2 - 1;
  return data;
}

/** The obvious answer: score every pair, sort everything. */
function referenceTopK(base: Float32Array, queries: Float32Array, dims: number, k: number): number[][] {
  const norm = (data: Float32Array, row: number): number => {
    let sum = 0;
    for (let d = 0; d < dims; d++) sum += (data[row * dims + d] as number) ** 2;
    return Math.sqrt(sum);
  };
  const result: number[][] = [];
  for (let q = 0; q < queries.length / dims; q++) {
    const scored: { id: number; score: number }[] = [];
    for (let b = 0; b < base.length / dims; b++) {
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += (base[b * dims + d] as number) * (queries[q * dims + d] as number);
      const denominator = norm(base, b) * norm(queries, q);
      scored.push({ id: b, score: denominator === 0 ? 0 : dot / denominator });
    }
    scored.sort((x, y) => y.score - x.score || x.id - y.id);
    result.push(scored.slice(0, k).map(({ id }) => id));
  }
  return result;
}

function rowsOf(data: Int32Array, k: number): number[][] {
  const rows: number[][] = [];
  for (let at = 0; at < data.length; at += k) rows.push(Array.from(data.subarray(at, at + k)));
  return rows;
}

describe('fvecs and ivecs', () => {
  test('an fvecs file round-trips and has the Texmex layout', () => {
    const data = randomMatrix(7, 5, 1);
    const path = join(dir, 'm.fvecs');
    writeFvecs(path, data, 5);
    expect(statSync(path).size).toBe(vecsFileBytes(7, 5));
    const bytes = readFileSync(path);
    expect(bytes.readInt32LE(0)).toBe(5);
    expect(bytes.readFloatLE(4)).toBe(data[0]);
    expect(bytes.readInt32LE(4 + 5 * 4)).toBe(5);
    const read = readFvecs(path);
    expect(read.rows).toBe(7);
    expect(read.dims).toBe(5);
    expect(Array.from(read.data)).toEqual(Array.from(data));
  });

  test('an ivecs file round-trips', () => {
    const data = Int32Array.from([0, -1, 2_147_483_647, -2_147_483_648, 42, 7]);
    const path = join(dir, 'm.ivecs');
    writeIvecs(path, data, 3);
    const read = readIvecs(path);
    expect(read).toMatchObject({ rows: 2, dims: 3 });
    expect(Array.from(read.data)).toEqual(Array.from(data));
  });

  test('an empty file reads as zero rows', () => {
    const path = join(dir, 'empty.fvecs');
    writeFvecs(path, new Float32Array(0), 4);
    expect(readFvecs(path)).toMatchObject({ rows: 0, dims: 0 });
  });

  test('writing leaves no temporary files behind', () => {
    writeFvecs(join(dir, 'a.fvecs'), randomMatrix(3, 2, 2), 2);
    expect(readdirSync(dir)).toEqual(['a.fvecs']);
  });

  test('a bad dims is a RangeError naming the rule', () => {
    expect(() => writeFvecs(join(dir, 'x.fvecs'), new Float32Array(6), 0)).toThrow(/dims must be an integer ≥ 1, got 0/);
    expect(() => writeIvecs(join(dir, 'x.ivecs'), new Int32Array(7), 3)).toThrow(/data.length must be a multiple of dims \(3\), got 7/);
  });

  test('a truncated file is rejected', () => {
    const path = join(dir, 'cut.fvecs');
    writeFvecs(path, randomMatrix(3, 4, 3), 4);
    writeFileSync(path, readFileSync(path).subarray(0, vecsFileBytes(3, 4) - 4));
    expect(() => readFvecs(path)).toThrow(/does not divide its 56 bytes/);
  });

  test('rows of different sizes are rejected', () => {
    const path = join(dir, 'mixed.ivecs');
    const bytes = Buffer.alloc(2 * (4 + 2 * 4));
    bytes.writeInt32LE(2, 0);
    bytes.writeInt32LE(3, 12);
    writeFileSync(path, bytes);
    expect(() => readIvecs(path)).toThrow(/row 1 has dims 3, row 0 has 2/);
  });

  test('a missing file is an ERR_IO error', () => {
    expect(() => readFvecs(join(dir, 'nope.fvecs'))).toThrow(expect.objectContaining({ code: 'ERR_IO' }));
  });
});

describe('ground truth', () => {
  const dims = 16;
  const base = randomMatrix(300, dims, 11);
  // Duplicate rows tie exactly: the lower row number must win.
  base.copyWithin(40 * dims, 7 * dims, 8 * dims);
  base.copyWithin(41 * dims, 7 * dims, 8 * dims);
  base.fill(0, 99 * dims, 100 * dims);
  const queries = randomMatrix(13, dims, 12);
  queries.set(base.subarray(7 * dims, 8 * dims), 0);

  test.each(kGroundTruthEngines)('the %s engine matches the brute-force reference', async (engine) => {
    const k = 12;
    const ids = await computeGroundTruth(base, queries, dims, k, { engine });
    expect(ids.length).toBe(13 * k);
    expect(rowsOf(ids, k)).toEqual(referenceTopK(base, queries, dims, k));
    expect(rowsOf(ids, k)[0]?.slice(0, 3)).toEqual([7, 40, 41]);
  });

  test('the wasm engine gives the same answer when chunked over queries and base', async () => {
    const manyQueries = randomMatrix(1100, dims, 13);
    const smallBase = base.subarray(0, 250 * dims);
    const ids = await computeGroundTruth(smallBase, manyQueries, dims, 5, { engine: 'wasm', scoreMatrixValues: 30_000 });
    expect(Array.from(ids)).toEqual(Array.from(exactCosineTopK(smallBase, manyQueries, dims, 5)));
    expect(rowsOf(ids, 5).slice(1090)).toEqual(referenceTopK(smallBase, manyQueries.subarray(1090 * dims), dims, 5));
  });

  test('k equal to the base size ranks every row', () => {
    const ids = exactCosineTopK(base.subarray(0, 20 * dims), queries, dims, 20);
    expect(rowsOf(ids, 20)).toEqual(referenceTopK(base.subarray(0, 20 * dims), queries, dims, 20));
  });

  test('out-of-range k and dims are RangeErrors naming the range', async () => {
    expect(() => exactCosineTopK(base, queries, dims, 301)).toThrow(/k must be an integer in \[1, 300\] \(the number of base rows\), got 301/);
    expect(() => exactCosineTopK(base, queries, 7, 1)).toThrow(/base.length must be a multiple of dims \(7\), got 4800/);
    await expect(computeGroundTruth(base, queries, dims, 0)).rejects.toThrow(/k must be an integer in \[1, 300\]/);
    await expect(computeGroundTruth(base, queries, dims, 1, { engine: 'gpu' as never })).rejects.toThrow(
      /options.engine must be one of wasm, js, got gpu/,
    );
    await expect(computeGroundTruth(base, queries, dims, 1, { scoreMatrixValues: 0 })).rejects.toThrow(
      /options.scoreMatrixValues must be an integer ≥ 1, got 0/,
    );
  });

  test('an aborted signal rejects with ERR_ABORTED', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(computeGroundTruth(base, queries, dims, 1, { signal: controller.signal })).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
  });
});

describe('GloVe preparation', () => {
  test('query draws are deterministic, distinct and sorted', () => {
    const a = Array.from(drawQueryIndexes(1000, 50, 7));
    expect(a).toEqual(Array.from(drawQueryIndexes(1000, 50, 7)));
    expect(new Set(a).size).toBe(50);
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(a).not.toEqual(Array.from(drawQueryIndexes(1000, 50, 8)));
    expect(() => drawQueryIndexes(10, 11, 1)).toThrow(/count must be an integer in \[0, 10\], got 11/);
  });

  test('prepareGlove writes a consistent set from a small embeddings file, then reuses it', async () => {
    const dims = 8;
    const words = Array.from({ length: 120 }, (_, i) => `w${i}`);
    const random = mulberry32(5);
    const vectors: Record<string, number[]> = {};
    words.forEach((word, i) => {
      const values = Array.from({ length: dims }, () => random() * 2 - 1);
      // One zero vector: it must be left out of both base and queries.
      if (i === 3) values.fill(0);
      const norm = Math.hypot(...values);
      vectors[word] = [...values, norm, i];
    });
    const embeddingsPath = join(dir, 'tiny.json');
    writeFileSync(embeddingsPath, JSON.stringify({ precision: 8, l2NormIndex: dims, wordIndex: dims + 1, size: 120, dimensions: dims, words, vectors }));
    const cacheDir = join(dir, 'glove');

    const first = await prepareGlove({ cacheDir, queries: 10, k: 5, embeddingsPath });
    expect(first).toMatchObject({ rows: 109, dims, queryCount: 10, k: 5, reused: false });
    const base = readFvecs(first.base);
    const queries = readFvecs(first.queries);
    const truth = readIvecs(first.groundTruth);
    expect([base.rows, queries.rows, truth.rows, truth.dims]).toEqual([109, 10, 10, 5]);
    const baseWords = readFileSync(first.baseWords, 'utf8').trimEnd().split('\n');
    const queryWords = readFileSync(first.queryWords, 'utf8').trimEnd().split('\n');
    expect(baseWords).toHaveLength(109);
    expect([...baseWords, ...queryWords].sort()).toEqual(words.filter((word) => word !== 'w3').sort());
    expect(Array.from(base.data.subarray(0, dims))).toEqual(Array.from(Float32Array.from(vectors[baseWords[0] as string]!.slice(0, dims))));
    expect(rowsOf(truth.data, 5)).toEqual(referenceTopK(base.data, queries.data, dims, 5));

    const second = await prepareGlove({ cacheDir, queries: 10, k: 5, embeddingsPath });
    expect(second.reused).toBe(true);
    const other = await prepareGlove({ cacheDir, queries: 10, k: 3, embeddingsPath, engine: 'js' });
    expect(other.reused).toBe(false);
    expect(readIvecs(other.groundTruth).dims).toBe(3);
  });

  test('bad options are rejected with the option named', async () => {
    await expect(prepareGlove({ cacheDir: '' })).rejects.toThrow(/options.cacheDir must be a non-empty string/);
    await expect(prepareGlove({ cacheDir: dir, queries: 0 })).rejects.toThrow(/options.queries must be an integer in \[1, 100000\], got 0/);
    await expect(prepareGlove({ cacheDir: dir, k: 1001 })).rejects.toThrow(/options.k must be an integer in \[1, 1000\], got 1001/);
    await expect(prepareGlove({ cacheDir: dir, embeddingsPath: join(dir, 'none.json') })).rejects.toMatchObject({ code: 'ERR_MODEL' });
  });
});

