import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { NpyWriter } from '../src/io/npy.js';
import { currentVersion } from '../src/index/persist.js';
import { kCorpus, vecforge } from './jobs-helpers.js';
import { gloveRows, kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';

const kQueries = join(kRepoRoot, 'data', 'sample-queries.jsonl');
const kExpected = readFileSync(kQueries, 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { expected: string[] }).expected);

/** Sample queries whose expected document is in the top 10. */
function foundInTop10(dir: string): number {
  const r = vecforge(['search', dir, '--queries', kQueries, '--k', '10', '--ef', '128', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l, i) => (JSON.parse(l) as { ids: string[] }).ids.some((id) => kExpected[i]?.includes(id))).length;
}

interface PcaInfo {
  inputDims: number;
  outputDims: number;
  explainedVarianceRatio: number | null;
  fittedOn: number | null;
  sample: number;
  rerank: boolean;
  rerankStorage: string;
  bytesPerVector: { withPca: number; withoutPca: number };
  vectorBytesPerVector: { withPca: number; withoutPca: number };
  memoryBytes: number;
  diskBytes: number;
  fullVectorBytes: number;
}

function infoJson(dir: string): { version: string; pca: PcaInfo | null; files: Record<string, number> } {
  const r = vecforge(['info', dir, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { version: string; pca: PcaInfo | null; files: Record<string, number> };
}

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

describe('vecforge --pca', () => {
  // Shared by the tests below, which go on from each other's indexes.
  const root = mkdtempSync(join(tmpdir(), 'vecforge-cli-pca-'));
  const pcaDir = join(root, 'pca');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('build --pca 32 --pca-sample 1000: info shows the PCA figures of index.stats(), and the sample queries still find their documents', async () => {
    const b = vecforge(['build', '--input', kCorpus, '--out', pcaDir, '--pca', '32', '--pca-sample', '1000', '--workers', '2', '--progress', 'off', '--json']);
    expect(b.status, b.stderr).toBe(0);
    const info = vecforge(['info', pcaDir]);
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/^pca: {8}100 → 32 dims, explained variance \d+\.\d% \(fitted on 1000 vectors, sample 1000\)$/m);
    expect(info.stdout).toMatch(/^rerank: {5}on, top k × 4 rescored on full vectors \(float16\) kept on disk$/m);
    expect(info.stdout).toMatch(/^per vector: \d+ B with PCA, \d+ B without \(graph\); vector data 128 B vs 400 B$/m);
    expect(info.stdout).toMatch(/^memory: {5}[\d.]+ [KM]iB \(graph\); disk: [\d.]+ [KM]iB \(full vectors [\d.]+ [KM]iB\)$/m);

    const j = infoJson(pcaDir);
    const index = await engine.openIndex(pcaDir);
    const stats = index.stats();
    await index.close();
    const p = stats.pca;
    expect(p).not.toBeNull();
    expect(j.pca).toMatchObject({
      inputDims: 100,
      outputDims: 32,
      fittedOn: p?.fittedOn,
      explainedVarianceRatio: p?.explainedVarianceRatio,
      rerank: true,
      rerankStorage: 'disk',
      bytesPerVector: p?.bytesPerVector,
      vectorBytesPerVector: p?.vectorBytesPerVector,
      memoryBytes: j.files['graph.hnsw'],
      fullVectorBytes: p?.fullVectors?.savedBytes,
    });
    expect(j.pca?.bytesPerVector.withPca).toBeLessThan(j.pca?.bytesPerVector.withoutPca ?? 0);
    expect(j.pca?.diskBytes).toBe(Object.values(j.files).reduce((a, c) => a + c, 0));

    const plain = join(root, 'plain');
    expect(vecforge(['build', '--input', kCorpus, '--out', plain, '--workers', '2', '--progress', 'off']).status).toBe(0);
    expect(infoJson(plain).pca).toBeNull();
    expect(foundInTop10(pcaDir)).toBeGreaterThanOrEqual(foundInTop10(plain) - 1);
  });

  test('reindex --refit-pca --pca-sample 500 refits, rebuilds and publishes even with no document changed', () => {
    const before = infoJson(pcaDir);
    const r = vecforge(['reindex', '--input', kCorpus, '--index', pcaDir, '--refit-pca', '--pca-sample', '500', '--workers', '2', '--progress', 'off', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { published: boolean; counts: { unchanged: number; updated: number }; pcaRefit: { fittedOn: number; inputDims: number; outputDims: number; rebuilt: number; explainedVarianceRatio: number } };
    expect(s.published).toBe(true);
    expect(s.counts.updated).toBe(0);
    expect(s.pcaRefit).toMatchObject({ inputDims: 100, outputDims: 32, fittedOn: 500, rebuilt: s.counts.unchanged });
    const after = infoJson(pcaDir);
    expect(after.version).not.toBe(before.version);
    expect(after.pca).toMatchObject({ fittedOn: 500, sample: 1000, explainedVarianceRatio: s.pcaRefit.explainedVarianceRatio });
    expect(foundInTop10(pcaDir)).toBeGreaterThanOrEqual(kExpected.length - 3);
    const text = vecforge(['reindex', '--input', kCorpus, '--index', pcaDir, '--refit-pca', '--workers', '2', '--progress', 'off']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}refitted PCA 100 → 32 dims on 1000 vectors \(explained variance \d+\.\d%\); graph rebuilt from \d+ vectors$/m);
  });

  test('reindex --full keeps the PCA settings of the index', () => {
    const r = vecforge(['reindex', '--input', kCorpus, '--index', pcaDir, '--full', '--workers', '2', '--progress', 'off']);
    expect(r.status, r.stderr).toBe(0);
    const j = infoJson(pcaDir);
    expect(j.pca).toMatchObject({ inputDims: 100, outputDims: 32, sample: 1000, rerank: true, fittedOn: 1000 });
    expect(foundInTop10(pcaDir)).toBeGreaterThanOrEqual(kExpected.length - 3);
  });

  test('--no-rerank keeps no full vectors; such an index cannot be refitted', () => {
    const dir = join(root, 'norerank');
    const b = vecforge(['build', '--input', kCorpus, '--out', dir, '--pca', '32', '--pca-sample', '1000', '--no-rerank', '--workers', '2', '--progress', 'off']);
    expect(b.status, b.stderr).toBe(0);
    const j = infoJson(dir);
    expect(j.pca).toMatchObject({ outputDims: 32, rerank: false, fullVectorBytes: 0 });
    expect(Object.keys(j.files).sort()).toEqual(['docs.lmdb', 'graph.hnsw', 'lexical-000000.seg', 'pca.model']);
    expect(vecforge(['info', dir]).stdout).toContain('rerank:     off (no full vectors kept)');
    expect(foundInTop10(dir)).toBeGreaterThanOrEqual(kExpected.length - 5);
    const refit = vecforge(['reindex', '--input', kCorpus, '--index', dir, '--refit-pca', '--workers', '2', '--progress', 'off']);
    expect(refit.status).toBe(1);
    expect(refit.stderr).toContain('--refit-pca: index');
    expect(refit.stderr).toContain('keeps no full vectors (built with --no-rerank)');
    const plain = vecforge(['reindex', '--input', kCorpus, '--index', join(root, 'plain'), '--refit-pca', '--workers', '2', '--progress', 'off']);
    expect(plain.status).toBe(1);
    expect(plain.stderr).toContain('has no PCA; rebuild it with PCA: vecforge reindex --full --pca DIMS');
  });

  test('build --vectors --pca, and PCA from the environment', () => {
    const dir = tempDir();
    const npy = join(dir, 'glove.npy');
    const w = new NpyWriter(npy, 100);
    w.write(gloveRows(3000));
    w.close();
    const out = join(dir, 'vec');
    const b = vecforge(['build', '--vectors', npy, '--out', out, '--pca', '16', '--pca-sample', '2000', '--workers', '2']);
    expect(b.status, b.stderr).toBe(0);
    expect(infoJson(out).pca).toMatchObject({ inputDims: 100, outputDims: 16, fittedOn: 2000, rerank: true });
    const q = vecforge(['search', out, '--vectors', npy, '--k', '1', '--json']);
    expect(q.status, q.stderr).toBe(0);
    const firsts = q.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { ids: string[] }).ids[0]);
    expect(firsts.filter((id, i) => id === String(i)).length).toBeGreaterThanOrEqual(2900);

    const env = join(dir, 'env');
    const e = vecforge(['build', '--input', kCorpus, '--out', env, '--workers', '2', '--progress', 'off'], { env: { VECFORGE_INDEX__PCA: '24', VECFORGE_INDEX__PCA_SAMPLE: '800' } });
    expect(e.status, e.stderr).toBe(0);
    expect(infoJson(env).pca).toMatchObject({ outputDims: 24, fittedOn: 800 });
    const c = vecforge(['config'], { env: { VECFORGE_INDEX__PCA: '24' } });
    expect(c.stdout).toMatch(/index\.pca\s.*24.*env/);
  });

  test('errors name the flag: --pca not below the input dims, --pca-sample below --pca or without it, --pca on an incremental reindex', () => {
    const dir = tempDir();
    const big = vecforge(['build', '--input', kCorpus, '--out', join(dir, 'a'), '--pca', '100', '--workers', '2']);
    expect(big.status).toBe(2);
    expect(big.stderr).toBe('vecforge: --pca: options.pca.dims must be smaller than the input dims: options.pca.dims is 100, options.dims is 100\n');
    expect(currentVersion(join(dir, 'a'))).toBeUndefined();
    expect(existsSync(join(dir, 'a', '.job'))).toBe(false);

    const small = vecforge(['build', '--input', kCorpus, '--out', join(dir, 'b'), '--pca', '64', '--pca-sample', '10']);
    expect(small.status).toBe(2);
    expect(small.stderr).toBe('vecforge: --pca-sample must be at least --pca (64) to fit 64 components, got 10\n');

    const alone = vecforge(['build', '--input', kCorpus, '--out', join(dir, 'c'), '--pca-sample', '1000']);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toBe('vecforge: --pca-sample (index.pcaSample, from option) needs --pca DIMS\n');

    const zero = vecforge(['build', '--input', kCorpus, '--out', join(dir, 'd'), '--pca', '0']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain('--pca must be an integer in [1, 8192], got "0"');

    const re = vecforge(['reindex', '--input', kCorpus, '--index', pcaDir, '--pca', '16']);
    expect(re.status).toBe(2);
    expect(re.stderr).toBe('vecforge: --pca applies to a new index: add --full to rebuild the index with it, or --refit-pca to refit the PCA it has\n');

    const refitSmall = vecforge(['reindex', '--input', kCorpus, '--index', pcaDir, '--refit-pca', '--pca-sample', '5', '--workers', '2', '--progress', 'off']);
    expect(refitSmall.status).toBe(2);
    expect(refitSmall.stderr).toBe("vecforge: --pca-sample: options.refitPca.sample must be at least the index's PCA dims (32) to fit 32 components, got 5\n");
    expect(existsSync(join(pcaDir, '.job'))).toBe(false);

    const npy = join(dir, 'v.npy');
    const w = new NpyWriter(npy, 100);
    w.write(gloveRows(200));
    w.close();
    const vec = vecforge(['build', '--vectors', npy, '--out', join(dir, 'v'), '--pca', '128']);
    expect(vec.status).toBe(2);
    expect(vec.stderr).toBe('vecforge: --pca: options.pca.dims must be smaller than the input dims: options.pca.dims is 128, options.dims is 100\n');
  });
});
