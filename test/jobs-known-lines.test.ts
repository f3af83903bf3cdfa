import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, reindex } from '../src/index.js';
import { currentManifest } from '../src/jobs/workdir.js';
import { kLineSnapshotFile } from '../src/jobs/known-lines.js';
import { contentDifferences, corpusRows, indexContent, vecforge, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { nativeHnswOpenHandles } from '../src/index/hnsw/native-core.js';
import { jobIndexHandle } from '../src/index/internal.js';
import { releaseKeptIndex } from '../src/jobs/warm.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

type Row = ReturnType<typeof corpusRows>[number];

/**
 * The next edition of a corpus, written as raw lines: rows moved, changed,
 * removed and added; lines inserted before known ones (positions shift);
 * blank and malformed lines; a known line repeated verbatim (a duplicate
 * id that is never parsed); and a changed line followed by the old,
 * known line of the same id (the known line is then the duplicate).
 */
function nextEdition(base: readonly Row[]): string {
  const lines: string[] = [JSON.stringify({ id: 'new-first', text: 'a document added before every known line' }), ''];
  base.forEach((r, i) => {
    const line = JSON.stringify(r);
    if (i % 17 === 5) return;
    if (i % 29 === 7) {
      lines.push(JSON.stringify({ ...r, text: `${r.text}, revised` }), line);
      return;
    }
    if (i % 31 === 3) lines.push('{"id": "broken"');
    if (i % 23 === 11) lines.push(JSON.stringify({ ...r, metadata: { ...r.metadata, edition: 2 } }));
    else lines.push(line);
    if (i % 41 === 13) lines.push(line);
  });
  // Moved: the first rows again at the end, under their own ids (duplicates of the first occurrences).
  for (const r of base.slice(0, 3)) lines.push(JSON.stringify(r));
  lines.push(JSON.stringify({ id: 'new-last', text: 'a document added after every known line' }));
  return `${lines.join('\n')}\n`;
}

/** errors.jsonl as parsed lines; a job whose records failed must have written it. */
function errorsOf(dir: string): unknown[] {
  const errors = readFileSync(join(dir, 'errors.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
  expect(errors.length).toBeGreaterThan(0);
  return errors;
}

describe('known lines', () => {
  test('a published version remembers the lines it was built from; the next reindex skips them and ends identical to a clean build, errors included', async () => {
    const dir = tempDir();
    const base = corpusRows().slice(0, 500);
    const idx = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'base.jsonl'), base), out: idx, engine, embeddingCache: false });
    const built = currentManifest(idx);
    expect(built?.manifest.extra.job).toMatchObject({ lines: { file: kLineSnapshotFile } });
    // The snapshot is the job's, not one of the index's files.
    expect(Object.keys(built?.manifest.files ?? {}).sort()).toEqual(['docs.lmdb', 'graph.hnsw', 'lexical-000000.seg']);

    const input = join(dir, 'next.jsonl');
    writeFileSync(input, nextEdition(base));
    const s = await reindex({ source: input, dir: idx, engine, embeddingCache: false });
    expect(s.state).toBe('partial');

    const clean = join(dir, 'clean');
    const c = await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, idx), await indexContent(engine, clean))).toEqual([]);
    expect(s.counts.failed).toBe(c.counts.failed);
    expect(errorsOf(idx)).toEqual(errorsOf(clean));
    expect(errorsOf(idx)).toContainEqual(expect.objectContaining({ code: 'DUPLICATE_ID', id: base[0]?.id }));

    // The same input again: every line known, nothing changes.
    const again = await reindex({ source: input, dir: idx, engine, embeddingCache: false });
    expect(again).toMatchObject({ published: false });
    expect(again.counts).toMatchObject({ added: 0, updated: 0, deleted: 0, embedded: 0, failed: c.counts.failed });
    expect(errorsOf(idx)).toEqual(errorsOf(clean));
  });

  test('a snapshot that fails its checksum, or was taken under other settings, is not used', async () => {
    const dir = tempDir();
    const base = corpusRows().slice(0, 300);
    const idx = join(dir, 'idx');
    const first = writeJsonl(join(dir, 'base.jsonl'), base);
    await buildIndex({ source: first, out: idx, engine, embeddingCache: false });

    // Corrupt the snapshot (same size): the reindex reads every line and still sees the one change.
    const snapshot = join(currentManifest(idx)?.path ?? '', kLineSnapshotFile);
    const bytes = readFileSync(snapshot);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0x20;
    writeFileSync(snapshot, bytes);
    const changed = base.map((r, i) => (i === 10 ? { ...r, text: `${r.text}, again` } : r));
    const s = await reindex({ source: writeJsonl(join(dir, 'changed.jsonl'), changed), dir: idx, engine, embeddingCache: false });
    expect(s.counts).toMatchObject({ updated: 1, unchanged: 299, failed: 0 });

    // Other settings: the snippet of every text over 20 characters is shorter now, so those records change.
    const shorter = await reindex({ source: join(dir, 'changed.jsonl'), dir: idx, engine, embeddingCache: false, snippetChars: 20 });
    const long = changed.filter((r) => r.text.length > 20).length;
    expect(long).toBeGreaterThan(250);
    expect(shorter.counts).toMatchObject({ updated: long, unchanged: 300 - long });
    const clean = join(dir, 'clean');
    await buildIndex({ source: join(dir, 'changed.jsonl'), out: clean, engine, embeddingCache: false, snippetChars: 20 });
    expect(contentDifferences(await indexContent(engine, idx), await indexContent(engine, clean))).toEqual([]);
  });
});

