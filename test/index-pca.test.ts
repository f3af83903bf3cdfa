import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, type Hit, type IndexOptions, type VectorIndex } from '../src/index.js';
import { pcaOptionsFromManifest } from '../src/pca/index-options.js';
import { currentVersion, hashFile } from '../src/index/persist.js';
import { serializePcaModel, type PcaModel } from '../src/pca/model.js';
import { exactTopK, gloveRows, kTestCacheDir, tempDir } from './helpers.js';

const kBase = 6000;
const kQueries = 200;
const base = gloveRows(kBase);
const queries = gloveRows(kQueries, 1000 + kBase);
const truth = Array.from({ length: kQueries }, (_, i) => exactTopK(base, queries.subarray(i * 100, (i + 1) * 100), 10));
const vec = (i: number): Float32Array => base.subarray(i * 100, (i + 1) * 100);
const items = (n: number, from = 0): Array<{ id: string; vector: Float32Array }> => Array.from({ length: n }, (_, i) => ({ id: String(from + i), vector: vec(from + i) }));

function recall(results: readonly Hit[][]): number {
  let hit = 0;
  results.forEach((hits, i) => {
    const want = new Set((truth[i] ?? []).map(String));
    for (const h of hits) if (want.has(h.id)) hit++;
  });
  return hit / (results.length * 10);
}

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

async function build(options: Partial<IndexOptions> = {}, n = kBase): Promise<VectorIndex> {
  const index = await engine.createIndex({ dir: tempDir(), m: 16, efConstruction: 100, capacity: 100, pca: { dims: 32, sample: 4000 }, ...options });
  const out = await index.addBatch(items(n));
  expect(out.every((o) => o.state === 'ok')).toBe(true);
  return index;
}

describe('pca index options', () => {
  test.each([
    [{ pca: 5 }, TypeError, 'options.pca must be an object { dims?, sample?, rerank?, rerankFactor?, rerankStorage?, seed? }, got number 5'],
    [{ pca: {} }, RangeError, 'options.pca.dims must be smaller than the input dims: options.pca.dims is 256, options.dims is 100'],
    [{ pca: { dims: 100 } }, RangeError, 'options.pca.dims must be smaller than the input dims: options.pca.dims is 100, options.dims is 100'],
    [{ dims: 64, pca: { dims: 128 } }, RangeError, 'options.pca.dims must be smaller than the input dims: options.pca.dims is 128, options.dims is 64'],
    [{ pca: { dims: 0 } }, RangeError, 'options.pca.dims must be an integer in [1, 8192], got 0'],
    [{ pca: { dims: '32' } }, TypeError, 'options.pca.dims must be an integer in [1, 8192], got "32"'],
    [{ dims: 10_000, pca: { dims: 16 } }, RangeError, 'options.pca needs input dims of at most 8192, the index has options.dims = 10000'],
    [{ pca: { dims: 32, sample: 16 } }, RangeError, 'options.pca.sample must be at least options.pca.dims (32) to fit 32 components, got 16'],
    [{ pca: { dims: 32, sample: 1.5 } }, RangeError, 'options.pca.sample must be an integer in [2, 16777216], got 1.5'],
    [{ pca: { dims: 32, sample: 16_000_000 } }, RangeError, 'options.pca.sample × options.dims must be at most 1073741824, got 16000000 × 100'],
    [{ pca: { dims: 32, rerank: 'yes' } }, TypeError, 'options.pca.rerank must be a boolean, got "yes"'],
    [{ pca: { dims: 32, rerankFactor: 0 } }, RangeError, 'options.pca.rerankFactor must be an integer in [1, 1000], got 0'],
    [{ pca: { dims: 32, rerankStorage: 'ssd' } }, RangeError, 'options.pca.rerankStorage must be one of "disk", "memory", got "ssd"'],
    [{ pca: { dims: 32, seed: -1 } }, RangeError, 'options.pca.seed must be an integer in [0, 4294967295], got -1'],
    [{ pca: { dim: 32 } }, TypeError, 'options.pca.dim is not a known PCA option; known: dims, sample, rerank, rerankFactor, rerankStorage, seed'],
  ])('%j is refused', async (options, type, message) => {
    await expect(engine.createIndex({ dir: tempDir(), ...options } as never)).rejects.toThrow(new type(message));
  });

  test('null and false mean no PCA', async () => {
    for (const pca of [null, false] as const) {
      const index = await engine.createIndex({ dir: tempDir(), pca });
      expect(index.stats().pca).toBeNull();
      await index.close();
    }
  });

  test('search options: rerankFactor is checked and needs kept full vectors', async () => {
    const plain = await engine.createIndex({ dir: tempDir() });
    await plain.addBatch(items(20));
    await expect(plain.search(vec(0), { rerankFactor: 4 })).rejects.toThrow(new RangeError('options.rerankFactor needs a PCA index that keeps full vectors (created with pca.rerank true)'));
    expect(await plain.search(vec(0), { k: 1, rerankFactor: 0 })).toHaveLength(1);
    await expect(plain.search(vec(0), { rerankFactor: -1 })).rejects.toThrow(new RangeError('options.rerankFactor must be an integer in [0, 1000], got -1'));
    await expect(plain.search(vec(0), { rerankFactor: 'x' as never })).rejects.toThrow(new TypeError('options.rerankFactor must be an integer in [0, 1000], got x'));
    await expect(plain.fitPca()).rejects.toMatchObject({ code: 'ERR_PCA', message: 'this index has no PCA; create it with options.pca' });
    await expect(plain.refitPca()).rejects.toMatchObject({ code: 'ERR_PCA', message: 'this index has no PCA; create it with options.pca' });
    await plain.close();
  });
});

