/**
 * Jobs keep the lexical index incrementally: a reindex that changes a few
 * documents writes one small new segment and hard-links the earlier one
 * (the same file, not a copy), finds changed documents by their new words,
 * never returns deleted ones, and ends like a clean build; a text with no
 * word the model knows is indexed lexically, not written to errors.jsonl.
 * (Kill-and-resume of builds and reindexes compares the lexical index too:
 * jobs-resume.test.ts through indexContent.)
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildIndex, Engine, reindex } from '../src/index.js';
import { readVersionManifest } from '../src/index/persist.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { contentDifferences, corpusRows, indexContent, writeJsonl } from './jobs-helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

function segments(dir: string): Array<{ file: string; docs: number; sha256: string; ino: number }> {
  const v = readVersionManifest(dir);
  const section = v.manifest.extra.lexical as { segments: Array<{ file: string; docs: number }> };
  return section.segments.map((s) => ({ ...s, sha256: v.manifest.files[s.file]?.sha256 ?? '', ino: statSync(join(v.path, s.file)).ino }));
}

describe('jobs and the lexical index', () => {
  test('a 1% reindex writes one small segment and links the old one; changed words are found, deleted documents are not; like a clean build', async () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, 2000);
    const out = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'a.jsonl'), [...rows, { id: 'oov', text: 'zzqqx vvbbn' }]), out, engine, embeddingCache: false });
    expect(existsSync(join(out, 'errors.jsonl')) ? readFileSync(join(out, 'errors.jsonl'), 'utf8') : '').toBe('');
    const first = segments(out);
    expect(first.map((s) => s.docs)).toEqual([2001]);
    // 1%: 10 changed (a rare word added), 10 deleted.
    const next = rows.filter((_, i) => i % 200 !== 7).map((r, i) => (i % 200 === 3 ? { ...r, text: `${r.text} quixotically` } : r));
    const input = writeJsonl(join(dir, 'b.jsonl'), [...next, { id: 'oov', text: 'zzqqx vvbbn' }]);
    const summary = await reindex({ source: input, dir: out, engine, embeddingCache: false });
    expect(summary.counts).toMatchObject({ updated: 10, deleted: 10 });
    const second = segments(out);
    expect(second).toHaveLength(2);
    // The old segment is the same file (hard link), not rewritten; the new one holds the 10 changed documents.
    expect(second[0]).toEqual(first[0]);
    expect(second[1]?.docs).toBe(10);
    const index = await engine.openIndex(out);
    try {
      expect(index.stats().lexical).toMatchObject({ docs: 1991, segments: 2 });
      const changed = await index.search('quixotically', { k: 20, mode: 'lexical' });
      expect(changed.map((h) => h.id).sort()).toEqual(next.filter((_, i) => i % 200 === 3).map((r) => r.id).sort());
      const deleted = new Set(rows.filter((_, i) => i % 200 === 7).map((r) => r.id));
      for (const r of rows.filter((_, i) => i % 200 === 7)) {
        for (const mode of ['lexical', 'hybrid'] as const) {
          const hits = await index.search(r.text, { k: 10, mode });
          expect(hits.some((h) => deleted.has(h.id))).toBe(false);
        }
      }
      expect((await index.search('zzqqx', { k: 1 })).map((h) => h.id)).toEqual(['oov']);
    } finally {
      await index.close();
    }
    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, out), await indexContent(engine, clean))).toEqual([]);
  });

  test('a full reindex keeps the lexical options of the index it rebuilds: k1, b and stop words, or no lexical index', async () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, 300);
    const input = writeJsonl(join(dir, 'a.jsonl'), rows);
    for (const lexical of [{ k1: 2, b: 0.5, stopWords: 'none' as const }, false as const]) {
      const out = join(dir, lexical === false ? 'without' : 'custom');
      const index = await engine.createIndex({ dir: out, lexical });
      await index.addBatch(rows.slice(0, 10).map((r) => ({ id: r.id, text: r.text })));
      await index.save();
      await index.close();
      const summary = await reindex({ source: input, dir: out, engine, full: true, embeddingCache: false });
      expect(summary.state).toBe('ok');
      const opened = await engine.openIndex(out);
      try {
        expect(opened.count).toBe(300);
        if (lexical === false) expect(opened.stats().lexical).toBeNull();
        else expect(opened.stats().lexical).toMatchObject({ k1: 2, b: 0.5, stopWords: 'none', docs: 300 });
      } finally {
        await opened.close();
      }
    }
  });

  test('buildIndex takes the lexical options of the new index; a full reindex can change them, an incremental one refuses to', async () => {
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'a.jsonl'), corpusRows().slice(0, 200));
    const stats = async (out: string): Promise<unknown> => {
      const opened = await engine.openIndex(out);
      try {
        return opened.stats().lexical;
      } finally {
        await opened.close();
      }
    };
    const custom = join(dir, 'custom');
    await buildIndex({ source: input, out: custom, engine, embeddingCache: false, index: { lexical: { k1: 1.5, stopWords: 'none' } } });
    expect(await stats(custom)).toMatchObject({ k1: 1.5, b: 0.75, stopWords: 'none', docs: 200 });
    await expect(reindex({ source: input, dir: custom, engine, index: { lexical: false } })).rejects.toThrow(/options\.index\.lexical applies to a new index/);
    await reindex({ source: input, dir: custom, engine, embeddingCache: false, full: true, index: { lexical: { b: 0.3 } } });
    expect(await stats(custom)).toMatchObject({ k1: 1.2, b: 0.3, stopWords: 'english', docs: 200 });
    const none = join(dir, 'none');
    await buildIndex({ source: input, out: none, engine, embeddingCache: false, index: { lexical: false } });
    expect(await stats(none)).toBeNull();
    await expect(buildIndex({ source: input, out: join(dir, 'bad'), engine, index: { lexical: { k1: -1 } } })).rejects.toThrow(/options\.index\.lexical\.k1/);
    await expect(buildIndex({ source: input, out: join(dir, 'bad'), engine, index: { lexical: { stopWords: 'french' as 'none' } } })).rejects.toThrow(/options\.index\.lexical\.stopWords must be one of english, none/);
  });
});
