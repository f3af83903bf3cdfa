import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { hashFile } from '../src/index/persist.js';
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

/** Writes a store the way layout 2 did: segments of record arrays (null: no record), the live bitset, the layout. */
function writeLayout2(path: string, docs: ReadonlyArray<DocRecord | undefined>, live: ReadonlySet<number>): void {
  const root = open({ path, noSubdir: true, compression: false, maxDbs: 4 });
  const segments = root.openDB<Array<DocRecord | null>, number>({ name: 'segments', keyEncoding: 'uint32' });
  const info = root.openDB<unknown, string>({ name: 'info' });
  const bits = Buffer.alloc(Math.ceil(docs.length / 8));
  for (const label of live) bits[label >> 3] = (bits[label >> 3] ?? 0) | (1 << (label & 7));
  root.transactionSync(() => {
    for (let s = 0; s * kDocSegmentLabels < docs.length; s++) {
      void segments.put(s, docs.slice(s * kDocSegmentLabels, (s + 1) * kDocSegmentLabels).map((r) => r ?? null));
    }
    void info.put('live', bits);
    void info.put('layout', 2);
  });
  void root.close();
}

function layoutOf(path: string): number {
  const store = DocStore.open(path, true);
  try {
    return store.layout;
  } finally {
    void store.close();
  }
}

/**
 * Records of every kind of field the store keeps, spread over two segments
 * and a few namespaces. msgpack (layout 2, and the metadata layout 3 keeps
 * whole) replaces lone surrogates: they are only in the strings layout 3
 * keeps in columns (ids, hashes, string fields of metadata), and with
 * `lone` false nowhere.
 */
