import { closeSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, VecforgeError, buildIndex, reindex, type VectorIndex } from '../src/index.js';
import { currentVersion } from '../src/index/persist.js';
import { jobIndexHandle, jobOpenOptions } from '../src/index/internal.js';
import { corpusRows, indexContent, writeJsonl } from './jobs-helpers.js';
import { gloveRows, kTestCacheDir, tempDir } from './helpers.js';

const kBase = 3000;
const base = gloveRows(kBase);
const extra = gloveRows(200, 5000);
const row = (m: Float32Array, i: number): Float32Array => m.subarray(i * 100, (i + 1) * 100);

let engine: Engine;
let other: Engine;
beforeAll(async () => {
  [engine, other] = await Promise.all([
    Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' }),
    Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' }),
  ]);
});
afterAll(async () => {
  await Promise.all([engine.close(), other.close()]);
});

/** A saved index of kBase GloVe vectors; returns its directory. */
async function saved(): Promise<string> {
  const dir = tempDir();
  const index = await engine.createIndex({ dir, m: 16, efConstruction: 100 });
  const out = await index.addBatch(Array.from({ length: kBase }, (_, i) => ({ id: `v${i}`, vector: row(base, i), metadata: { i } })));
  expect(out.every((o) => o.state === 'ok')).toBe(true);
  await index.save();
  await index.close();
  return dir;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function flipGraphByte(dir: string): void {
  const graph = join(currentVersion(dir)?.path ?? '', 'graph.hnsw');
  const fd = openSync(graph, 'r+');
  writeSync(fd, Buffer.from([0xff]), 0, 1, 100);
  closeSync(fd);
}

/** What the index holds, for comparisons: each id's record and a search of its own vector. */
async function content(index: VectorIndex): Promise<Array<{ id: string; record: unknown; top: string | undefined }>> {
  const ids = index.ids().sort();
  return Promise.all(
    ids.map(async (id) => {
      const v = index.getVector(id);
      const hits = v === undefined ? [] : await index.search(v, { k: 1, ef: 64 });
      return { id, record: index.get(id), top: hits[0]?.id };
    }),
  );
}

describe('an index opened with lazyGraph', () => {
  test('operations issued before the graph finished loading all work, in order, and match an eagerly opened index', async () => {
    const dir = await saved();
    const lazy = await engine.openIndex(dir, jobOpenOptions({ hugePages: false, lazyGraph: true }));
    // The doc store is there at once.
    expect(lazy.count).toBe(kBase);
    expect(lazy.get('v7')).toMatchObject({ id: 'v7', metadata: { i: 7 } });
    // Synchronous graph operations either see the loaded graph or say that it is still loading.
    try {
      expect(lazy.stats().count).toBe(kBase);
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_INDEX', message: 'the graph of this index is still loading; await an operation that needs it (search, upsert, save) first' });
    }
    // Issued together, none awaited before the next.
    const searching = lazy.search(row(base, 5), { k: 3 });
    const batch = lazy.searchBatch(base.slice(1000, 1300), { k: 1 });
    const upserting = lazy.upsert([
      { id: 'v1', vector: row(extra, 1) },
      { id: 'n0', vector: row(extra, 0), namespace: 'new' },
    ]);
    const deleting = lazy.delete(['v2', 'missing']);
    const all = lazy.retrieveAll(row(base, 4), { namespaces: { default: 2 } });
    const saving = lazy.save();
    expect((await searching)[0]?.id).toBe('v5');
    expect((await batch).map((h) => h[0]?.id)).toEqual(['v10', 'v11', 'v12']);
    expect(await upserting).toEqual([
      { state: 'ok', id: 'v1' },
      { state: 'ok', id: 'n0' },
    ]);
    expect(await deleting).toMatchObject([{ state: 'ok', id: 'v2' }, { state: 'failed', id: 'missing', code: 'NOT_FOUND' }]);
    expect((await all).default?.[0]?.id).toBe('v4');
    const version = await saving;
    await jobIndexHandle(lazy).graphLoaded();
    expect(lazy.stats()).toMatchObject({ count: kBase, deleted: 2, version });
    expect((await lazy.search(row(extra, 0), { k: 1, namespace: 'new' }))[0]?.id).toBe('n0');
    const fromLazy = await content(lazy);
    await lazy.close();

    const eager = await other.openIndex(dir);
    expect(eager.stats()).toMatchObject({ count: kBase, version });
    expect(await content(eager)).toEqual(fromLazy);
    await eager.close();
  });

  test('closed before the graph finished loading: the graph is freed once loaded, and later calls fail with ERR_CLOSED', async () => {
    const dir = await saved();
    const lazy = await engine.openIndex(dir, jobOpenOptions({ lazyGraph: true }));
    await lazy.close();
    await expect(lazy.search(row(base, 0))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(jobIndexHandle(lazy).graphLoaded()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    // The engine still loads and serves the same index.
    const again = await engine.openIndex(dir, jobOpenOptions({ lazyGraph: true }));
    expect((await again.search(row(base, 9), { k: 1 }))[0]?.id).toBe('v9');
    await again.close();
  });

  test('a graph that fails its checksum fails the first operation that needs it with ERR_INDEX_CORRUPT, and close() still works', async () => {
    const dir = await saved();
    flipGraphByte(dir);
    // The eager open refuses it as before.
    await expect(engine.openIndex(dir)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT', message: `index ${dir}: file graph.hnsw does not match its checksum` });
    const lazy = await engine.openIndex(dir, jobOpenOptions({ hugePages: false, lazyGraph: true }));
    expect(lazy.count).toBe(kBase);
    const corrupt = { code: 'ERR_INDEX_CORRUPT', message: `index ${dir}: file graph.hnsw does not match its checksum` };
    await expect(lazy.upsert([{ id: 'v1', vector: row(extra, 1) }])).rejects.toMatchObject(corrupt);
    await expect(lazy.search(row(base, 0))).rejects.toMatchObject(corrupt);
    await expect(lazy.searchBatch(base.slice(0, 100))).rejects.toMatchObject(corrupt);
    await expect(lazy.delete(['v3'])).rejects.toMatchObject(corrupt);
    await expect(lazy.save()).rejects.toMatchObject(corrupt);
    await expect(jobIndexHandle(lazy).graphLoaded()).rejects.toBeInstanceOf(VecforgeError);
    expect(thrown(() => lazy.stats())).toMatchObject(corrupt);
    expect(thrown(() => lazy.getVector('v1'))).toMatchObject(corrupt);
    // Nothing was published.
    expect(currentVersion(dir)?.name).toBe('v000001');
    await lazy.close();
    await lazy.close();
  });

  test('a truncated graph is refused by the open itself', async () => {
    const dir = await saved();
    const graph = join(currentVersion(dir)?.path ?? '', 'graph.hnsw');
    const size = statSync(graph).size;
    truncateSync(graph, size - 10);
    await expect(engine.openIndex(dir, jobOpenOptions({ lazyGraph: true }))).rejects.toMatchObject({
      code: 'ERR_INDEX_CORRUPT',
      message: `index ${dir}: file graph.hnsw is ${size - 10} bytes, the manifest says ${size} (truncated or replaced)`,
    });
  });

  test('options.lazyGraph must be a boolean', async () => {
    const dir = await saved();
    await expect(engine.openIndex(dir, jobOpenOptions({ lazyGraph: 1 as unknown as boolean }))).rejects.toThrow(new TypeError('options.lazyGraph must be a boolean, got number'));
  });
});

describe('a reindex by an engine that opens the index from disk', () => {
  test('fails with ERR_INDEX_CORRUPT on a graph that fails its checksum, also when nothing changed, and leaves the published version as it was', async () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, 200);
    const input = writeJsonl(join(dir, 'in.jsonl'), rows);
    const idx = join(dir, 'idx');
    await buildIndex({ source: input, out: idx, engine, embeddingCache: false });
    flipGraphByte(idx);
    const corrupt = { code: 'ERR_INDEX_CORRUPT' };
    // The other engine did not publish it, so it opens the index from disk.
    await expect(reindex({ source: input, dir: idx, engine: other, embeddingCache: false })).rejects.toMatchObject(corrupt);
    const changed = writeJsonl(join(dir, 'changed.jsonl'), rows.map((r, i) => (i === 3 ? { ...r, text: `${r.text} again` } : r)));
    await expect(reindex({ source: changed, dir: idx, engine: other, embeddingCache: false })).rejects.toMatchObject(corrupt);
    expect(currentVersion(idx)?.name).toBe('v000001');
  });

  test('matches the index the publishing engine reindexes warm', async () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, 300);
    const next = rows.map((r, i) => (i % 30 === 0 ? { ...r, text: `${r.text}, once more` } : r)).filter((_, i) => i !== 7);
    const cold = join(dir, 'cold');
    const warm = join(dir, 'warm');
    const input = writeJsonl(join(dir, 'in.jsonl'), rows);
    await buildIndex({ source: input, out: cold, engine, embeddingCache: false });
    await buildIndex({ source: input, out: warm, engine: other, embeddingCache: false });
    const nextInput = writeJsonl(join(dir, 'next.jsonl'), next);
    // `other` published `warm` and keeps it: it reindexes it warm; `cold` was published by `engine`, so `other` opens it from disk.
    const s2 = await reindex({ source: nextInput, dir: warm, engine: other, embeddingCache: false });
    const s1 = await reindex({ source: nextInput, dir: cold, engine: other, embeddingCache: false });
    expect(s1.counts).toEqual(s2.counts);
    expect(s1.counts).toMatchObject({ updated: 10, deleted: 1, failed: 0 });
    expect(await indexContent(engine, cold)).toEqual(await indexContent(engine, warm));
  });
});

