/**
 * The lexical index on disk: saved as segments under the manifest's
 * checksums, incrementally (earlier segments hard-linked, merges keep
 * their number logarithmic), equal to a rebuild after any sequence of
 * adds, upserts, deletes and saves; a damaged segment or section is
 * refused with ERR_INDEX_CORRUPT by open and verify, never a crash.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, verifyIndex, type VectorIndex } from '../src/index.js';
import { readVersionManifest } from '../src/index/persist.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

const kWords = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'theta', 'kappa', 'lambda', 'sigma', 'omega', 'rho'];
function textOf(i: number): string {
  return Array.from({ length: 3 + (i % 5) }, (_, j) => kWords[(i * 7 + j * 3) % kWords.length]).join(' ') + ` doc${i}`;
}
function vectorOf(i: number): Float32Array {
  return Float32Array.from([Math.sin(i), Math.cos(i), Math.sin(2 * i) + 1.5]);
}
const kProbes = ['alpha beta', 'omega', 'rho sigma kappa', 'doc17', 'theta lambda delta'];

/** Every lexical match of each probe with its score, sorted (ties are broken by label, which differ between indexes). */
async function probe(index: VectorIndex): Promise<string[][]> {
  const hits = await index.searchBatch(kProbes, { mode: 'lexical', k: index.count });
  return hits.map((h) => h.map((x) => `${x.id}:${x.score.toFixed(10)}`).sort());
}

function segmentsOf(dir: string): Array<{ file: string; docs: number }> {
  return (readVersionManifest(dir).manifest.extra.lexical as { segments: Array<{ file: string; docs: number }> }).segments;
}

describe('incremental saves', () => {
  test('twenty small saves keep few segments and end equal to one index built from the final documents', async () => {
    const dir = tempDir();
    const index = await engine.createIndex({ dir, dims: 3 });
    const live = new Map<string, number>();
    await index.addBatch(Array.from({ length: 200 }, (_, i) => ({ id: `d${i}`, vector: vectorOf(i), text: textOf(i) })));
    for (let i = 0; i < 200; i++) live.set(`d${i}`, i);
    await index.save();
    const first = segmentsOf(dir);
    expect(first).toEqual([{ file: 'lexical-000000.seg', docs: 200 }]);
    const firstIno = statSync(join(readVersionManifest(dir).path, 'lexical-000000.seg')).ino;
    let n = 200;
    for (let round = 0; round < 20; round++) {
      const adds = Array.from({ length: 3 }, () => n++);
      await index.addBatch(adds.map((i) => ({ id: `d${i}`, vector: vectorOf(i), text: textOf(i) })));
      for (const i of adds) live.set(`d${i}`, i);
      const replaced = `d${(round * 13) % 200}`;
      await index.upsert([{ id: replaced, vector: vectorOf(1000 + round), text: textOf(1000 + round) }]);
      live.set(replaced, 1000 + round);
      const gone = `d${(round * 17 + 5) % 200}`;
      if (live.has(gone)) {
        await index.delete([gone]);
        live.delete(gone);
      }
      await index.save();
      const segs = segmentsOf(dir);
      expect(segs.length).toBeLessThanOrEqual(2 + Math.ceil(Math.log2(round + 2)));
      if (round === 0) {
        // Only the changes were written; the first segment is the same file.
        expect(segs.map((s) => s.docs)).toEqual([200, 4]);
        expect(statSync(join(readVersionManifest(dir).path, 'lexical-000000.seg')).ino).toBe(firstIno);
      }
    }
    const incremental = await probe(index);
    const stats = index.stats().lexical;
    await index.close();
    const reopened = await engine.openIndex(dir);
    const rebuilt = await engine.createIndex({ dir: tempDir(), dims: 3 });
    await rebuilt.addBatch([...live].map(([id, i]) => ({ id, vector: vectorOf(i), text: textOf(i) })));
    try {
      expect(await probe(reopened)).toEqual(incremental);
      expect(await probe(rebuilt)).toEqual(incremental);
      expect(reopened.stats().lexical).toMatchObject({ docs: live.size, terms: stats?.terms, postings: stats?.postings });
      expect(rebuilt.stats().lexical).toMatchObject({ docs: live.size, terms: stats?.terms, postings: stats?.postings });
      const s = reopened.stats().lexical;
      expect(s?.memoryBytesPerDoc).toBeGreaterThan(0);
      expect(s?.diskBytesPerDoc).toBeGreaterThan(0);
      expect(s?.diskBytes).toBe(segmentsOf(dir).reduce((a, seg) => a + statSync(join(readVersionManifest(dir).path, seg.file)).size, 0));
    } finally {
      await reopened.close();
      await rebuilt.close();
    }
  });
});

