/**
 * Sharded indexes built in one process (`--shards N` without a queue):
 * the same documents and vectors as a single-machine build, searches that
 * agree with one index, per-shard namespaces, read-only writes, verify.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** Opens the single index and the sharded one of the same input, runs `fn`, and closes both. */
async function withBoth(fn: (one: VectorIndex, many: VectorIndex) => Promise<void>): Promise<void> {
  const one = await engine.openIndex(single);
  const many = await engine.openIndex(sharded);
  try {
    await fn(one, many);
  } finally {
    await Promise.all([one.close(), many.close()]);
  }
}

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
    await withBoth(async (one, many) => {
      const queries = corpusRows()
        .filter((_, i) => i % 40 === 0)
        .map((r) => r.text);
      expect(queries.length).toBeGreaterThan(90);
      const a = await one.searchBatch(queries, { k: 10, mode: 'vector' });
      const b = await many.searchBatch(queries, { k: 10, mode: 'vector' });
      let shared = 0;
      for (const [q, hits] of a.entries()) {
        const ids = new Set(hits.map((h) => h.id));
        shared += (b[q] ?? []).filter((h) => ids.has(h.id)).length;
        expect(b[q]?.length).toBe(10);
      }
      expect(shared / (10 * queries.length)).toBeGreaterThanOrEqual(0.95);
      const single1 = await many.search(queries[0] as string, { k: 10, mode: 'vector' });
      expect(single1.map((h) => h.id)).toEqual(b[0]?.map((h) => h.id));
      const scores = single1.map((h) => h.score);
      expect(scores).toEqual([...scores].sort((x, y) => y - x));
      const v = many.getVector(single1[0]?.id as string) as Float32Array;
      expect((await many.search(v, { k: 1 }))[0]?.id).toBe(single1[0]?.id);
    });
  });

  test('namespaces and filters apply per shard: the same answers as one index', async () => {
    await withBoth(async (one, many) => {
      expect(many.stats().namespaces).toEqual(one.stats().namespaces);
      expect(many.count).toBe(one.count);
      const ns = Object.keys(one.stats().namespaces)[0] as string;
      const a = await one.search('a bird that sings', { k: 5, namespace: ns, ef: 400, mode: 'vector' });
      const b = await many.search('a bird that sings', { k: 5, namespace: ns, ef: 400, mode: 'vector' });
      expect(b.length).toBe(5);
      expect(b.every((h) => h.namespace === ns)).toBe(true);
      expect(b.map((h) => h.id)).toEqual(a.map((h) => h.id));
      const all = await many.retrieveAll('a bird that sings', { namespaces: { [ns]: 3 }, ef: 400, mode: 'vector' });
      expect(all[ns]?.map((h) => h.id)).toEqual(a.slice(0, 3).map((h) => h.id));
      // retrieveAll in the default (hybrid) mode: per namespace, what search gives.
      const fused = await many.retrieveAll('a bird that sings', { namespaces: { [ns]: 3, 'no-such-namespace': 2 } });
      expect(fused[ns]?.map((h) => h.id)).toEqual((await many.search('a bird that sings', { k: 3, namespace: ns })).map((h) => h.id));
      expect(fused[ns]?.every((h) => h.namespace === ns && (h.vectorRank !== undefined || h.lexicalRank !== undefined))).toBe(true);
      expect(fused['no-such-namespace']).toEqual([]);
    });
  });

  test('searchBatchSettled: a query that cannot be answered fails alone, with the code one index gives; the rest are searchBatch', async () => {
    await withBoth(async (one, many) => {
      const v = one.getVector(corpusRows()[3]?.id ?? '') as Float32Array;
      const nan = v.slice();
      nan[0] = Number.NaN;
      const batch: unknown[] = ['a small bird that sings', '?!', v, new Float32Array(2), nan, 'foraminifers'];
      const codes = (list: Awaited<ReturnType<VectorIndex['searchBatchSettled']>>): string[] => list.map((o) => (o.state === 'ok' ? 'ok' : o.code));
      for (const mode of ['hybrid', 'vector', 'lexical'] as const) {
        const a = await one.searchBatchSettled(batch, { k: 5, mode });
        const b = await many.searchBatchSettled(batch, { k: 5, mode });
        expect(codes(b)).toEqual(codes(a));
        const good = batch.filter((_, i) => a[i]?.state === 'ok') as Array<string | Float32Array>;
        expect(b.flatMap((o) => (o.state === 'ok' ? [o.hits.map((h) => h.id)] : []))).toEqual((await many.searchBatch(good, { k: 5, mode })).map((hits) => hits.map((h) => h.id)));
      }
      expect(codes(await many.searchBatchSettled(batch, { k: 5, mode: 'hybrid' }))).toEqual(['ok', 'UNANSWERABLE', 'ok', 'INVALID_QUERY', 'INVALID_QUERY', 'ok']);
      expect(codes(await many.searchBatchSettled(batch, { k: 5, mode: 'vector' }))).toEqual(['ok', 'NO_KNOWN_WORDS', 'ok', 'INVALID_QUERY', 'INVALID_QUERY', 'NO_KNOWN_WORDS']);
      expect(codes(await many.searchBatchSettled(batch, { k: 5, mode: 'lexical' }))).toEqual(['ok', 'NO_TERMS', 'INVALID_QUERY', 'INVALID_QUERY', 'INVALID_QUERY', 'ok']);
    });
  });

  test('lexical search scores BM25 with the statistics of all the shards: the same hits and scores as one index', async () => {
    await withBoth(async (one, many) => {
      const rows = corpusRows();
      const queries = [...rows.filter((_, i) => i % 97 === 0).map((r) => r.text), 'bird', 'a small bird that sings', 'foraminifers'];
      const a = await one.searchBatch(queries, { k: 10, mode: 'lexical' });
      const b = await many.searchBatch(queries, { k: 10, mode: 'lexical' });
      let compared = 0;
      for (const [q, hits] of a.entries()) {
        const got = b[q] ?? [];
        expect(got.map((h) => h.lexicalRank)).toEqual(hits.map((_, j) => j + 1));
        // Same scores in the same order; equal scores may list their ids in another order.
        expect(got.map((h) => h.score)).toEqual(hits.map((h) => h.score));
        const key = (list: typeof hits): string[] => list.map((h) => `${h.score}:${h.id}`).sort();
        // The last score may be tied with documents past k: compare the ids strictly above it.
        const last = hits[hits.length - 1]?.score;
        expect(key(got.filter((h) => h.score !== last))).toEqual(key(hits.filter((h) => h.score !== last)));
        compared += hits.length;
      }
      expect(compared).toBeGreaterThan(100);
      const ns = Object.keys(one.stats().namespaces)[0] as string;
      const inNs = await many.search('a small bird that sings', { k: 5, mode: 'lexical', namespace: ns });
      expect(inNs.map((h) => h.score)).toEqual((await one.search('a small bird that sings', { k: 5, mode: 'lexical', namespace: ns })).map((h) => h.score));
      expect(inNs.every((h) => h.namespace === ns)).toBe(true);
      expect(many.stats().lexical?.docs).toBe(one.stats().lexical?.docs);
    });
  });

  test('hybrid is the default for a sharded text index: the fused ranking of the merged sides, close to one index; a query no side can answer is refused', async () => {
    await withBoth(async (one, many) => {
      const queries = corpusRows()
        .filter((_, i) => i % 53 === 0)
        .map((r) => r.text);
      const a = await one.searchBatch(queries, { k: 10, ef: 400 });
      const b = await many.searchBatch(queries, { k: 10, ef: 400 });
      let shared = 0;
      for (const [q, hits] of a.entries()) {
        const got = b[q] ?? [];
        expect(got.length).toBe(10);
        expect(got.every((h) => h.vectorRank !== undefined || h.lexicalRank !== undefined)).toBe(true);
        const ids = new Set(hits.map((h) => h.id));
        shared += got.filter((h) => ids.has(h.id)).length;
      }
      expect(shared / (10 * queries.length)).toBeGreaterThanOrEqual(0.95);
      const one1 = await many.search(queries[1] as string, { k: 10, ef: 400 });
      expect(one1.map((h) => h.id)).toEqual(b[1]?.map((h) => h.id));
      await expect(many.search('!!!', { k: 3 })).rejects.toThrow(/query 0 cannot be answered/);
      await expect(many.search(many.getVector(one1[0]?.id as string) as Float32Array, { k: 3, mode: 'lexical' })).rejects.toThrow(/is a vector; options.mode 'lexical' searches texts/);
    });
  });

  test('no document left unsearchable: a text with no known word, on whichever shard, is found by its rare word', async () => {
    const dir = join(root, 'oov');
    const input = join(root, 'oov.jsonl');
    const rows = corpusRows().slice(0, 40);
    const oov = [
      { id: 'oov-1', text: 'foraminifers qqvvzz' },
      { id: 'oov-2', text: 'zzqxv wwvvxx' },
    ];
    writeFileSync(input, [...rows, ...oov].map((r) => JSON.stringify({ id: r.id, text: r.text })).join('\n'));
    const summary = await runShardedJob(shardSpec({ kind: 'build', dir, input, shards: 3 }), localShardRunner(engine));
    expect(summary.counts.failed).toBe(0);
    const many = await engine.openIndex(dir);
    try {
      expect(many.count).toBe(42);
      expect((await many.search('qqvvzz', { k: 1 })).map((h) => [h.id, h.lexicalRank, h.vectorRank])).toEqual([['oov-1', 1, undefined]]);
      expect((await many.search('wwvvxx', { k: 1, mode: 'lexical' })).map((h) => h.id)).toEqual(['oov-2']);
      await expect(many.search('wwvvxx', { k: 1, mode: 'vector' })).rejects.toThrow(/cannot be embedded/);
    } finally {
      await many.close();
    }
  });

  test('k is checked against the whole; writes are refused with a way to update', async () => {
    const many = await engine.openIndex(sharded);
    try {
      await expect(many.search('x', { k: many.count + 1 })).rejects.toThrow(`options.k must be an integer in [1, ${many.count}]`);
      await expect(many.search('x', { k: 1, mode: 'exact' as never })).rejects.toThrow('options.mode must be one of hybrid, vector, lexical, got "exact"');
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