describe('an index opened with lazyDocs', () => {
  test('decodes its doc store on first use, or in an upsert while the pool inserts; skipUnchanged reports added, updated and unchanged; ends as an eagerly opened index', async () => {
    const dir = await saved();
    // A saved index's records carry no content hash: give a few one.
    const seed = await engine.openIndex(dir);
    await seed.upsert([0, 1, 2, 3].map((i) => ({ id: `v${i}`, vector: row(base, i), hash: `h${i}`, metadata: { i } })));
    await seed.save();
    await seed.close();

    const lazy = await engine.openIndex(dir, jobOpenOptions({ hugePages: false, lazyGraph: true, lazyDocs: true }));
    expect(jobIndexHandle(lazy).docsLoaded).toBe(false);
    // The manifest's count, before decoding.
    expect(lazy.count).toBe(kBase);
    expect(jobIndexHandle(lazy).docsLoaded).toBe(false);
    const outcomes = await lazy.upsert(
      [
        { id: 'v0', vector: row(extra, 0), hash: 'h0', metadata: { i: 0 } },
        { id: 'v1', vector: row(extra, 1), hash: 'h1-changed', metadata: { i: 1 } },
        { id: 'v2', vector: row(extra, 2), hash: 'h2', metadata: { i: 2, more: true } },
        { id: 'v3', vector: row(extra, 3), hash: 'h3', namespace: 'moved', metadata: { i: 3 } },
        { id: 'new', vector: row(extra, 4), hash: 'h-new' },
        { id: 'v5', vector: row(extra, 5) },
      ],
      { skipUnchanged: true },
    );
    expect(jobIndexHandle(lazy).docsLoaded).toBe(true);
    expect(outcomes).toEqual([
      { state: 'ok', id: 'v0', change: 'unchanged' },
      { state: 'ok', id: 'v1', change: 'updated' },
      { state: 'ok', id: 'v2', change: 'updated' },
      { state: 'ok', id: 'v3', change: 'updated' },
      { state: 'ok', id: 'new', change: 'added' },
      { state: 'ok', id: 'v5', change: 'updated' },
    ]);
    // The unchanged one kept its vector; the others took theirs.
    expect((await lazy.search(row(base, 0), { k: 1 }))[0]).toMatchObject({ id: 'v0' });
    expect((await lazy.search(row(extra, 1), { k: 1 }))[0]).toMatchObject({ id: 'v1' });
    expect(lazy.count).toBe(kBase + 1);
    await lazy.save();
    const fromLazy = await content(lazy);
    await lazy.close();

    const eager = await other.openIndex(dir);
    expect(await content(eager)).toEqual(fromLazy);
    expect(eager.stats().deleted).toBe(4 + 5);
    await eager.close();

    // Any other use decodes it first: a read, a search, a delete.
    for (const use of [(ix: VectorIndex) => ix.get('v9'), (ix: VectorIndex) => ix.search(row(base, 9), { k: 1 }), (ix: VectorIndex) => ix.delete(['v9'])]) {
      const again = await engine.openIndex(dir, jobOpenOptions({ hugePages: false, lazyGraph: true, lazyDocs: true }));
      await use(again);
      expect(jobIndexHandle(again).docsLoaded).toBe(true);
      await again.close();
    }
    await expect(engine.openIndex(dir, jobOpenOptions({ lazyDocs: 1 as unknown as boolean }))).rejects.toThrow('options.lazyDocs must be a boolean, got number');
  });

  test('a doc store that does not decode fails the upsert that decodes it, and every later use, with ERR_INDEX_CORRUPT', async () => {
    const dir = await saved();
    // The manifest says one more item than the store holds.
    const path = join(currentVersion(dir)?.path ?? '', 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as { counts: { count: number } };
    manifest.counts.count += 1;
    writeFileSync(path, JSON.stringify(manifest));
    const lazy = await engine.openIndex(dir, jobOpenOptions({ hugePages: false, lazyGraph: true, lazyDocs: true }));
    const mismatch = { code: 'ERR_INDEX_CORRUPT', message: `index ${dir}: doc store holds ${kBase} items, the manifest says ${kBase + 1}` };
    await expect(lazy.upsert([{ id: 'v1', vector: row(extra, 1) }], { skipUnchanged: true })).rejects.toMatchObject(mismatch);
    expect(thrown(() => lazy.get('v1'))).toMatchObject(mismatch);
    await expect(lazy.save()).rejects.toMatchObject(mismatch);
    await lazy.close();
  });
});

