/**
 * `vecforge serve` endpoints against a real server on a loopback port,
 * with plain fetch as the OpenAI-style client: embeddings equal
 * engine.embed, searches equal the library's, writes are pending until
 * saved, validation errors name the field, /metrics parses and moves.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { VectorIndex } from '../src/index.js';
import { json, parsePrometheus, sampleValue, startFixture, type ServeFixture } from './serve-helpers.js';

let f: ServeFixture;
let index: VectorIndex;

beforeAll(async () => {
  f = await startFixture({ cacheSize: 100 });
  index = await f.engine.openIndex(f.dir);
});

afterAll(async () => {
  await index?.close();
  await f?.close();
});

const kTexts = ['a large dog with a thick coat', 'the act of running quickly', 'a small boat'];

describe('POST /v1/embeddings', () => {
  test('float and base64 give exactly the vectors of engine.embed, with usage', async () => {
    const expected = await f.engine.embed(kTexts);
    const r = await json(`${f.url}/v1/embeddings`, 'POST', { model: 'glove-100d', input: kTexts });
    expect(r.status).toBe(200);
    expect(r.body.object).toBe('list');
    expect(r.body.model).toBe('glove-100d');
    expect(r.body.data).toHaveLength(3);
    expect(r.body.usage).toEqual({ prompt_tokens: 15, total_tokens: 15 });
    const b = await json(`${f.url}/v1/embeddings`, 'POST', { input: kTexts, encoding_format: 'base64' });
    expect(b.status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const want = expected.vectors.subarray(i * 100, (i + 1) * 100);
      expect(r.body.data[i].index).toBe(i);
      expect(Float32Array.from(r.body.data[i].embedding as number[])).toEqual(want);
      const bytes = Buffer.from(b.body.data[i].embedding as string, 'base64');
      expect(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)).toEqual(want);
    }
  });

  test('a string input, and dimensions equal to the model', async () => {
    const r = await json(`${f.url}/v1/embeddings`, 'POST', { input: 'hello world', dimensions: 100 });
    expect(r.status).toBe(200);
    expect(r.body.data).toHaveLength(1);
    expect(r.body.data[0].embedding).toHaveLength(100);
  });

  test.each([
    [{ input: [1, 2] }, 'input[0]', /input\[0\] must be string/],
    [{ input: [] }, 'input', /input must NOT have fewer than 1 items/],
    [{}, 'input', /input is required/],
    [{ input: 'x', encoding_format: 'int8' }, 'encoding_format', /encoding_format must be equal to one of the allowed values/],
    [{ input: 'x', dimensions: 64 }, 'dimensions', /dimensions must equal the model's 100, got 64/],
    [{ input: 'x', model: 'text-embedding-3-small' }, 'model', /model must be "glove-100d"/],
    [{ input: ['fine words', 'qqqzzzxxy'] }, 'input[1]', /input\[1\] cannot be embedded/],
  ])('400 naming the field: %j', async (body, param, message) => {
    const r = await json(`${f.url}/v1/embeddings`, 'POST', body);
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe(param);
    expect(r.body.error.message).toMatch(message);
    expect(r.body.error.type).toBe('invalid_request_error');
  });
});

describe('search', () => {
  test('query, queries, vector and vectors answer as the library does', async () => {
    const want = await index.search(kTexts[0] as string, { k: 5 });
    const one = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { query: kTexts[0], k: 5 });
    expect(one.status).toBe(200);
    expect(one.body.version).toBe('v000001');
    expect(one.body.hits.map((h: { id: string }) => h.id)).toEqual(want.map((h) => h.id));
    expect(one.body.hits[0].score).toBeCloseTo(want[0]?.score ?? Number.NaN, 5);
    const many = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { queries: kTexts, k: 3, namespace: 'noun' });
    expect(many.status).toBe(200);
    expect(many.body.results).toHaveLength(3);
    for (const [i, text] of kTexts.entries()) {
      const lib = await index.search(text, { k: 3, namespace: 'noun' });
      expect(many.body.results[i].hits.map((h: { id: string }) => h.id)).toEqual(lib.map((h) => h.id));
    }
    const v = index.getVector(want[0]?.id ?? '');
    expect(v).toBeDefined();
    const byVector = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { vector: Array.from(v ?? []), k: 1 });
    expect(byVector.body.hits[0].id).toBe(want[0]?.id);
    const byVectors = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { vectors: [Array.from(v ?? []), Array.from(v ?? [])], k: 2 });
    expect(byVectors.body.results).toHaveLength(2);
    expect(byVectors.body.results[1].hits[0].id).toBe(want[0]?.id);
  });

  test('one query that cannot be embedded fails alone in queries (vector mode)', async () => {
    const r = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { queries: ['a dog', 'qqqzzzxxy'], k: 2, mode: 'vector' });
    expect(r.status).toBe(200);
    expect(r.body.results[0].hits).toHaveLength(2);
    expect(r.body.results[1].error.message).toMatch(/queries\[1\] cannot be embedded/);
  });

  test('text queries run in the default mode of the index (hybrid) as the library does, and mode/fusion pass through', async () => {
    const texts = ['a dog', kTexts[1] as string];
    const r = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { queries: texts, k: 3 });
    expect(r.status).toBe(200);
    for (const [i, text] of texts.entries()) {
      const lib = await index.search(text, { k: 3 });
      expect(r.body.results[i].hits.map((h: { id: string }) => h.id)).toEqual(lib.map((h) => h.id));
    }
    const lexical = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { query: kTexts[1], k: 3, mode: 'lexical' });
    expect(lexical.status).toBe(200);
    const lib = await index.search(kTexts[1] as string, { k: 3, mode: 'lexical' });
    expect(lexical.body.hits.map((h: { id: string }) => h.id)).toEqual(lib.map((h) => h.id));
    const weighted = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { query: kTexts[1], k: 3, fusion: { method: 'weighted', weights: { vector: 1, lexical: 2 } } });
    expect(weighted.status).toBe(200);
    for (const fusion of [{ method: 'rrf' as const, k: 20 }, { method: 'convex' as const, weights: { vector: 1, lexical: 3 } }]) {
      const fused = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { query: 'a dog', k: 3, fusion });
      expect(fused.status).toBe(200);
      expect(fused.body.hits.map((h: { id: string; score: number }) => [h.id, h.score])).toEqual((await index.search('a dog', { k: 3, fusion })).map((h) => [h.id, h.score]));
    }
    const bad = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { query: 'dog', mode: 'fuzzy' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/mode/);
  });

  test.each([
    [{ k: 3 }, /exactly one of query, queries, vector, vectors; got none/],
    [{ query: 'dog', vector: [1] }, /exactly one of query, queries, vector, vectors; got query, vector/],
    [{ query: 'dog', k: 0 }, /k must be >= 1/],
    [{ query: 'dog', k: 'ten' }, /k must be integer/],
    [{ query: 'dog', top: 3 }, /top is not a known field/],
    [{ vector: [1, 2, 3] }, /vector has 3 values, the index has 100 dims/],
    [{ query: 'dog', filter: { lexname: { bogus: 1 } } }, /filter/],
  ])('400: %j', async (body, message) => {
    const r = await json(`${f.url}/v1/indexes/notes/search`, 'POST', body);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(message);
  });

  test('retrieve-all searches several namespaces with one embedding', async () => {
    const r = await json(`${f.url}/v1/indexes/notes/retrieve-all`, 'POST', { query: 'to move fast', namespaces: { noun: 2, verb: 3 } });
    expect(r.status).toBe(200);
    const want = await index.retrieveAll('to move fast', { namespaces: { noun: 2, verb: 3 } });
    expect(r.body.results.noun.map((h: { id: string }) => h.id)).toEqual(want.noun?.map((h) => h.id));
    expect(r.body.results.verb).toHaveLength(3);
    const bad = await json(`${f.url}/v1/indexes/notes/retrieve-all`, 'POST', { query: 'x', namespaces: { noun: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('namespaces.noun');
  });

  test('an unknown index is 404; an unknown route is 404', async () => {
    const r = await json(`${f.url}/v1/indexes/nope/search`, 'POST', { query: 'dog' });
    expect(r.status).toBe(404);
    expect(r.body.error.message).toMatch(/no index named "nope"; served: notes/);
    expect((await json(`${f.url}/v2/things`)).status).toBe(404);
  });
});

describe('writes, stats, health', () => {
  test('upsert and delete report per-item outcomes, pending until a save publishes them', async () => {
    const up = await json(`${f.url}/v1/indexes/notes/documents`, 'POST', { documents: [{ id: 'mine-1', text: 'a purple elephant dancing', namespace: 'noun' }, { id: 7 }, { id: 'mine-2', vector: [1, 2] }] });
    expect(up.status).toBe(200);
    expect(up.body.results[0]).toEqual({ id: 'mine-1', state: 'pending' });
    expect(up.body.results[1]).toMatchObject({ state: 'failed', code: 'INVALID_ID' });
    expect(up.body.results[2]).toMatchObject({ id: 'mine-2', state: 'failed', code: 'WRONG_DIMS' });
    expect(up.body.pendingWrites).toBe(1);
    const found = await json(`${f.url}/v1/indexes/notes/search`, 'POST', { query: 'a purple elephant dancing', k: 1 });
    expect(found.body.hits[0].id).toBe('mine-1');
    const del = await json(`${f.url}/v1/indexes/notes/documents`, 'DELETE', { ids: ['mine-1', 'never-was'] });
    expect(del.body.results).toEqual([
      { id: 'mine-1', state: 'pending' },
      { id: 'never-was', state: 'failed', code: 'NOT_FOUND', reason: 'id is not in the index' },
    ]);
    expect(del.body.pendingWrites).toBe(2);
    const stats = await json(`${f.url}/v1/indexes/notes`);
    expect(stats.body).toMatchObject({ name: 'notes', version: 'v000001', count: 300, dims: 100, pendingWrites: 2 });
    const saved = await json(`${f.url}/v1/indexes/notes/save`, 'POST');
    expect(saved.body).toEqual({ version: 'v000002', saved: 2, pendingWrites: 0 });
    const again = await json(`${f.url}/v1/indexes/notes/save`, 'POST');
    expect(again.body).toEqual({ version: 'v000002', saved: 0, pendingWrites: 0 });
    const list = await json(`${f.url}/v1/indexes`);
    expect(list.body.indexes).toHaveLength(1);
    expect(list.body.indexes[0]).toMatchObject({ name: 'notes', version: 'v000002', pendingWrites: 0 });
    expect(JSON.stringify(list.body)).not.toContain(f.dir);
  });

  test('a write body is checked: documents and ids are required arrays', async () => {
    const r = await json(`${f.url}/v1/indexes/notes/documents`, 'POST', { documents: 'x' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe('documents must be array');
    const d = await json(`${f.url}/v1/indexes/notes/documents`, 'DELETE', {});
    expect(d.body.error.message).toBe('ids is required');
  });

  test('healthz and readyz', async () => {
    expect((await json(`${f.url}/healthz`)).body).toEqual({ status: 'ok' });
    const ready = await json(`${f.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', model: 'glove-100d', indexes: [{ name: 'notes' }] });
  });

  test('a body over the limit is 413', async () => {
    const r = await json(`${f.url}/v1/embeddings`, 'POST', { input: 'word '.repeat(4 * 2 ** 20) });
    expect(r.status).toBe(413);
    expect(r.body.error.message).toMatch(/--max-body-bytes/);
  });
});

describe('/metrics and the result cache', () => {
  test('parses as Prometheus text; request, cache and engine counters move', async () => {
    const before = parsePrometheus((await json(`${f.url}/metrics`)).body as string);
    const query = { query: 'a bird that sings at night', k: 4 };
    const first = await json(`${f.url}/v1/indexes/notes/search`, 'POST', query);
    const second = await json(`${f.url}/v1/indexes/notes/search`, 'POST', query);
    expect(second.body.hits).toEqual(first.body.hits);
    await json(`${f.url}/v1/embeddings`, 'POST', { input: ['one more text', 'and another'] });
    const text = (await json(`${f.url}/metrics`)).body as string;
    const after = parsePrometheus(text);
    const route = { route: '/v1/indexes/:name/search', method: 'POST', status: '200' };
    expect(sampleValue(after, 'vecforge_http_requests_total', route) - sampleValue(before, 'vecforge_http_requests_total', route)).toBe(2);
    expect(sampleValue(after, 'vecforge_cache_hits_total', { index: 'notes' }) - sampleValue(before, 'vecforge_cache_hits_total', { index: 'notes' })).toBe(1);
    expect(sampleValue(after, 'vecforge_cache_misses_total', { index: 'notes' }) - sampleValue(before, 'vecforge_cache_misses_total', { index: 'notes' })).toBe(1);
    expect(sampleValue(after, 'vecforge_engine_items_total') - sampleValue(before, 'vecforge_engine_items_total')).toBe(3);
    expect(sampleValue(after, 'vecforge_http_request_duration_seconds_count', { route: '/v1/embeddings', method: 'POST' })).toBeGreaterThan(0);
    expect(sampleValue(after, 'vecforge_engine_call_texts_count', { kind: 'embeddings' })).toBeGreaterThan(0);
    expect(sampleValue(after, 'vecforge_index_version', { index: 'notes' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after, 'vecforge_queue_limit')).toBe(4096);
    expect(after.some((s) => s.name === 'vecforge_http_requests_in_flight')).toBe(true);
    expect(text).toContain('# TYPE vecforge_http_request_duration_seconds histogram');
  });

  test('a write makes new cache keys: the next search sees it', async () => {
    const query = { query: 'an orange giraffe playing chess', k: 1 };
    await json(`${f.url}/v1/indexes/notes/search`, 'POST', query);
    await json(`${f.url}/v1/indexes/notes/documents`, 'POST', { documents: [{ id: 'giraffe', text: 'an orange giraffe playing chess' }] });
    const r = await json(`${f.url}/v1/indexes/notes/search`, 'POST', query);
    expect(r.body.hits[0].id).toBe('giraffe');
  });
});