describe('sampling and the fit', () => {
  test('vectors added before the fit are buffered, sampled, and inserted once the sample is complete', async () => {
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 16, sample: 500 } });
    await index.addBatch(items(300));
    expect(index.stats()).toMatchObject({ count: 300, dims: 100, pca: { state: 'sampling', inputDims: 100, outputDims: 16, seen: 300, pending: 300, fittedOn: null, explainedVarianceRatio: null } });
    expect(index.getProjectedVector('7')).toBeUndefined();
    expect(index.getVector('7')).toEqual(vec(7));
    await index.addBatch(items(300, 300));
    const stats = index.stats();
    expect(stats.pca).toMatchObject({ state: 'fitted', seen: null, pending: 0, fittedOn: 500, zeroVarianceComponents: 0 });
    expect(stats.pca?.explainedVarianceRatio).toBeGreaterThan(0.3);
    expect(stats.pca?.explainedVarianceRatio).toBeLessThan(1);
    expect(index.getProjectedVector('7')).toHaveLength(16);
    // The kept full vector, in half precision, serves as a query.
    const full = index.getVector('7') ?? new Float32Array(0);
    expect(full).toHaveLength(100);
    for (const [d, x] of full.entries()) expect(x).toBeCloseTo(vec(7)[d] ?? 0, 3);
    const [top] = await index.search(vec(7), { k: 1 });
    expect(top?.id).toBe('7');
    expect(top?.score).toBeCloseTo(1, 3);
    await index.close();
  });

  test('a search, a save or fitPca() fits early; fewer vectors than pca.dims is a clear error', async () => {
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 32, sample: 1000 } });
    await index.addBatch(items(10));
    const message = 'cannot fit PCA: 10 vectors added, fewer than the 32 the fit needs (options.pca.dims = 32); add more vectors before searching, saving or calling fitPca()';
    await expect(index.search(vec(0))).rejects.toMatchObject({ code: 'ERR_PCA', message });
    await expect(index.save()).rejects.toMatchObject({ code: 'ERR_PCA', message });
    await expect(index.fitPca()).rejects.toMatchObject({ code: 'ERR_PCA', message });
    await index.addBatch(items(90, 10));
    const [hit] = await index.search(vec(50), { k: 1 });
    expect(hit?.id).toBe('50');
    const summary = await index.fitPca();
    expect(summary).toMatchObject({ inputDims: 100, outputDims: 32, fittedOn: 100, fitMs: 0, inserted: 0 });
    expect(summary.explainedVariance).toHaveLength(32);
    await index.close();

    const explicit = await engine.createIndex({ dir: tempDir(), pca: { dims: 32, sample: 1000 } });
    await explicit.addBatch(items(200));
    const fitted = await explicit.fitPca();
    expect(fitted).toMatchObject({ fittedOn: 200, inserted: 200 });
    expect(fitted.fitMs).toBeGreaterThan(0);
    await explicit.close();
  });

  test('fitPca() and refitPca() take a signal: an aborted one rejects with AbortError and fits nothing', async () => {
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 16, sample: 1000 } });
    await index.addBatch(items(100));
    const reason = new Error('stop');
    await expect(index.fitPca({ signal: AbortSignal.abort(reason) })).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED', cause: reason });
    await expect(index.refitPca({ signal: AbortSignal.abort(reason) })).rejects.toMatchObject({ name: 'AbortError', cause: reason });
    expect(index.stats().pca).toMatchObject({ state: 'sampling', pending: 100 });
    await index.close();
  });

  test('buffered items can be deleted and upserted before the fit', async () => {
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 16, sample: 1000 } });
    await index.addBatch(items(200));
    expect(await index.delete(['3', '4'])).toEqual([
      { state: 'ok', id: '3' },
      { state: 'ok', id: '4' },
    ]);
    await index.upsert([{ id: '5', vector: vec(900), metadata: { moved: true } }]);
    expect(index.stats().pca).toMatchObject({ pending: 198 });
    const hits = await index.search(vec(3), { k: 20 });
    expect(hits.some((h) => h.id === '3' || h.id === '4')).toBe(false);
    const [moved] = await index.search(vec(900), { k: 1 });
    expect(moved).toMatchObject({ id: '5', metadata: { moved: true } });
    expect(index.stats()).toMatchObject({ count: 198, pca: { state: 'fitted', pending: 0 } });
    await index.close();
  });

  test('texts are embedded, buffered, then projected and inserted inside the workers', async () => {
    const docs = readFileSync(join(__dirname, '..', 'data', 'sample-corpus.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(0, 400)
      .map((l) => JSON.parse(l) as { id: string; text: string });
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 48, sample: 200 } });
    // The first batch completes the sample: fit, then the buffered texts go in; the second is embedded and projected in the workers.
    const first = await index.addBatch(docs.slice(0, 250).map((d) => ({ id: d.id, text: d.text })));
    expect(first.every((o) => o.state === 'ok')).toBe(true);
    expect(index.stats().pca).toMatchObject({ state: 'fitted', fittedOn: 200, pending: 0 });
    const second = await index.addBatch(docs.slice(250).map((d) => ({ id: d.id, text: d.text })));
    expect(second.every((o) => o.state === 'ok')).toBe(true);
    for (const at of [7, 300]) {
      // The graph's cosine (hybrid, the default for texts, scores by fused rank).
      const [hit] = await index.search(docs[at]?.text ?? '', { k: 1, mode: 'vector' });
      expect(hit?.id).toBe(docs[at]?.id);
      expect(hit?.score).toBeCloseTo(1, 2);
    }
    expect(index.get(docs[300]?.id ?? '')?.hash).toMatch(/^[0-9a-f]{64}$/);
    await index.close();
  });
});

