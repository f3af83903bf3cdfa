/**
 * Sharded indexes built in one process (`--shards N` without a queue):
 * the same documents and vectors as a single-machine build, searches that
 * agree with one index, per-shard namespaces, read-only writes, verify.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, VecforgeError, buildIndex, verifyIndex, type VectorIndex } from '../src/index.js';
import { shardOf } from '../src/index/sharded/layout.js';
import { localShardRunner, runShardedJob } from '../src/jobs/shards/run.js';
import { shardSpec } from './shards-helpers.js';
import { contentDifferences, corpusRows, indexContent, kCorpus } from './jobs-helpers.js';
import { kTestCacheDir } from './helpers.js';

let engine: Engine;
let root: string;
let single: string;
let sharded: string;

beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
  // Shared by every test of the file (tempDir() is removed after each test).
  root = mkdtempSync(join(tmpdir(), 'vecforge-shards-'));
  single = join(root, 'single');
  sharded = join(root, 'sharded');
  await buildIndex({ source: kCorpus, out: single, engine, embeddingCache: false });
  const summary = await runShardedJob(shardSpec({ kind: 'build', dir: sharded, input: kCorpus, shards: 4 }), localShardRunner(engine));
  expect(summary.state).toBe('ok');
  expect(summary.published).toBe(true);
  expect(summary.shards.map((s) => s.state)).toEqual(['ran', 'ran', 'ran', 'ran']);
}, 300_000);

afterAll(async () => {
  await engine.close();
  rmSync(root, { recursive: true, force: true });
});

describe('a sharded build in one process', () => {
  test('holds, document for document, what a single-machine build of the same input holds, each document on shard hash(id) mod N', async () => {
    const a = await indexContent(engine, single);
    const b = await indexContent(engine, sharded);
    expect(a.ids.length).toBe(corpusRows().length);
    expect(contentDifferences(a, b, { lexical: false })).toEqual([]);
    const index = await engine.openIndex(sharded);
    try {
      const shards = (index as unknown as { shards: readonly VectorIndex[] }).shards;
      expect(shards.length).toBe(4);
      for (const [i, s] of shards.entries()) {
        const ids = s.ids();
        expect(ids.length).toBeGreaterThan(0);
        expect(ids.filter((id) => shardOf(id, 4) !== i)).toEqual([]);
      }
    } finally {
      await index.close();
    }
  });

  test('searches agree with a single index of the same data (overlap ≥ 0.95 at the default ef), texts and vectors, batch and one by one', async () => {
    const one = await engine.openIndex(single);
    const many = await engine.openIndex(sharded);
    try {
      const queries = corpusRows()
        .filter((_, i) => i % 40 === 0)
        .map((r) => r.text);
      expect(queries.length).toBeGreaterThan(90);
      const a = await one.searchBatch(queries, { k: 10, mode: 'vector' });
      const b = await many.searchBatch(queries, { k: 10 });
      let shared = 0;
      for (const [q, hits] of a.entries()) {
        const ids = new Set(hits.map((h) => h.id));
        shared += (b[q] ?? []).filter((h) => ids.has(h.id)).length;
        expect(b[q]?.length).toBe(10);
      }
      expect(shared / (10 * queries.length)).toBeGreaterThanOrEqual(0.95);
      const single1 = await many.search(queries[0] as string, { k: 10 });
      expect(single1.map((h) => h.id)).toEqual(b[0]?.map((h) => h.id));
      const scores = single1.map((h) => h.score);
      expect(scores).toEqual([...scores].sort((x, y) => y - x));
      const v = many.getVector(single1[0]?.id as string) as Float32Array;
      expect((await many.search(v, { k: 1 }))[0]?.id).toBe(single1[0]?.id);
    } finally {
      await Promise.all([one.close(), many.close()]);
    }
  });

  test('namespaces and filters apply per shard: the same answers as one index', async () => {
    const one = await engine.openIndex(single);
    const many = await engine.openIndex(sharded);
    try {
      expect(many.stats().namespaces).toEqual(one.stats().namespaces);
      expect(many.count).toBe(one.count);
      const ns = Object.keys(one.stats().namespaces)[0] as string;
      const a = await one.search('a bird that sings', { k: 5, namespace: ns, ef: 400, mode: 'vector' });
      const b = await many.search('a bird that sings', { k: 5, namespace: ns, ef: 400 });
      expect(b.length).toBe(5);
      expect(b.every((h) => h.namespace === ns)).toBe(true);
      expect(b.map((h) => h.id)).toEqual(a.map((h) => h.id));
      const all = await many.retrieveAll('a bird that sings', { namespaces: { [ns]: 3 }, ef: 400 });
      expect(all[ns]?.map((h) => h.id)).toEqual(a.slice(0, 3).map((h) => h.id));
    } finally {
      await Promise.all([one.close(), many.close()]);
    }
  });

  test('k is checked against the whole; writes are refused with a way to update', async () => {
    const many = await engine.openIndex(sharded);
    try {
      await expect(many.search('x', { k: many.count + 1 })).rejects.toThrow(`options.k must be an integer in [1, ${many.count}]`);
      await expect(many.search('x', { k: 1, mode: 'hybrid' })).rejects.toThrow(/a sharded index searches in vector mode only/);
      await expect(many.upsert([{ id: 'a', text: 'b' }])).rejects.toThrow(/a sharded index is searched, not written: upsert .*vecforge reindex/);
      await expect(many.save()).rejects.toBeInstanceOf(VecforgeError);
      expect(many.stats().version).toBe('v000001');
    } finally {
      await many.close();
    }
  });

  test('verify checks every shard of the set, then the merged whole', async () => {
    const report = await verifyIndex(sharded, engine);
    expect(report.ok).toBe(true);
    expect(report.checks.filter((c) => c.name.endsWith('checksums')).length).toBe(4);
    expect(report.checks.map((c) => c.name)).toContain('merged self search');
  });

  test('a build over a published sharded index refuses changed input and reports the same input as built', async () => {
    const again = await runShardedJob(shardSpec({ kind: 'build', dir: sharded, input: kCorpus, shards: 4 }), localShardRunner(engine));
    expect(again.published).toBe(false);
    expect(again.shards.every((s) => s.state === 'skipped')).toBe(true);
    await expect(runShardedJob(shardSpec({ kind: 'build', dir: sharded, input: kCorpus, shards: 3 }), localShardRunner(engine))).rejects.toThrow('holds 4 shards, not 3');
    await expect(runShardedJob(shardSpec({ kind: 'build', dir: single, input: kCorpus, shards: 2 }), localShardRunner(engine))).rejects.toThrow('already holds an unsharded index');
  });
});
