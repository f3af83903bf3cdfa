/**
 * Path traversal through the manifest: a manifest naming a file outside its
 * version directory is refused by every reader (open, verify, inspect,
 * reindex) with ERR_INDEX_CORRUPT naming the entry, before any file
 * operation, and the file outside is left untouched (no copy, no link).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, inspectIndex, reindex, verifyIndex } from '../src/index.js';
import { fileNameProblem, parseManifest } from '../src/index/manifest.js';
import { currentVersion, hashFile } from '../src/index/persist.js';
import { corpusRows, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

/** A built index whose manifest also lists `name`, plus a file outside the index that the name points at. */
async function hostileIndex(name: string): Promise<{ root: string; idx: string; input: string; payload: string; payloadText: string }> {
  const root = tempDir();
  const idx = join(root, 'idx');
  const input = writeJsonl(join(root, 'in.jsonl'), corpusRows().slice(0, 40));
  await buildIndex({ source: input, out: idx, engine, embeddingCache: false });
  mkdirSync(join(root, 'src'));
  const payload = join(root, 'src', 'payload.txt');
  const payloadText = 'outside the index\n';
  writeFileSync(payload, payloadText);
  const version = currentVersion(idx);
  if (version === undefined) throw new Error('no version');
  const manifestPath = join(version.path, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, unknown> };
  // Its real size and checksum: only the name is wrong.
  manifest.files[name] = hashFile(payload);
  writeFileSync(manifestPath, JSON.stringify(manifest));
  return { root, idx, input, payload, payloadText };
}

describe('manifest file names', () => {
  test.each([
    ['../../../src/payload.txt'],
    ['../../../../../src/payload.txt'],
    ['..'],
    ['sub/graph.hnsw'],
    ['a\\b'],
    ['nul\u0000byte'],
    [''],
  ])('a manifest listing %j is refused by open, verify, inspect and reindex; the file outside is untouched', async (name) => {
    const h = await hostileIndex(name);
    const before = statSync(h.payload);
    const entry = new RegExp(`lists the file ${JSON.stringify(name).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}`);
    await expect(engine.openIndex(h.idx)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: expect.stringMatching(entry) });
    const report = await verifyIndex(h.idx, engine);
    expect(report.ok).toBe(false);
    expect(report.checks).toHaveLength(1);
    expect(report.checks[0]?.detail).toMatch(entry);
    expect(() => inspectIndex(h.idx)).toThrow(entry);
    await expect(reindex({ source: h.input, dir: h.idx, engine, embeddingCache: false })).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: expect.stringMatching(entry) });
    await expect(reindex({ source: h.input, dir: h.idx, engine, embeddingCache: false, full: true })).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT' });
    const after = statSync(h.payload);
    expect(readFileSync(h.payload, 'utf8')).toBe(h.payloadText);
    // No hard link was made to it, nor was it replaced.
    expect(after.nlink).toBe(1);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  test('fileNameProblem accepts the names vecforge writes and refuses every other kind', () => {
    for (const ok of ['graph.hnsw', 'docs.lmdb', 'pca.model', 'full-vectors.f16', 'input-lines.bin', '.hidden']) expect(fileNameProblem(ok)).toBeNull();
    expect(fileNameProblem('')).toBe('is empty');
    expect(fileNameProblem('..')).toBe('names a directory');
    expect(fileNameProblem('.')).toBe('names a directory');
    expect(fileNameProblem('/etc/passwd')).toBe('contains a path separator');
    expect(fileNameProblem('..\\x')).toBe('contains a path separator');
    expect(fileNameProblem('C:x')).toBe('is a drive path');
    expect(fileNameProblem('a\u0000b')).toBe('contains a control character');
    expect(fileNameProblem('x'.repeat(256))).toBe('is longer than 255 characters');
  });

  test('parseManifest names the field that is not valid', () => {
    const good = {
      format: 'vecforge-index',
      formatVersion: 2,
      createdAt: '2024-01-01T00:00:00.000Z',
      model: null,
      space: 'cosine',
      dims: 4,
      params: { m: 16, efConstruction: 200, efSearch: 64 },
      counts: { count: 1, deleted: 0, nextLabel: 1, capacity: 1024 },
      files: { 'graph.hnsw': { bytes: 1, sha256: 'a'.repeat(64) }, 'docs.lmdb': { bytes: 1, sha256: 'b'.repeat(64) } },
      extra: {},
    };
    expect(parseManifest(JSON.stringify(good), 'd', 'v000001').dims).toBe(4);
    const bad = (patch: Record<string, unknown>): unknown => () => parseManifest(JSON.stringify({ ...good, ...patch }), 'd', 'v000001');
    expect(bad({ space: 'hamming' })).toThrow(/index d: v000001\/manifest.json has no valid space/);
    expect(bad({ params: { ...good.params, m: 0 } })).toThrow(/params.m/);
    expect(bad({ counts: { ...good.counts, capacity: -1 } })).toThrow(/counts.capacity/);
    expect(bad({ files: { ...good.files, x: { bytes: 1, sha256: 'nope' } } })).toThrow(/entry for the file "x"/);
    expect(bad({ files: { 'graph.hnsw': good.files['graph.hnsw'] } })).toThrow(/lists no docs.lmdb/);
    expect(bad({ formatVersion: 99 })).toThrow(expect.objectContaining({ code: 'ERR_INDEX_VERSION' }));
    expect(() => parseManifest('[', 'd', 'v000001')).toThrow(expect.objectContaining({ code: 'ERR_INDEX_CORRUPT', message: 'index d: v000001/manifest.json is not valid JSON' }));
  });
});
