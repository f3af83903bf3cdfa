import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { DocStore, kDocSegmentLabels, type DocRecord } from '../src/store/doc-store.js';
import { gloveRows, kTestCacheDir, tempDir } from './helpers.js';

const kCount = 9000;
const rows = gloveRows(kCount + 500);
const vec = (i: number): Float32Array => rows.subarray(i * 100, (i + 1) * 100);

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

function readStore(path: string): Map<number, DocRecord> {
  const store = DocStore.open(path, true);
  const out = new Map<number, DocRecord>();
  try {
    store.readAll((label, record) => out.set(label, record));
  } finally {
    void store.close();
  }
  return out;
}

describe('doc store segments', () => {
  test('saves after upserts and deletes reopen with exactly the live records', async () => {
    const dir = tempDir();
    const index = await engine.createIndex({ dir, m: 16, efConstruction: 64 });
    await index.addBatch(Array.from({ length: kCount }, (_, i) => ({ id: `d${i}`, vector: vec(i), namespace: i % 2 === 0 ? 'even' : 'odd', metadata: { i } })));
    await index.save();
    // Upserts move ids to fresh labels, deletes clear labels in old segments.
    const upserted = Array.from({ length: 300 }, (_, j) => j * 29);
    await index.upsert(upserted.map((i) => ({ id: `d${i}`, vector: vec(kCount + (i % 500)), hash: `h${i}`, metadata: { i, v: 2 } })));
    const gone = Array.from({ length: 200 }, (_, j) => `d${j * 41 + 3}`);
    expect((await index.delete(gone)).every((o) => o.state === 'ok')).toBe(true);
    await index.addBatch([{ id: 'new', vector: vec(kCount + 1), namespace: 'extra' }]);
    const version = await index.save();
    const expected = new Map(index.ids().map((id) => [id, index.get(id)]));
    await index.close();

    const again = await engine.openIndex(dir);
    expect(again.stats().version).toBe(version);
    expect(again.count).toBe(kCount - 200 + 1);
    expect(new Map(again.ids().map((id) => [id, again.get(id)]))).toEqual(expected);
    // An upsert replaces the namespace too (none given: the default one).
    expect(again.get('d29')).toEqual({ id: 'd29', namespace: 'default', metadata: { i: 29, v: 2 }, hash: 'h29' });
    expect(again.get('d44')).toBeUndefined();
    const namespaces = again.stats().namespaces;
    expect(Object.keys(namespaces).sort()).toEqual(['default', 'even', 'extra', 'odd']);
    expect(Object.values(namespaces).reduce((a, b) => a + b, 0)).toBe(again.count);
    expect(namespaces.extra).toBe(1);
    const hits = await again.search(vec(kCount + 1), { k: 1, namespace: 'extra' });
    expect(hits[0]?.id).toBe('new');
    // A further incremental save from the reopened version keeps everything.
    await again.delete(['d1']);
    await again.save();
    await again.close();
    const third = await engine.openIndex(dir);
    expect(third.count).toBe(kCount - 200);
    expect(third.get('d1')).toBeUndefined();
    expect(third.get('d2')).toEqual(expected.get('d2'));
    await third.close();
  });

  test('a store in the one-value-per-label layout is read, and rewritten in segments by the next save', () => {
    const dir = tempDir();
    const path = join(dir, 'docs.lmdb');
    const root = open({ path, noSubdir: true, compression: false, maxDbs: 4 });
    const old = root.openDB<DocRecord, number>({ name: 'docs', keyEncoding: 'uint32' });
    const records: DocRecord[] = Array.from({ length: kDocSegmentLabels + 10 }, (_, i) => ({ id: `o${i}`, namespace: 'default', metadata: i % 3 === 0 ? null : { i }, hash: null }));
    root.transactionSync(() => {
      records.forEach((r, i) => {
        if (i !== 7) void old.put(i, r);
      });
    });
    void root.close();
    const read = readStore(path);
    expect(read.size).toBe(records.length - 1);
    expect(read.get(8)).toEqual(records[8]);
    expect(read.has(7)).toBe(false);

    const docs: Array<DocRecord | undefined> = records.map((r, i) => (i === 7 || i === 9 ? undefined : r));
    const store = DocStore.open(path);
    store.save(docs, [1]);
    void store.close();
    const converted = readStore(path);
    expect(converted.size).toBe(records.length - 2);
    expect([...converted.entries()]).toEqual(docs.flatMap((r, i) => (r === undefined ? [] : [[i, r]])));
    const check = open({ path, noSubdir: true, readOnly: true, compression: false, maxDbs: 4 });
    expect(check.openDB({ name: 'docs', keyEncoding: 'uint32' }).getCount()).toBe(0);
    void check.close();
  });
});