describe('degenerate data', () => {
  test.each([true, false])('constant data (rerank %s): no NaN, zero-variance components reported, search still works', async (rerank) => {
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 16, sample: 100, rerank } });
    const constant = vec(1);
    await index.addBatch(Array.from({ length: 150 }, (_, i) => ({ id: `c${i}`, vector: constant })));
    const stats = index.stats();
    expect(stats.pca).toMatchObject({ state: 'fitted', explainedVarianceRatio: 0, zeroVarianceComponents: 16 });
    const hits = await index.search(constant, { k: 10 });
    expect(hits).toHaveLength(10);
    for (const h of hits) {
      expect(Number.isFinite(h.score)).toBe(true);
      // Exact rerank: identical vectors score 1; the graph alone sees zero projections, score 0.
      expect(h.score).toBeCloseTo(rerank ? 1 : 0, 2);
    }
    expect([...(index.getProjectedVector('c0') ?? [])].every((x) => Number.isFinite(x))).toBe(true);
    await index.close();
  });

  test('data of lower rank than pca.dims still fits and finds exact neighbours', async () => {
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 16, sample: 300 } });
    // Mixtures of 4 GloVe vectors: rank 4 before normalisation.
    const rows = Array.from({ length: 300 }, (_, i) => {
      const v = new Float32Array(100);
      for (let j = 0; j < 4; j++) for (let d = 0; d < 100; d++) v[d] = (v[d] ?? 0) + Math.sin(i * (j + 1)) * (base[j * 100 + d] ?? 0);
      return { id: `r${i}`, vector: v };
    });
    await index.addBatch(rows);
    expect(index.stats().pca?.zeroVarianceComponents).toBeGreaterThan(8);
    const [top] = await index.search(rows[42]?.vector ?? new Float32Array(100), { k: 1 });
    expect(top?.id).toBe('r42');
    expect(Number.isFinite(top?.score)).toBe(true);
    await index.close();
  });
});

