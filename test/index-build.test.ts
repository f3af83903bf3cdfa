import { readFileSync, writeFileSync, truncateSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { HierarchicalNSW } from 'hnswlib-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, type VectorIndex } from '../src/index.js';
import { currentVersion } from '../src/index/persist.js';
import { exactTopK, gloveRows, kTestCacheDir, tempDir } from './helpers.js';

const kBase = 6000;
const kQueries = 200;
const base = gloveRows(kBase);
const queries = gloveRows(kQueries, 1000 + kBase);
const truth = Array.from({ length: kQueries }, (_, i) => exactTopK(base, queries.subarray(i * 100, (i + 1) * 100), 10));

async function recallAt10(index: VectorIndex, ef: number): Promise<number> {
  const results = await index.searchBatch(queries, { k: 10, ef });
  let hit = 0;
  results.forEach((hits, i) => {
    const want = new Set((truth[i] ?? []).map(String));
    for (const h of hits) if (want.has(h.id)) hit++;
  });
  return hit / (kQueries * 10);
}

let engine1: Engine;
let engine2: Engine;
beforeAll(async () => {
  [engine1, engine2] = await Promise.all([
    Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' }),
    Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' }),
  ]);
});
afterAll(async () => {
  await Promise.all([engine1.close(), engine2.close()]);
});

async function build(engine: Engine, dir: string): Promise<VectorIndex> {
  const index = await engine.createIndex({ dir, m: 16, efConstruction: 100, capacity: 100 });
  const items = Array.from({ length: kBase }, (_, i) => ({ id: String(i), vector: base.subarray(i * 100, (i + 1) * 100) }));
  const out = await index.addBatch(items);
  expect(out).toHaveLength(kBase);
  expect(out.every((o) => o.state === 'ok')).toBe(true);
  return index;
}

describe('index build and search on real GloVe vectors', () => {
  test('recall@10 against brute force; 2 concurrent workers match a 1-worker build', async () => {
    const one = await build(engine1, tempDir());
    const two = await build(engine2, tempDir());
    expect(two.stats().count).toBe(kBase);
    expect(two.stats().capacity).toBeGreaterThanOrEqual(kBase);
    const r1 = await recallAt10(one, 100);
    const r2 = await recallAt10(two, 100);
    expect(r1).toBeGreaterThan(0.95);
    expect(Math.abs(r1 - r2)).toBeLessThan(0.02);
    await Promise.all([one.close(), two.close()]);
  });

  test('save then open gives identical results, and hnswlib-node reads our graph file', async () => {
    const dir = tempDir();
    const index = await build(engine2, dir);
    const before = await index.searchBatch(queries, { k: 10, ef: 64 });
    const version = await index.save();
    await index.close();
    const reopened = await engine2.openIndex(dir);
    expect(reopened.stats()).toMatchObject({ count: kBase, version });
    const after = await reopened.searchBatch(queries, { k: 10, ef: 64 });
    expect(after).toEqual(before);
    await reopened.close();
    // Opened without the move into huge pages (as jobs open): the same graph.
    const plain = await engine2.openIndex(dir, { hugePages: false });
    expect(await plain.searchBatch(queries, { k: 10, ef: 64 })).toEqual(before);
    await plain.close();
    await expect(engine2.openIndex(dir, { hugePages: 'no' as unknown as boolean })).rejects.toThrow(new TypeError('options.hugePages must be a boolean, got string'));

    const graph = join(currentVersion(dir)?.path ?? '', 'graph.hnsw');
    const foreign = new HierarchicalNSW('ip', 100);
    foreign.readIndexSync(graph);
    expect(foreign.getCurrentCount()).toBe(kBase);
    foreign.setEf(64);
    const q = Array.from(queries.subarray(0, 100));
    const res = foreign.searchKnn(q, 10);
    expect(res.neighbors.map(String)).toEqual((before[0] ?? []).map((h) => h.id));
  });

  test('deleted ids never come back, and their slots are reused once they are a fifth of the graph', async () => {
    const index = await build(engine2, tempDir());
    const victims = (truth[0] ?? []).slice(0, 5).map(String);
    const out = await index.delete([...victims, 'missing']);
    expect(out).toHaveLength(6);
    expect(out.slice(0, 5).every((o) => o.state === 'ok')).toBe(true);
    expect(out[5]).toEqual({ state: 'failed', id: 'missing', code: 'NOT_FOUND', reason: 'id is not in the index' });
    const hits = await index.search(queries.slice(0, 100), { k: 50, ef: 200 });
    expect(hits).toHaveLength(50);
    expect(hits.some((h) => victims.includes(h.id))).toBe(false);
    expect(index.stats()).toMatchObject({ count: kBase - 5, deleted: 5 });
    // A few deleted slots: new items take fresh ones (reusing a slot costs an hnswlib updatePoint).
    await index.addBatch(Array.from({ length: 5 }, (_, i) => ({ id: `new-${i}`, vector: queries.slice(i * 100, (i + 1) * 100) })));
    expect(index.stats()).toMatchObject({ count: kBase, deleted: 5 });
    // A fifth of the graph deleted: new items take deleted slots, the graph does not grow.
    const many = Array.from({ length: 1300 }, (_, i) => String(i)).filter((id) => !victims.includes(id)).slice(0, 1200);
    const removed = await index.delete(many);
    expect(removed).toHaveLength(1200);
    expect(removed.every((o) => o.state === 'ok')).toBe(true);
    const capacity = index.stats().capacity;
    const deleted = index.stats().deleted;
    expect(deleted * 5).toBeGreaterThanOrEqual(kBase + 5);
    await index.addBatch(Array.from({ length: 5 }, (_, i) => ({ id: `again-${i}`, vector: queries.slice((i + 5) * 100, (i + 6) * 100) })));
    expect(index.stats()).toMatchObject({ count: kBase - 1200 + 5, deleted: deleted - 5, capacity });
    const again = await index.search(queries.slice(500, 600), { k: 1, ef: 200 });
    expect(again[0]?.id).toBe('again-0');
    await index.close();
  });

  test('upsert replaces the vector', async () => {
    const index = await build(engine2, tempDir());
    const target = queries.slice(0, 100);
    const [out] = await index.upsert([{ id: '42', vector: target, metadata: { moved: true } }]);
    expect(out).toEqual({ state: 'ok', id: '42' });
    const [top] = await index.search(target, { k: 1 });
    expect(top).toMatchObject({ id: '42', metadata: { moved: true } });
    expect(top?.score).toBeCloseTo(1, 5);
    expect(index.stats().count).toBe(kBase);
    await index.close();
  });
});

describe('namespaces and filters', () => {
  test('namespaces are isolated; filters cover equality, $in and ranges; retrieveAll searches each namespace', async () => {
    const index = await engine2.createIndex({ dir: tempDir() });
    const n = 900;
    const items = Array.from({ length: n }, (_, i) => ({
      id: `w${i}`,
      vector: base.subarray(i * 100, (i + 1) * 100),
      namespace: ['episodic', 'semantic', 'procedural'][i % 3] as string,
      metadata: { rank: i, parity: i % 2 === 0 ? 'even' : 'odd', tag: `t${i % 5}` },
    }));
    await index.addBatch(items);
    const q = base.slice(0, 100);
    const semantic = await index.search(q, { k: 20, namespace: 'semantic' });
    expect(semantic).toHaveLength(20);
    expect(semantic.every((h) => h.namespace === 'semantic')).toBe(true);
    const two = await index.search(q, { k: 30, namespace: ['episodic', 'procedural'] });
    expect(two).toHaveLength(30);
    expect(two.every((h) => h.namespace !== 'semantic')).toBe(true);
    const even = await index.search(q, { k: 20, filter: { parity: 'even' } });
    expect(even).toHaveLength(20);
    expect(even.every((h) => h.metadata?.parity === 'even')).toBe(true);
    const tagged = await index.search(q, { k: 20, filter: { tag: { $in: ['t1', 't3'] } } });
    expect(tagged).toHaveLength(20);
    expect(tagged.every((h) => ['t1', 't3'].includes(String(h.metadata?.tag)))).toBe(true);
    const ranged = await index.search(q, { k: 10, filter: { rank: { $gte: 100, $lt: 200 } }, namespace: 'episodic' });
    // 34 episodic items have a rank in [100, 200): all k = 10 are found.
    expect(ranged).toHaveLength(10);
    expect(ranged.every((h) => Number(h.metadata?.rank) >= 100 && Number(h.metadata?.rank) < 200 && h.namespace === 'episodic')).toBe(true);
    const all = await index.retrieveAll(q, { namespaces: { episodic: 3, semantic: 2, nothing: 4 } });
    expect(Object.keys(all).sort()).toEqual(['episodic', 'nothing', 'semantic']);
    expect(all.episodic).toHaveLength(3);
    expect(all.episodic?.every((h) => h.namespace === 'episodic')).toBe(true);
    expect(all.semantic).toHaveLength(2);
    expect(all.nothing).toEqual([]);
    await index.close();
  });

  test('text items are embedded on the pool and searchable by text', async () => {
    const index = await engine2.createIndex({ dir: tempDir() });
    const docs = readFileSync(join(__dirname, '..', 'data', 'sample-corpus.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 500).map((l) => JSON.parse(l) as { id: string; text: string });
    const out = await index.addBatch(docs.map((d) => ({ id: d.id, text: d.text })));
    expect(out.filter((o) => o.state === 'ok')).toHaveLength(500);
    const [hit] = await index.search(docs[7]?.text ?? '', { k: 1 });
    expect(hit?.id).toBe(docs[7]?.id);
    expect(index.get(docs[7]?.id ?? '')?.hash).toMatch(/^[0-9a-f]{64}$/);
    await index.close();
  });

  test('texts embedded and inserted through a shared plan (many sort windows) land whole and find themselves', async () => {
    // 64-item windows make this 3,854-text batch a plan the workers pull from.
    const engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm', sortWindow: 64 });
    try {
      const index = await engine.createIndex({ dir: tempDir(), m: 16, efConstruction: 100 });
      const docs = readFileSync(join(__dirname, '..', 'data', 'sample-corpus.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; text: string });
      const out = await index.addBatch(docs.map((d) => ({ id: d.id, text: d.text })));
      expect(out.filter((o) => o.state === 'ok')).toHaveLength(docs.length);
      expect(index.count).toBe(docs.length);
      const probes = docs.filter((_, i) => i % 97 === 0);
      const hits = await index.searchBatch(probes.map((d) => d.text), { k: 1, ef: 200 });
      const found = hits.filter((h, i) => h[0]?.id === probes[i]?.id).length;
      expect(found / probes.length).toBeGreaterThanOrEqual(0.95);
      await index.close();
    } finally {
      await engine.close();
    }
  });
});

describe('persistence is crash-safe and checked', () => {
  async function saved(): Promise<string> {
    const dir = tempDir();
    const index = await engine2.createIndex({ dir });
    await index.addBatch(Array.from({ length: 300 }, (_, i) => ({ id: `v${i}`, vector: base.subarray(i * 100, (i + 1) * 100) })));
    await index.save();
    await index.close();
    return dir;
  }

  test('a flipped byte in the graph is refused before it reaches native code', async () => {
    const dir = await saved();
    const graph = join(currentVersion(dir)?.path ?? '', 'graph.hnsw');
    const fd = openSync(graph, 'r+');
    writeSync(fd, Buffer.from([0xff]), 0, 1, 100);
    closeSync(fd);
    await expect(engine2.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: `index ${dir}: file graph.hnsw does not match its checksum` });
  });

  test('a truncated file is refused', async () => {
    const dir = await saved();
    const graph = join(currentVersion(dir)?.path ?? '', 'graph.hnsw');
    const size = statSync(graph).size;
    truncateSync(graph, size - 10);
    await expect(engine2.openIndex(dir)).rejects.toMatchObject({
      code: 'ERR_INDEX_CORRUPT',
      message: `index ${dir}: file graph.hnsw is ${size - 10} bytes, the manifest says ${size} (truncated or replaced)`,
    });
  });

  test('a newer format version and a wrong dimension are refused', async () => {
    const dir = await saved();
    const manifestPath = join(currentVersion(dir)?.path ?? '', 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, formatVersion: 99 }));
    await expect(engine2.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_VERSION', message: `index ${dir} has format version 99; this vecforge reads up to 2: upgrade vecforge` });
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, dims: 50, model: null }));
    await expect(engine2.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT' });
  });

  test('while a new version is written, the previous one stays readable', async () => {
    const dir = await saved();
    const first = currentVersion(dir)?.name;
    const index = await engine2.openIndex(dir);
    await index.addBatch([{ id: 'extra', vector: base.subarray(0, 100) }]);
    // A reader opening mid-save sees the old complete version: the pointer
    // moves only after every file and the manifest are written.
    const saving = index.save();
    const reader = await engine2.openIndex(dir);
    expect([first, 'v000002']).toContain(reader.stats().version);
    expect(await saving).toBe('v000002');
    await reader.close();
    const latest = await engine2.openIndex(dir);
    expect(latest.stats().count).toBe(301);
    await Promise.all([index.close(), latest.close()]);
  });

  test('a directory without an index is refused clearly', async () => {
    const dir = tempDir();
    await expect(engine2.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX', message: `${dir} holds no published index (no "current" file)` });
  });
});
