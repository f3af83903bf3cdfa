import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, reindex } from '../src/index.js';
import { contentHash } from '../src/store/record.js';
import { contentDifferences, corpusRows, indexContent, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

describe('reindex with changes spread over many chunks', () => {
  test('upserts gathered across chunks (running alongside the reading) land, failures stay in line order, untouched failed ids keep their old version', async () => {
    const dir = tempDir();
    const base = corpusRows().slice(0, 2000);
    const idx = join(dir, 'idx');
    await buildIndex({ source: writeJsonl(join(dir, 'base.jsonl'), base), out: idx, engine, embeddingCache: false });
    // Every 7th text changes; every 70th to an empty text (EMPTY). (Words the model does not know
    // are no failure: such texts are stored for the lexical side.)
    const next = base.map((r, i) => (i % 70 === 0 ? { ...r, text: ' ' } : i % 7 === 0 ? { ...r, text: `${r.text}; seen again in ${i}` } : r));
    const path = writeJsonl(join(dir, 'next.jsonl'), next);
    // Malformed lines and a duplicate among the records.
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    lines.splice(500, 0, '{"id": broken');
    lines.splice(1500, 0, JSON.stringify({ ...next[3], text: 'a duplicate of an earlier id' }));
    writeFileSync(path, `${lines.join('\n')}\n`);
    const s = await reindex({ source: path, dir: idx, engine, embeddingCache: false, chunkSize: 50 });
    const unknown = next.filter((_, i) => i % 70 === 0).length;
    const changed = next.filter((_, i) => i % 7 === 0 && i % 70 !== 0).length;
    expect(s.counts).toMatchObject({ read: 2002, updated: changed, added: 0, deleted: 0, failed: unknown + 2, unchanged: 2000 - changed - unknown });
    const errors = readFileSync(join(idx, 'errors.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; code: string; id?: string });
    expect(errors.map((e) => e.line)).toEqual([...errors.map((e) => e.line)].sort((a, b) => a - b));
    expect(errors.filter((e) => e.code === 'EMPTY').length).toBe(unknown);
    expect(errors.filter((e) => e.code === 'MALFORMED_LINE').map((e) => e.line)).toEqual([501]);
    expect(errors.filter((e) => e.code === 'DUPLICATE_ID').map((e) => e.id)).toEqual([next[3]?.id]);

    const index = await engine.openIndex(idx);
    try {
      next.forEach((r, i) => {
        const hash = index.get(r.id)?.hash;
        // A text that failed to embed leaves the document as it was.
        expect(hash, r.id).toBe(contentHash(i % 70 === 0 ? (base[i]?.text ?? '') : r.text));
      });
      expect(index.count).toBe(2000);
    } finally {
      await index.close();
    }

    // The same result as a reindex that upserts everything at the end (one chunk).
    const other = join(dir, 'other');
    await buildIndex({ source: writeJsonl(join(dir, 'base2.jsonl'), base), out: other, engine, embeddingCache: false });
    await reindex({ source: path, dir: other, engine, embeddingCache: false, chunkSize: 100_000 });
    expect(contentDifferences(await indexContent(engine, idx), await indexContent(engine, other))).toEqual([]);
    expect(readFileSync(join(other, 'errors.jsonl'), 'utf8')).toBe(readFileSync(join(idx, 'errors.jsonl'), 'utf8'));
  });
});