describe('recall on real GloVe vectors, 100 → 32 dims', () => {
  test.each(['disk', 'memory'] as const)('PCA alone, then PCA + exact rerank (%s storage), against exact search on the full vectors', async (rerankStorage) => {
    const index = await build({ pca: { dims: 32, sample: 4000, rerankStorage } });
    const alone = recall(await index.searchBatch(queries, { k: 10, ef: 100, rerankFactor: 0 }));
    const byDefault = recall(await index.searchBatch(queries, { k: 10, ef: 100 }));
    const wide = recall(await index.searchBatch(queries, { k: 10, ef: 100, rerankFactor: 16 }));
    // 32 of 100 dims keep about 60% of GloVe's variance: the graph alone finds half of the true top 10; exact reranking of more candidates recovers them.
    expect(alone).toBeGreaterThan(0.4);
    expect(byDefault).toBeGreaterThan(0.8);
    expect(wide).toBeGreaterThanOrEqual(0.95);
    const single = await index.search(queries.slice(0, 100), { k: 10, ef: 100, rerankFactor: 16 });
    expect(single.map((h) => h.id)).toEqual((await index.searchBatch(queries.subarray(0, 100), { k: 10, ef: 100, rerankFactor: 16 }))[0]?.map((h) => h.id));
    // Reranked scores are exact cosines (half-precision full vectors).
    const q0 = queries.subarray(0, 100);
    for (const h of single) {
      const v = vec(Number(h.id));
      let dot = 0;
      for (let d = 0; d < 100; d++) dot += (v[d] ?? 0) * (q0[d] ?? 0);
      expect(h.score).toBeCloseTo(dot, 2);
    }
    const stats = index.stats();
    expect(stats.pca?.bytesPerVector.withPca).toBe(stats.bytesPerVector + (rerankStorage === 'memory' ? 204 : 0));
    expect(stats.pca).toMatchObject({
      inputDims: 100,
      outputDims: 32,
      rerankStorage,
      vectorBytesPerVector: { withPca: 128 + (rerankStorage === 'memory' ? 204 : 0), withoutPca: 400 },
      fullVectors: { encoding: 'float16-rowscaled', bytesPerRow: 204, rows: kBase, savedBytes: kBase * 204 },
    });
    expect(stats.pca?.bytesPerVector.withoutPca).toBeGreaterThan(stats.pca?.bytesPerVector.withPca ?? Infinity);
    if (rerankStorage === 'disk') expect(stats.pca?.fullVectors).toMatchObject({ memoryBytes: 0, diskBytes: kBase * 204 });
    else {
      expect(stats.pca?.fullVectors?.memoryBytes).toBeGreaterThanOrEqual(kBase * 204);
      expect(stats.pca?.fullVectors?.diskBytes).toBe(0);
    }
    await index.close();
  });
});

