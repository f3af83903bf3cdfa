/**
 * One deeply nested or huge record fails alone (INVALID_METADATA) instead
 * of overflowing the stack of the write, or of every later search, save
 * and job.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex } from '../src/index.js';
import { kMaxMetadataBytes, kMaxMetadataDepth, metadataProblem } from '../src/index/validate-items.js';
import { corpusRows, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const kDims = 8;

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

/** `{ a: { a: … { a: 1 } } }`, `depth` objects deep, built without recursion. */
function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

function vector(i: number): Float32Array {
  return Float32Array.from({ length: kDims }, (_, d) => Math.cos(i * 3 + d));
}

describe('metadata bounds', () => {
  test('addBatch with one item nested 5,000 deep among good ones: only that item fails; search, save and reopen work', async () => {
    const dir = join(tempDir(), 'idx');
    const index = await engine.createIndex({ dir, dims: kDims });
    const items = Array.from({ length: 10 }, (_, i) => ({ id: `v${i}`, vector: vector(i), metadata: i === 4 ? nested(5000) : { i } }));
    const out = await index.addBatch(items);
    expect(out[4]).toEqual({ state: 'failed', id: 'v4', code: 'INVALID_METADATA', reason: `metadata is nested deeper than ${kMaxMetadataDepth} levels` });
    expect(out.filter((o) => o.state === 'ok')).toHaveLength(9);
    const hits = await index.search(vector(7), { k: 3 });
    expect(hits).toHaveLength(3);
    expect(hits[0]).toMatchObject({ id: 'v7', metadata: { i: 7 } });
    expect(await index.search(vector(7), { k: 9, filter: { i: { $in: [1, 2] } } })).toHaveLength(2);
    expect(await index.save()).toBe('v000001');
    await index.close();
    const reopened = await engine.openIndex(dir);
    expect(reopened.count).toBe(9);
    expect(reopened.get('v4')).toBeUndefined();
    await reopened.close();
  });

  test('upsert refuses metadata over the size bound, cyclic metadata, and metadata JSON cannot hold', async () => {
    const index = await engine.createIndex({ dir: join(tempDir(), 'idx'), dims: kDims });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const out = await index.upsert([
      { id: 'big', vector: vector(1), metadata: { text: 'x'.repeat(kMaxMetadataBytes) } },
      { id: 'wide', vector: vector(2), metadata: { list: Array.from({ length: kMaxMetadataBytes + 1 }, () => 0) } },
      { id: 'cyclic', vector: vector(3), metadata: cyclic },
      { id: 'bigint', vector: vector(4), metadata: { n: 1n } },
      { id: 'ok', vector: vector(5), metadata: { text: 'x'.repeat(1000) } },
    ]);
    expect(out.map((o) => (o.state === 'failed' ? o.code : o.state))).toEqual(['INVALID_METADATA', 'INVALID_METADATA', 'INVALID_METADATA', 'INVALID_METADATA', 'ok']);
    expect(out[0]).toMatchObject({ reason: `metadata is ${kMaxMetadataBytes + 11} bytes as JSON, more than ${kMaxMetadataBytes}` });
    expect(out[1]).toMatchObject({ reason: `metadata is larger than ${kMaxMetadataBytes} bytes as JSON` });
    expect(out[2]).toMatchObject({ reason: `metadata is nested deeper than ${kMaxMetadataDepth} levels` });
    expect(out[3]).toMatchObject({ reason: expect.stringMatching(/^metadata is not serialisable as JSON: .*BigInt/) });
    await index.close();
  });

  test(`metadataProblem: ${kMaxMetadataDepth} levels pass, one more does not; 1,000,000 levels are checked without recursion`, () => {
    expect(metadataProblem(nested(kMaxMetadataDepth))).toBeNull();
    expect(metadataProblem(nested(kMaxMetadataDepth + 1))).toBe(`metadata is nested deeper than ${kMaxMetadataDepth} levels`);
    expect(metadataProblem(nested(1_000_000))).toBe(`metadata is nested deeper than ${kMaxMetadataDepth} levels`);
    expect(metadataProblem({ a: [[[]]], b: null, c: 'x' })).toBeNull();
  });

  test('buildIndex with a record nested 5,000 deep: that record fails per item (errors.jsonl), the others are indexed', async () => {
    const root = tempDir();
    const rows: unknown[] = corpusRows().slice(0, 30);
    // Written by hand: JSON.stringify of it would overflow the stack.
    const deepLine = `{"id":"deep","text":"a cat on a mat","metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const input = join(root, 'in.jsonl');
    writeJsonl(input, rows);
    const text = readFileSync(input, 'utf8');
    const lines = text.split('\n');
    lines.splice(10, 0, deepLine);
    writeFileSync(input, lines.join('\n'));
    const idx = join(root, 'idx');
    const s = await buildIndex({ source: input, out: idx, engine, embeddingCache: false });
    expect(s).toMatchObject({ state: 'partial', published: true });
    expect(s.counts).toMatchObject({ read: 31, added: 30, failed: 1 });
    const errors = readFileSync(join(idx, 'errors.jsonl'), 'utf8').trim().split('\n');
    expect(errors).toHaveLength(1);
    expect(JSON.parse(errors[0] ?? '{}')).toMatchObject({ id: 'deep', code: 'INVALID_METADATA', line: 11 });
    const index = await engine.openIndex(idx);
    expect(index.count).toBe(30);
    expect(await index.search('a cat on a mat', { k: 3 })).toHaveLength(3);
    await index.close();
  });
});