describe('damaged lexical files', () => {
  async function saved(): Promise<{ dir: string; seg: string; manifestPath: string }> {
    const dir = tempDir();
    const index = await engine.createIndex({ dir, dims: 3 });
    await index.addBatch(Array.from({ length: 20 }, (_, i) => ({ id: `d${i}`, vector: vectorOf(i), text: textOf(i) })));
    await index.save();
    await index.close();
    const v = readVersionManifest(dir);
    return { dir, seg: join(v.path, 'lexical-000000.seg'), manifestPath: join(v.path, 'manifest.json') };
  }

  test('a flipped byte fails its checksum: open and verify refuse it', async () => {
    const { dir, seg } = await saved();
    const bytes = readFileSync(seg);
    bytes[40] = (bytes[40] ?? 0) ^ 0xff;
    writeFileSync(seg, bytes);
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: expect.stringContaining('lexical-000000.seg does not match its checksum') });
    const report = await verifyIndex(dir, engine);
    expect(report.ok).toBe(false);
    expect(report.checks[0]?.detail).toMatch(/lexical-000000\.seg/);
  });

  test.each([
    ['garbage', (b: Buffer) => Buffer.alloc(b.length, 7)],
    ['a count past the end', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt32LE(0x7fffffff, 16); return c; }],
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 5)],
  ])('a damaged segment whose checksum matches (%s) is refused by the decoder', async (_name, damage) => {
    const { dir, seg, manifestPath } = await saved();
    const bytes = damage(readFileSync(seg));
    writeFileSync(seg, bytes);
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
    m.files['lexical-000000.seg'] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    writeFileSync(manifestPath, JSON.stringify(m));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: expect.stringMatching(/lexical-000000\.seg: /) });
    expect((await verifyIndex(dir, engine)).ok).toBe(false);
  });

  test.each([
    ['a segment the manifest does not list', { tokenizer: 'words-porter2-v1', k1: 1.2, b: 0.75, nextSegment: 2, segments: [{ file: 'lexical-000001.seg', docs: 1 }] }, /names "lexical-000001.seg", not a segment file the manifest lists once/],
    ['a path', { tokenizer: 'words-porter2-v1', k1: 1.2, b: 0.75, nextSegment: 2, segments: [{ file: '../graph.hnsw', docs: 1 }] }, /not a segment file/],
    ['another tokenizer', { tokenizer: 'bpe', k1: 1.2, b: 0.75, nextSegment: 1, segments: [] }, /names tokenizer "bpe"/],
    ['a bad k1', { tokenizer: 'words-porter2-v1', k1: -3, b: 0.75, nextSegment: 1, segments: [] }, /has no valid k1/],
    ['a wrong docs count', { tokenizer: 'words-porter2-v1', k1: 1.2, b: 0.75, nextSegment: 1, segments: [{ file: 'lexical-000000.seg', docs: 3 }] }, /holds 20 documents, the manifest says 3/],
  ])('a manifest section with %s is refused', async (_name, section, message) => {
    const { dir, manifestPath } = await saved();
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { extra: Record<string, unknown> };
    m.extra.lexical = section;
    writeFileSync(manifestPath, JSON.stringify(m));
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: expect.stringMatching(message) });
  });
});
