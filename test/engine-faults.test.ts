import { afterEach, describe, expect, test } from 'vitest';
import { Engine, VecforgeError } from '../src/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gloveRows, kTestCacheDir, row } from './helpers.js';

const texts = Array.from({ length: 600 }, (_, i) => `a short english sentence about the weather number ${i}`);
texts[317] = 'this sentence holds the FAULTMARKER word';

let engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.map((e) => e.close()));
  engines = [];
});

async function create(fault?: string, workers = 2, sortWindow = 8192): Promise<Engine> {
  const e = await Engine.create({ cacheDir: kTestCacheDir, workers, backend: 'wasm', batchTokens: 128, sortWindow }, fault !== undefined ? { testFault: fault } : {});
  engines.push(e);
  return e;
}

// 600 texts in one sort window: batches posted one by one; in 64-item
// windows: a plan the workers pull batches from, where a dying worker takes
// its run down and the batch it held is re-run on the per-batch path.
describe.each([
  ['posted batches', 8192],
  ['pulled plan', 64],
])('worker faults (test-only hook context.testFault), %s', (_mode, sortWindow) => {
  test('a worker that exits mid-batch loses and duplicates nothing', async () => {
    const clean = await (await create()).embed(texts);
    const faulty = await create('exit:2:FAULTMARKER', 2, sortWindow);
    const result = await faulty.embed(texts);
    expect(result.items.every((i) => i.state === 'ok')).toBe(true);
    expect(Buffer.from(result.vectors.buffer, 0, result.vectors.byteLength).equals(Buffer.from(clean.vectors.buffer, 0, clean.vectors.byteLength))).toBe(true);
    const m = faulty.metrics();
    expect(m.retries).toBe(2);
    expect(m.items).toBe(texts.length);
    // The pool replaced the dead worker and keeps working.
    const again = await faulty.embed(['after the crash']);
    expect(again.items[0]?.state).toBe('ok');
    expect(faulty.threadCount).toBe(2);
  });

  test('a batch that keeps failing is split until only the bad item fails', async () => {
    const faulty = await create('throw:1000:FAULTMARKER', 2, sortWindow);
    const result = await faulty.embed(texts);
    const failed = result.items.flatMap((item, i) => (item.state === 'failed' ? [{ i, item }] : []));
    expect(failed).toHaveLength(1);
    expect(failed[0]?.i).toBe(317);
    expect(failed[0]?.item).toMatchObject({ state: 'failed', code: 'WORKER_FAILED' });
    expect(failed[0]?.item.state === 'failed' && failed[0].item.reason).toMatch(/injected fault on "FAULTMARKER"/);
    expect(Array.from(row(result.vectors, result.dims, 317)).every((x) => x === 0)).toBe(true);
    expect(faulty.metrics().failures).toBe(1);
  });

  test('a worker killed on every try of one item fails only that item', async () => {
    const faulty = await create('exit:1000:FAULTMARKER', 2, sortWindow);
    const result = await faulty.embed(texts);
    expect(result.items.filter((i) => i.state === 'failed')).toHaveLength(1);
    expect(result.items[317]).toMatchObject({ state: 'failed', code: 'WORKER_FAILED' });
  });
});

describe('search faults (test-only hook context.testFault)', () => {
  test('searchBatch: a worker that dies holding a claimed run of queries loses none of them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vecforge-search-fault-'));
    try {
      const rows = gloveRows(3_000, 2_000);
      const items = Array.from({ length: 2_500 }, (_, i) => ({ id: `w${i}`, vector: rows.subarray(i * 100, (i + 1) * 100) }));
      const queries = rows.slice(2_500 * 100);
      const clean = await create();
      const built = await clean.createIndex({ dir: join(dir, 'index'), m: 16, efConstruction: 100 });
      await built.addBatch(items);
      const expected = await built.searchBatch(queries, { k: 10, ef: 64 });
      await built.save();
      await built.close();
      for (const fault of ['exit:1:@search', 'throw:1:@search']) {
        const faulty = await create(fault);
        const index = await faulty.openIndex(join(dir, 'index'));
        const got = await index.searchBatch(queries, { k: 10, ef: 64 });
        expect(got.map((hits) => hits.map((h) => h.id))).toEqual(expected.map((hits) => hits.map((h) => h.id)));
        expect(got.every((hits) => hits.length === 10)).toBe(true);
        // The fault fired: its task was retried.
        expect(faulty.metrics().retries).toBeGreaterThanOrEqual(1);
        await index.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('searchBatch: a worker error that outlasts the retries reaches the caller as a VecforgeError with its code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vecforge-search-fault-'));
    try {
      const rows = gloveRows(300);
      const faulty = await create('throw:1000:@search');
      const index = await faulty.createIndex({ dir: join(dir, 'index') });
      await index.addBatch(Array.from({ length: 200 }, (_, i) => ({ id: `w${i}`, vector: rows.subarray(i * 100, (i + 1) * 100) })));
      const error = await index.searchBatch(rows.slice(200 * 100), { k: 5 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The worker threw a plain Error: it arrives rebuilt, with ERR_WORKER and the worker's message.
      expect(error).toBeInstanceOf(VecforgeError);
      expect(error).toMatchObject({ code: 'ERR_WORKER', message: 'injected fault on "@search"' });
      expect(faulty.metrics().retries).toBeGreaterThanOrEqual(1);
      await index.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
