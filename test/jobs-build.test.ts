import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, inspectIndex, verifyIndex } from '../src/index.js';
import { contentHash } from '../src/store/record.js';
import { contentDifferences, corpusRows, indexContent, kCorpus, writeJsonl } from './jobs-helpers.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

describe('buildIndex', () => {
  test('the sample corpus: every document indexed with its namespace, metadata and a snippet; the sample queries find their expected documents', async () => {
    const out = join(tempDir(), 'idx');
    const s = await buildIndex({ source: kCorpus, out, engine, embeddingCache: false });
    const rows = corpusRows();
    expect(s).toMatchObject({ state: 'ok', kind: 'build', published: true, version: 'v000001', errorsFile: null });
    expect(s.counts).toMatchObject({ read: rows.length, added: rows.length, failed: 0, embedded: rows.length, cacheHits: 0 });
    expect(Object.values(s.stages).every((ms) => ms >= 0)).toBe(true);
    expect(s.stages.insertMs).toBeGreaterThan(0);
    expect(s.stages.embedMs).toBeGreaterThan(0);
    expect(existsSync(join(out, '.job'))).toBe(false);
    expect(existsSync(join(out, '.lock'))).toBe(false);
    expect(existsSync(join(out, 'errors.jsonl'))).toBe(false);

    const index = await engine.openIndex(out);
    try {
      expect(index.count).toBe(rows.length);
      const otter = rows.find((r) => r.id === 'otter.n.02');
      expect(index.get('otter.n.02')).toEqual({ id: 'otter.n.02', namespace: 'noun', metadata: { ...otter?.metadata, _snippet: otter?.text }, hash: contentHash(otter?.text ?? '') });
      expect(index.stats().namespaces).toEqual({ noun: 2805, adjective: 553, verb: 389, adverb: 107 });
      const queries = readFileSync(join(kRepoRoot, 'data', 'sample-queries.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { query: string; expected: string[] });
      const hits = await index.searchBatch(
        queries.map((q) => q.query),
        { k: 10, ef: 128 },
      );
      const found = queries.filter((q, i) => hits[i]?.some((h) => q.expected.includes(h.id)));
      expect(found.length).toBeGreaterThanOrEqual(Math.floor(queries.length * 0.9));
    } finally {
      await index.close();
    }
    const report = await verifyIndex(out, engine);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['checksums', 'graph loads', 'counts', 'lexical', 'self search']);
    const d = inspectIndex(out);
    expect(d).toMatchObject({ version: 'v000001', job: null, lock: null, errors: 0 });
    expect(d.manifest?.counts.count).toBe(rows.length);
    expect(d.totalBytes).toBe(Object.values(d.files).reduce((a, b) => a + b, 0));
    expect(Object.keys(d.files).filter((f) => f.startsWith('lexical-'))).toHaveLength(1);
  });

  test('an async iterable source, custom field names; unchanged text is never embedded twice, even across indexes', async () => {
    const dir = tempDir();
    const cache = join(dir, 'cache.lmdb');
    const rows = corpusRows().slice(0, 300);
    async function* source(): AsyncGenerator<unknown> {
      for (const r of rows) yield { key: r.id, body: r.text, kind: r.namespace };
    }
    const opts = { engine, embeddingCache: cache, idField: 'key', textField: 'body', namespaceField: 'kind', snippetChars: 0 };
    const a = await buildIndex({ ...opts, source: source(), out: join(dir, 'a') });
    expect(a.counts).toMatchObject({ added: 300, embedded: 300, cacheHits: 0 });
    const b = await buildIndex({ ...opts, source: source(), out: join(dir, 'b') });
    expect(b.counts).toMatchObject({ added: 300, embedded: 0, cacheHits: 300 });
    const ca = await indexContent(engine, join(dir, 'a'));
    expect(contentDifferences(ca, await indexContent(engine, join(dir, 'b')))).toEqual([]);
    expect(ca.records.get(rows[0]?.id ?? '')).toBe(JSON.stringify({ id: rows[0]?.id, namespace: rows[0]?.namespace, metadata: {}, hash: contentHash(rows[0]?.text ?? '') }));
  });

  test('bad records go to errors.jsonl with line, id, code and reason; the job goes on', async () => {
    const dir = tempDir();
    const good = corpusRows().slice(0, 5);
    const input = join(dir, 'in.jsonl');
    const lines = [
      ...good.map((r) => JSON.stringify(r)),
      'not json',
      '[1, 2]',
      '{"id":"x1"}',
      '{"text":"no id"}',
      '{"id":"empty","text":"  "}',
      '{"id":"oov","text":"zzqqx vvbbn"}',
      JSON.stringify(good[0]),
      `{"id":"big","text":"${'word '.repeat(300)}"}`,
      '{"id":"ns","text":"a cat","namespace":5}',
      '{"id":"meta","text":"a cat","metadata":[1]}',
      '{"id":["a"],"text":"a cat"}',
      '',
      '{"id":7,"text":"a numeric id is kept as a string"}',
    ];
    writeFileSync(input, Buffer.concat([Buffer.from(`${lines.join('\n')}\n`), Buffer.from('{"id":"bad","text":"\xff"}\n', 'latin1')]));
    const small = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm', maxTextBytes: 1000 });
    try {
      const s = await buildIndex({ source: input, out: join(dir, 'idx'), engine: small, embeddingCache: false });
      expect(s.state).toBe('partial');
      expect(s.counts).toMatchObject({ read: 18, added: 7, failed: 11 });
      expect(s.errorsFile).toBe(join(dir, 'idx', 'errors.jsonl'));
      const errors = readFileSync(join(dir, 'idx', 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
      expect(errors).toEqual([
        { line: 6, code: 'MALFORMED_LINE', reason: 'line is not valid JSON' },
        { line: 7, code: 'MALFORMED_LINE', reason: 'line is not a JSON object' },
        { line: 8, id: 'x1', code: 'MISSING_TEXT', reason: 'missing "text"' },
        { line: 9, code: 'MISSING_ID', reason: 'missing "id"' },
        { line: 10, id: 'empty', code: 'EMPTY', reason: 'text is empty' },
        { line: 12, id: good[0]?.id, code: 'DUPLICATE_ID', reason: 'id already appears on line 1; the first occurrence is kept' },
        { line: 13, id: 'big', code: 'TOO_LARGE', reason: 'text is 1500 bytes, over the limit of 1000 (engine.maxTextBytes)' },
        { line: 14, id: 'ns', code: 'INVALID_NAMESPACE', reason: '"namespace" must be a string of at most 256 characters' },
        { line: 15, id: 'meta', code: 'INVALID_METADATA', reason: '"metadata" must be an object' },
        { line: 16, code: 'INVALID_ID', reason: '"id" must be a string or an integer, got an array' },
        { line: 19, code: 'INVALID_UTF8', reason: 'line is not valid UTF-8' },
      ]);
      const index = await small.openIndex(join(dir, 'idx'));
      expect(index.get('7')?.namespace).toBe('default');
      // A text with no word the model knows is not a failure: it is found lexically.
      expect(index.get('oov')).toBeDefined();
      await index.close();
    } finally {
      await small.close();
    }
  });

  test('a directory that already holds an index is refused; so is a missing input, leaving nothing behind', async () => {
    const dir = tempDir();
    const out = join(dir, 'idx');
    const input = writeJsonl(join(dir, 'in.jsonl'), corpusRows().slice(0, 20));
    await buildIndex({ source: input, out, engine, embeddingCache: false });
    const other = writeJsonl(join(dir, 'other.jsonl'), corpusRows().slice(20, 40));
    await expect(buildIndex({ source: other, out, engine })).rejects.toMatchObject({
      code: 'ERR_INDEX',
      message: `${out} already holds an index; update it with \`vecforge reindex --index ${out} --input ...\` (add --full to rebuild it)`,
    });
    // The same job again is a no-op (a build killed after publishing, before exiting).
    const again = await buildIndex({ source: input, out, engine, embeddingCache: false });
    expect(again).toMatchObject({ state: 'ok', published: false, version: 'v000001' });
    await expect(buildIndex({ source: join(dir, 'missing.jsonl'), out: join(dir, 'idx2'), engine })).rejects.toMatchObject({ code: 'ERR_IO', message: `cannot read input ${join(dir, 'missing.jsonl')}: ENOENT` });
    expect(existsSync(join(dir, 'idx2', 'current'))).toBe(false);
    expect(existsSync(join(dir, 'idx2', '.lock'))).toBe(false);
  });

  test('options are validated, naming the option and its allowed values', async () => {
    await expect(buildIndex({ source: kCorpus, out: 'x', chunkSize: 0 })).rejects.toThrow(new RangeError('options.chunkSize must be an integer in [1, 1000000], got 0'));
    await expect(buildIndex({ source: kCorpus, out: 'x', format: 'xml' as never })).rejects.toThrow(new RangeError('options.format must be one of "auto", "jsonl", "csv", got "xml"'));
    await expect(buildIndex({ source: 42 as never, out: 'x' })).rejects.toThrow(new TypeError('options.source must be a file path or an (async) iterable of objects'));
    await expect(buildIndex({ source: kCorpus, out: '' })).rejects.toThrow(new TypeError('options.out must be a non-empty directory path, got ""'));
    await expect(buildIndex({ source: kCorpus, out: 'x', index: { m: 1 } })).rejects.toThrow(new RangeError('options.index.m must be an integer in [2, 2048], got 1'));
  });
});