describe('persistence', () => {
  test('save then open: identical projections and search results; new vectors are projected with the stored model', async () => {
    const dir = tempDir();
    const index = await engine.createIndex({ dir, m: 16, efConstruction: 100, pca: { dims: 32, sample: 2000 } });
    await index.addBatch(items(3000));
    const before = await index.searchBatch(queries, { k: 10, ef: 64 });
    const plainBefore = await index.searchBatch(queries, { k: 10, ef: 64, rerankFactor: 0 });
    const version = await index.save();
    const reopened = await engine.openIndex(dir);
    expect(reopened.stats()).toMatchObject({ count: 3000, version, dims: 100, pca: { state: 'fitted', outputDims: 32, fittedOn: 2000 } });
    expect(reopened.stats().pca?.explainedVarianceRatio).toBe(index.stats().pca?.explainedVarianceRatio);
    expect(await reopened.searchBatch(queries, { k: 10, ef: 64 })).toEqual(before);
    expect(await reopened.searchBatch(queries, { k: 10, ef: 64, rerankFactor: 0 })).toEqual(plainBefore);
    for (const id of ['0', '17', '2999']) {
      expect(reopened.getProjectedVector(id)).toEqual(index.getProjectedVector(id));
      expect(reopened.getVector(id)).toEqual(index.getVector(id));
    }
    const fresh = [{ id: 'new', vector: queries.slice(0, 100) }];
    await index.addBatch(fresh);
    await reopened.addBatch(fresh);
    expect(reopened.getProjectedVector('new')).toEqual(index.getProjectedVector('new'));
    const [self] = await reopened.search(reopened.getVector('17') ?? new Float32Array(0), { k: 1 });
    expect(self?.id).toBe('17');
    const manifest = JSON.parse(readFileSync(join(currentVersion(dir)?.path ?? '', 'manifest.json'), 'utf8')) as { dims: number; files: Record<string, unknown>; extra: { pca: Record<string, unknown> } };
    expect(manifest.dims).toBe(32);
    expect(Object.keys(manifest.files).sort()).toEqual(['docs.lmdb', 'full-vectors.f16', 'graph.hnsw', 'pca.model']);
    expect(manifest.extra.pca).toMatchObject({ inputDims: 100, outputDims: 32, model: { file: 'pca.model', fittedOn: 2000 }, fullVectors: { file: 'full-vectors.f16', rows: 3000, dims: 100 } });
    // A full rebuild recreates the same PCA settings.
    expect(pcaOptionsFromManifest(manifest)).toEqual({ dims: 32, sample: 2000, rerank: true, rerankFactor: 4, rerankStorage: 'disk', seed: 0x5eed });
    expect(pcaOptionsFromManifest({ extra: {} })).toBeNull();
    await Promise.all([index.close(), reopened.close()]);
  });

  test('an empty PCA index saves unfitted and samples again after opening', async () => {
    const dir = tempDir();
    const index = await engine.createIndex({ dir, pca: { dims: 16, sample: 100, rerank: false } });
    await index.save();
    await index.close();
    const reopened = await engine.openIndex(dir);
    expect(reopened.stats().pca).toMatchObject({ state: 'sampling', seen: 0, rerank: false, fullVectors: null });
    await reopened.addBatch(items(150));
    expect(reopened.stats().pca).toMatchObject({ state: 'fitted', fittedOn: 100 });
    await reopened.close();
  });

  async function savedPca(): Promise<{ dir: string; version: string }> {
    const dir = tempDir();
    const index = await engine.createIndex({ dir, pca: { dims: 32, sample: 300 } });
    await index.addBatch(items(300));
    await index.save();
    await index.close();
    return { dir, version: currentVersion(dir)?.path ?? '' };
  }

  function replaceModel(version: string, model: PcaModel): string {
    const file = join(version, 'pca.model');
    writeFileSync(file, serializePcaModel(model));
    const manifestPath = join(version, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, unknown> };
    // The checksum matches: only the dims check can catch it.
    manifest.files['pca.model'] = hashFile(file);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    return file;
  }

  const identityModel = (inputDims: number, outputDims: number): PcaModel => {
    const components = new Float32Array(outputDims * inputDims);
    for (let i = 0; i < outputDims; i++) components[i * inputDims + i] = 1;
    return { inputDims, outputDims, mean: new Float32Array(inputDims), components, explainedVariance: new Float32Array(outputDims).fill(1), explainedVarianceRatio: 0.5, fittedOn: 10 };
  };

  test('a PCA model file whose dims disagree with the manifest is refused', async () => {
    const { dir, version } = await savedPca();
    let file = replaceModel(version, identityModel(100, 16));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({
      code: 'ERR_INDEX_CORRUPT',
      message: `index ${dir}: the PCA model is refused: ${file}: PCA model output dims mismatch: the model maps 100 → 16 dims, expected output dims 32`,
    });
    file = replaceModel(version, identityModel(64, 32));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({
      code: 'ERR_INDEX_CORRUPT',
      message: `index ${dir}: the PCA model is refused: ${file}: PCA model input dims mismatch: the model maps 64 → 32 dims, expected input dims 100`,
    });
  });

  test('every malformed pca section of a manifest is refused with its reason', async () => {
    const { dir, version } = await savedPca();
    const manifestPath = join(version, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { extra: { pca: Record<string, unknown> } };
    const section = manifest.extra.pca;
    const cases: Array<[unknown, string]> = [
      [7, 'is not an object'],
      [{ ...section, inputDims: 1 }, 'has no valid inputDims'],
      [{ ...section, outputDims: 100 }, 'has no valid outputDims'],
      [{ ...section, rerank: 'yes' }, 'has no valid rerank'],
      [{ ...section, rerankStorage: 'tape' }, 'has no valid rerankStorage'],
      [{ ...section, sample: 0 }, 'has no valid sample'],
      [{ ...section, rerankFactor: 0 }, 'has no valid rerankFactor'],
      [{ ...section, seed: -1 }, 'has no valid seed'],
      [{ ...section, model: { file: 'other.model', fittedOn: 1, explainedVarianceRatio: 0.5 } }, 'names no checksummed model file'],
      [{ ...section, fullVectors: { file: 'graph.hnsw', encoding: 'float16-rowscaled', dims: 100 } }, 'names no checksummed full-vector file'],
    ];
    for (const [pca, why] of cases) {
      writeFileSync(manifestPath, JSON.stringify({ ...manifest, extra: { pca } }));
      await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: `index ${dir}: the manifest's pca section ${why}` });
    }
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, extra: { pca: { ...section, fullVectors: null } } }));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: `index ${dir} reranks but has no full-vector file` });
  });

  test('a manifest whose pca section disagrees with it is refused, and so is a flipped byte in the full vectors', async () => {
    const { dir, version } = await savedPca();
    const manifestPath = join(version, 'manifest.json');
    const original = readFileSync(manifestPath, 'utf8');
    const manifest = JSON.parse(original) as { extra: { pca: Record<string, unknown> } };
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, extra: { pca: { ...manifest.extra.pca, outputDims: 16 } } }));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: `index ${dir}: the manifest's pca section says 16 output dims, the manifest's dims are 32` });
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, extra: { pca: { ...manifest.extra.pca, model: null } } }));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: `index ${dir} holds 300 items but no PCA model` });
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, extra: { pca: { ...manifest.extra.pca, fullVectors: { file: 'full-vectors.f16', encoding: 'float32', dims: 100, rows: 300 } } } }));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({
      code: 'ERR_INDEX_CORRUPT',
      message: `index ${dir}: the manifest's pca section describes full vectors as float32 × 100 dims, expected float16-rowscaled × 100`,
    });
    writeFileSync(manifestPath, original);
    const full = join(version, 'full-vectors.f16');
    const bytes = readFileSync(full);
    bytes[1000] = (bytes[1000] ?? 0) ^ 0xff;
    writeFileSync(full, bytes);
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: `index ${dir}: file full-vectors.f16 does not match its checksum` });
  });
});