describe('the index a job published, kept open', () => {
  test('is used by the next reindex with the same engine only while the directory still holds what it published', async () => {
    const dir = tempDir();
    const base = corpusRows().slice(0, 400);
    const idx = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'v1.jsonl'), base), out: idx, engine, embeddingCache: false });

    // Reindexes in a row with the same engine: each starts from the index the one before published.
    const v2 = base.map((r, i) => (i % 20 === 0 ? { ...r, text: `${r.text}, second edition` } : r));
    const v3 = v2.filter((_, i) => i % 50 !== 1).map((r, i) => (i % 30 === 4 ? { ...r, namespace: 'other' } : r));
    const s2 = await reindex({ source: writeJsonl(join(dir, 'v2.jsonl'), v2), dir: idx, engine, embeddingCache: false });
    expect(s2.counts).toMatchObject({ updated: 20, failed: 0 });
    const s3 = await reindex({ source: writeJsonl(join(dir, 'v3.jsonl'), v3), dir: idx, engine, embeddingCache: false });
    expect(s3.counts).toMatchObject({ deleted: 8, failed: 0 });

    // Another process publishes a new version: the kept index no longer matches, and is not used.
    const v4 = v3.map((r, i) => (i % 10 === 9 ? { ...r, text: `${r.text}, fourth edition` } : r));
    const cli = vecforge(['reindex', '--input', writeJsonl(join(dir, 'v4.jsonl'), v4), '--index', idx, '--workers', '2', '--progress', 'off', '--no-embedding-cache']);
    expect(cli.status, cli.stderr).toBe(0);
    const v5 = v4.map((r, i) => (i % 25 === 2 ? { ...r, text: `${r.text}, fifth edition` } : r));
    const input = writeJsonl(join(dir, 'v5.jsonl'), v5);
    const s5 = await reindex({ source: input, dir: idx, engine, embeddingCache: false });
    expect(s5.counts).toMatchObject({ updated: v5.filter((_, i) => i % 25 === 2).length, deleted: 0, failed: 0 });

    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, idx), await indexContent(engine, clean))).toEqual([]);
    // The published version searches like the clean build.
    const a = await engine.openIndex(idx);
    const b = await engine.openIndex(clean);
    try {
      const q = v5[7]?.text ?? '';
      expect((await a.search(q, { k: 5 })).map((h) => h.id)).toEqual((await b.search(q, { k: 5 })).map((h) => h.id));
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('is released, graph and all, when its engine closes', async () => {
    const dir = tempDir();
    const own = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
    await releaseKeptIndex(); // one kept index per process: start from none
    const before = nativeHnswOpenHandles();
    await buildIndex({ source: writeJsonl(join(dir, 'v1.jsonl'), corpusRows().slice(0, 200)), out: join(dir, 'idx'), engine: own, embeddingCache: false });
    // The published index stays open for the next reindex by this engine.
    expect(nativeHnswOpenHandles()).toBe(before + 1);
    await own.close();
    expect(nativeHnswOpenHandles()).toBe(before);
  });

  test('an index with unsaved changes, or never saved, cannot be rebased', async () => {
    const dir = tempDir();
    const index = await engine.createIndex({ dir: join(dir, 'a') });
    try {
      expect(jobIndexHandle(index).rebaseable).toBe(false);
      await expect(jobIndexHandle(index).rebase(join(dir, 'a'))).rejects.toThrow('only a saved index without PCA and without unsaved changes can be rebased');
      await index.upsert([{ id: 'x', text: 'a small brown dog' }]);
      await index.save();
      expect(jobIndexHandle(index).rebaseable).toBe(true);
      await index.upsert([{ id: 'y', text: 'a large black cat' }]);
      expect(jobIndexHandle(index).rebaseable).toBe(false);
    } finally {
      await index.close();
    }
  });
});
