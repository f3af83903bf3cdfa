import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, inspectIndex, reindex } from '../src/index.js';
import { contentDifferences, corpusRows, indexContent, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

/** A base corpus, and the next edition of it: added, changed (text, metadata, namespace) and removed documents. */
function editions(): { base: ReturnType<typeof corpusRows>; next: ReturnType<typeof corpusRows> } {
  const base = corpusRows().slice(0, 600);
  const next = base
    .filter((_, i) => i % 10 !== 3)
    .map((r, i) => {
      if (i % 25 === 0) return { ...r, text: `${r.text}, especially in the north` };
      if (i % 25 === 1) return { ...r, metadata: { ...r.metadata, reviewed: true } };
      if (i % 25 === 2) return { ...r, namespace: 'misc' };
      return r;
    });
  next.push(...corpusRows().slice(600, 650));
  return { base, next };
}

describe('reindex', () => {
  test('embeds only new and changed documents, upserts them, deletes missing ones, and ends identical to a clean build', async () => {
    const dir = tempDir();
    const cache = join(dir, 'cache.lmdb');
    const { base, next } = editions();
    const idx = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'base.jsonl'), base), out: idx, engine, embeddingCache: cache });
    const input = writeJsonl(join(dir, 'next.jsonl'), next);
    const s = await reindex({ source: input, dir: idx, engine, embeddingCache: cache });
    const changedText = next.filter((_, i) => i < 540 && i % 25 === 0).length;
    const changed = next.filter((_, i) => i < 540 && i % 25 <= 2).length;
    expect(s).toMatchObject({ state: 'ok', kind: 'reindex', published: true, version: 'v000002' });
    expect(s.counts).toEqual({ read: 590, added: 50, updated: changed, unchanged: 540 - changed, deleted: 60, failed: 0, embedded: 50 + changedText, cacheHits: changed - changedText });
    // Metadata and namespace changes reuse the cached vector of their unchanged text.

    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, idx), await indexContent(engine, clean))).toEqual([]);

    // Nothing changed: nothing embedded, no new version.
    const again = await reindex({ source: input, dir: idx, engine, embeddingCache: cache });
    expect(again).toMatchObject({ published: false, version: 'v000002' });
    expect(again.counts).toMatchObject({ unchanged: 590, added: 0, updated: 0, deleted: 0, embedded: 0 });
    expect(inspectIndex(idx).versions).toEqual(['v000001', 'v000002']);
  });

  test('--keep-missing keeps documents the input no longer has; --full rebuilds to the same content as a clean build', async () => {
    const dir = tempDir();
    const { base, next } = editions();
    const idx = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'base.jsonl'), base), out: idx, engine, embeddingCache: false, index: { m: 8, efConstruction: 64 } });
    const input = writeJsonl(join(dir, 'next.jsonl'), next);
    const kept = await reindex({ source: input, dir: idx, engine, embeddingCache: false, keepMissing: true });
    expect(kept.counts).toMatchObject({ deleted: 0 });
    const index = await engine.openIndex(idx);
    expect(index.count).toBe(650);
    expect(index.get(base[3]?.id ?? '')).toBeDefined();
    await index.close();

    const full = await reindex({ source: input, dir: idx, engine, embeddingCache: false, full: true });
    expect(full).toMatchObject({ full: true, published: true, version: 'v000003' });
    expect(full.counts).toMatchObject({ added: 590, updated: 0, deleted: 0 });
    // A full rebuild keeps the index's HNSW parameters unless given others.
    expect(inspectIndex(idx).manifest?.params).toEqual({ m: 8, efConstruction: 64, efSearch: 64 });
    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, idx), await indexContent(engine, clean))).toEqual([]);
  });

  test('a stopped reindex keeps the published version current and searchable; the next run resumes to the same result', async () => {
    const dir = tempDir();
    const { base, next } = editions();
    const idx = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'base.jsonl'), base), out: idx, engine, embeddingCache: false });
    const before = await indexContent(engine, idx);
    const input = writeJsonl(join(dir, 'next.jsonl'), next);
    const stop = new AbortController();
    const opts = { source: input, dir: idx, engine, embeddingCache: false, chunkSize: 100, checkpointItems: 100 };
    const stopped = await reindex({
      ...opts,
      stopSignal: stop.signal,
      onProgress: (p) => {
        if (p.counts.read >= 200) stop.abort();
      },
    });
    expect(stopped).toMatchObject({ state: 'interrupted', version: null, published: false });
    // The stop comes during chunk 2's progress report: chunk 3 ends with the checkpoint.
    expect(stopped.counts.read).toBe(300);
    // The published version is untouched while the job is stopped half-way.
    expect(inspectIndex(idx)).toMatchObject({ version: 'v000001', job: { phase: 'running', line: 300, item: 300 } });
    expect(contentDifferences(await indexContent(engine, idx), before)).toEqual([]);
    const index = await engine.openIndex(idx);
    expect((await index.search(base[0]?.text ?? '', { k: 1 }))[0]?.id).toBe(base[0]?.id);
    await index.close();

    const resumed = await reindex(opts);
    expect(resumed).toMatchObject({ state: 'ok', published: true, version: 'v000002', resumedFrom: { item: 300, line: 300 } });
    expect(existsSync(join(idx, '.job'))).toBe(false);
    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, idx), await indexContent(engine, clean))).toEqual([]);
    expect(readFileSync(join(idx, 'current'), 'utf8').trim()).toBe('v000002');
  });

  test('a job that fails half-way leaves the previous version current and intact; the rerun resumes', async () => {
    const dir = tempDir();
    const { base, next } = editions();
    const idx = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'base.jsonl'), base), out: idx, engine, embeddingCache: false });
    const before = await indexContent(engine, idx);
    const input = writeJsonl(join(dir, 'next.jsonl'), next);
    const opts = { source: input, dir: idx, engine, embeddingCache: false, chunkSize: 100, checkpointItems: 10 };
    await expect(
      reindex({
        ...opts,
        onProgress: (p) => {
          if (p.counts.read >= 400) throw new Error('ENOSPC (simulated)');
        },
      }),
    ).rejects.toThrow('ENOSPC (simulated)');
    expect(inspectIndex(idx)).toMatchObject({ version: 'v000001', lock: null });
    expect(contentDifferences(await indexContent(engine, idx), before)).toEqual([]);
    const resumed = await reindex(opts);
    expect(resumed).toMatchObject({ state: 'ok', version: 'v000002', resumedFrom: { item: 400 } });
  });

  test('a reindex of a directory without an index is refused', async () => {
    const dir = tempDir();
    await expect(reindex({ source: writeJsonl(join(dir, 'in.jsonl'), corpusRows().slice(0, 3)), dir: join(dir, 'none'), engine })).rejects.toMatchObject({
      code: 'ERR_INDEX',
      message: `${join(dir, 'none')} holds no published index; build one first with \`vecforge build\``,
    });
  });
});