describe('verify', () => {
  test('vecforge verify accepts a saved PCA index (the manifest holds the projected dims)', async () => {
    const { verifyIndex } = await import('../src/index.js');
    const dir = tempDir();
    const index = await build({ dir }, 4500);
    await index.save();
    await index.close();
    const report = await verifyIndex(dir, engine);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

describe('refit', () => {
  test('refitPca() refits on a fresh sample and rebuilds the graph; searches keep working', async () => {
    const index = await build({ pca: { dims: 32, sample: 1000 } }, 3000);
    const before = recall(await index.searchBatch(queries, { k: 10, ef: 100, rerankFactor: 16 }));
    await index.delete(['1', '2']);
    const searching = index.searchBatch(queries, { k: 10, ef: 100 });
    const summary = await index.refitPca({ sample: 2500 });
    await searching;
    expect(summary).toMatchObject({ inputDims: 100, outputDims: 32, fittedOn: 2500, inserted: 2998 });
    expect(index.stats()).toMatchObject({ count: 2998, deleted: 0, pca: { fittedOn: 2500 } });
    const after = recall(await index.searchBatch(queries, { k: 10, ef: 100, rerankFactor: 16 }));
    expect(Math.abs(after - before)).toBeLessThan(0.05);
    const [top] = await index.search(vec(77), { k: 1 });
    expect(top?.id).toBe('77');
    await expect(index.refitPca({ sample: 8 })).rejects.toThrow(new RangeError('options.sample must be an integer in [32, 16777216], got 8'));
    await expect(index.refitPca({ sample: '8' as never })).rejects.toThrow(new TypeError('options.sample must be an integer in [32, 16777216], got 8'));
    await index.close();
  });

  test('refitPca() on too few live vectors is refused; on a sampling index it is the first fit', async () => {
    const index = await engine.createIndex({ dir: tempDir(), pca: { dims: 32, sample: 1000 } });
    await index.addBatch(items(100));
    expect(await index.refitPca()).toMatchObject({ fittedOn: 100, inserted: 100 });
    await index.delete(Array.from({ length: 80 }, (_, i) => String(i)));
    await expect(index.refitPca()).rejects.toMatchObject({ code: 'ERR_PCA', message: 'cannot refit PCA: the index holds 20 vectors, fewer than the 32 the fit needs (options.pca.dims = 32)' });
    await index.close();
  });

  test('refitPca() without kept full vectors is refused', async () => {
    const index = await build({ pca: { dims: 32, sample: 500, rerank: false } }, 600);
    await expect(index.refitPca()).rejects.toMatchObject({
      code: 'ERR_PCA',
      message: 'refitPca needs the full vectors, but this index was created with pca.rerank false; rebuild it from its source (vecforge reindex --full)',
    });
    expect(index.stats().pca).toMatchObject({ rerank: false, fullVectors: null, vectorBytesPerVector: { withPca: 128, withoutPca: 400 } });
    expect(index.getVector('3')).toBeUndefined();
    expect(index.getProjectedVector('3')).toHaveLength(32);
    await index.close();
  });
});

describe('without the native core', () => {
  test('the hnswlib-node fallback projects and reranks on the main thread', async () => {
    const saved = process.env['VECFORGE_NATIVE'];
    process.env['VECFORGE_NATIVE'] = '0';
    let index: VectorIndex;
    try {
      index = await build({ pca: { dims: 32, sample: 1000 } }, 2000);
    } finally {
      if (saved === undefined) delete process.env['VECFORGE_NATIVE'];
      else process.env['VECFORGE_NATIVE'] = saved;
    }
    expect(index.stats()).toMatchObject({ core: 'hnswlib-node', pca: { state: 'fitted' } });
    const [top] = await index.search(vec(5), { k: 1 });
    expect(top?.id).toBe('5');
    expect(top?.score).toBeCloseTo(1, 3);
    await index.close();
  });
});