function unusualRecords(lone: boolean): Array<DocRecord | undefined> {
  const every = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c)).join('');
  const strings = ['', 'plain', 'é ü ß', '日本語のテキスト', 'emoji 🦀🎉', 'lone \ud800 surrogate', 'low \udc00 too', 'nul \u0000 and \u0001 and \u00ff', 'line\nbreak\ttab', '"quotes" and \\', every];
  const docs: Array<DocRecord | undefined> = [];
  for (let i = 0; i < kDocSegmentLabels + 300; i++) {
    if (i % 17 === 5) {
      docs.push(undefined);
      continue;
    }
    const raw = strings[i % strings.length] as string;
    const text = raw.isWellFormed() ? raw : 'was not well formed';
    const any = lone ? raw : text;
    docs.push({
      id: i % 50 === 0 ? `id ${any} ${i}` : `doc-${i}`,
      namespace: ['default', 'ns é', 'other', `n${i % 3}`][i % 4] as string,
      // First segment: one shape (kept by fields); second: mixed shapes.
      metadata:
        i % 11 === 0
          ? null
          : i < kDocSegmentLabels
            ? { title: any, n: i % 7 === 0 ? null : i * 1.5, nested: { a: [1, 'two', { three: 3 }], big: 2 ** 53 - 1 }, flag: i % 2 === 0, when: new Date(1_700_000_000_000 + i), gone: undefined }
            : i % 3 === 0
              ? { other: text, neg: -i, tiny: 5e-324 }
              : { title: text },
      hash: i % 13 === 0 ? null : i % 7 === 0 ? `${any}#${i}` : `h${i.toString(16).padStart(64, '0')}`,
    });
  }
  return docs;
}

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

  test('a store in layout 3 gives back every record exactly: strings of any characters, null metadata and hashes, metadata of any values, several namespaces', () => {
    const path = join(tempDir(), 'docs.lmdb');
    const docs = unusualRecords(true);
    const store = DocStore.open(path);
    store.save(docs, null);
    void store.close();
    expect(layoutOf(path)).toBe(3);
    const read = readStore(path);
    expect([...read.entries()]).toStrictEqual(docs.flatMap((r, i) => (r === undefined ? [] : [[i, r]])));
    // A record whose metadata kept an undefined value keeps the key.
    expect(Object.keys(read.get(1)?.metadata ?? {})).toEqual(['title', 'n', 'nested', 'flag', 'when', 'gone']);

    const table = DocStore.open(path, true);
    try {
      const { count, live, namespaces } = table.readTable();
      expect(count).toBe(read.size);
      const labels = (bits: Uint8Array): number[] => docs.flatMap((_, i) => (((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0 ? [i] : []));
      expect(labels(live)).toEqual([...read.keys()]);
      expect([...namespaces.keys()].sort()).toEqual(['default', 'n0', 'n1', 'n2', 'ns é', 'other']);
      for (const [name, bits] of namespaces) expect(labels(bits)).toEqual([...read.entries()].filter(([, r]) => r.namespace === name).map(([i]) => i));
    } finally {
      void table.close();
    }
  });

  test('an incremental save in layout 3 rewrites only changed segments and keeps the others', () => {
    const path = join(tempDir(), 'docs.lmdb');
    const docs = unusualRecords(true);
    const first = DocStore.open(path);
    first.save(docs, null);
    void first.close();
    // Label 3 removed (its record stays in its segment, its bit is cleared), one appended in the second segment.
    docs[3] = undefined;
    docs.push({ id: 'appended', namespace: 'late', metadata: { x: 1 }, hash: null });
    const second = DocStore.open(path);
    second.save(docs, [docs.length - 1]);
    void second.close();
    expect([...readStore(path).entries()]).toStrictEqual(docs.flatMap((r, i) => (r === undefined ? [] : [[i, r]])));
  });

  test('a store in layout 2 is read, and rewritten in layout 3 by the next save, even an incremental one', () => {
    const path = join(tempDir(), 'docs.lmdb');
    const docs = unusualRecords(false);
    // The second segment holds a record whose label is no longer live.
    const live = new Set(docs.flatMap((r, i) => (r === undefined || i === kDocSegmentLabels + 2 ? [] : [i])));
    writeLayout2(path, docs, live);
    expect(layoutOf(path)).toBe(2);
    const expected = docs.flatMap((r, i) => (r === undefined || !live.has(i) ? [] : [[i, r]]));
    expect([...readStore(path).entries()]).toStrictEqual(expected);

    docs[kDocSegmentLabels + 2] = undefined;
    const store = DocStore.open(path);
    store.save(docs, [1]);
    void store.close();
    expect(layoutOf(path)).toBe(3);
    expect([...readStore(path).entries()]).toStrictEqual(expected);
  });

  test('an index whose doc store is in layout 2 opens with the same records, and reopens identically after a save converts it', async () => {
    const dir = tempDir();
    const index = await engine.createIndex({ dir, m: 16, efConstruction: 64 });
    await index.addBatch(
      Array.from({ length: 5000 }, (_, i) => ({
        id: `d${i}`,
        vector: vec(i),
        namespace: ['a', 'b', 'c'][i % 3] as string,
        ...(i % 4 === 0 ? {} : { metadata: { i, text: `text ${i} ü`, tags: ['x', i % 2 === 0] } }),
        ...(i % 5 === 0 ? {} : { hash: `hash-${i}` }),
      })),
    );
    await index.delete(['d7', 'd4100']);
    await index.save();
    await index.close();

    // Rewrites the version's doc store in layout 2, and its manifest entry,
    // as index format version 1 (before layout 3) had them.
    const current = readFileSync(join(dir, 'current'), 'utf8').trim();
    const version = join(dir, 'versions', current);
    const docsPath = join(version, 'docs.lmdb');
    const records = readStore(docsPath);
    const docs: Array<DocRecord | undefined> = [];
    for (const [label, record] of records) docs[label] = record;
    rmSync(docsPath);
    rmSync(`${docsPath}-lock`, { force: true });
    writeLayout2(docsPath, Array.from(docs), new Set(records.keys()));
    const manifestPath = join(version, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, unknown>; formatVersion: number };
    expect(manifest.formatVersion).toBe(2);
    manifest.files['docs.lmdb'] = hashFile(docsPath);
    manifest.formatVersion = 1;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    expect(layoutOf(docsPath)).toBe(2);

    const old = await engine.openIndex(dir);
    const expected = new Map(old.ids().map((id) => [id, old.get(id)]));
    expect(expected.size).toBe(4998);
    const counts = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const r of expected.values()) if (r !== undefined) out[r.namespace] = (out[r.namespace] ?? 0) + 1;
      return out;
    };
    expect(old.get('d1')).toEqual({ id: 'd1', namespace: 'b', metadata: { i: 1, text: 'text 1 ü', tags: ['x', false] }, hash: 'hash-1' });
    expect(old.get('d0')).toEqual({ id: 'd0', namespace: 'a', metadata: null, hash: null });
    expect(old.get('d7')).toBeUndefined();
    expect(old.stats().namespaces).toEqual({ a: 1667, b: 1666, c: 1665 });
    expect(old.stats().namespaces).toEqual(counts());
    await old.upsert([{ id: 'd9', vector: vec(9), namespace: 'b', metadata: { changed: true } }]);
    expected.set('d9', { id: 'd9', namespace: 'b', metadata: { changed: true }, hash: null });
    await old.save();
    await old.close();

    const again = await engine.openIndex(dir);
    const savedVersion = join(dir, 'versions', readFileSync(join(dir, 'current'), 'utf8').trim());
    const saved = join(savedVersion, 'docs.lmdb');
    expect(layoutOf(saved)).toBe(3);
    expect((JSON.parse(readFileSync(join(savedVersion, 'manifest.json'), 'utf8')) as { formatVersion: number }).formatVersion).toBe(2);
    expect(new Map(again.ids().map((id) => [id, again.get(id)]))).toEqual(expected);
    expect(again.stats().namespaces).toEqual({ a: 1666, b: 1667, c: 1665 });
    expect(again.stats().namespaces).toEqual(counts());
    const hits = await again.search(vec(9), { k: 1, namespace: 'b' });
    expect(hits[0]).toMatchObject({ id: 'd9', metadata: { changed: true } });
    await again.close();
  });
});
