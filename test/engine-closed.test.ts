import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { Engine } from '../src/index.js';
import { gloveRows, kTestCacheDir, tempDir } from './helpers.js';

/** Settles `p` and returns what it rejected with (undefined if it resolved). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

const kClosed = { name: 'VecforgeError', code: 'ERR_CLOSED' };

// One code, ERR_CLOSED, on every path that meets a closed engine, pool or
// index: the engine's own methods, an index whose engine closed (which
// reaches the closed pool), a call the close cut short, and a closed index.
describe('a closed engine rejects with ERR_CLOSED on every path', () => {
  test('engine methods, the pool under an open index, and the index itself', async () => {
    const engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' });
    const rows = gloveRows(50);
    const index = await engine.createIndex({ dir: join(tempDir('vecforge-closed-'), 'index') });
    await index.addBatch(Array.from({ length: 50 }, (_, i) => ({ id: `v${i}`, vector: rows.subarray(i * 100, (i + 1) * 100) })));
    await engine.close();

    expect(await rejection(engine.embed(['a text']))).toMatchObject(kClosed);
    expect(await rejection(engine.embedStream(['a text'])[Symbol.asyncIterator]().next())).toMatchObject(kClosed);
    expect(await rejection(engine.createIndex({ dir: join(tempDir('vecforge-closed-'), 'other') }))).toMatchObject(kClosed);
    expect(await rejection(engine.openIndex(join(tempDir('vecforge-closed-'), 'missing')))).toMatchObject(kClosed);
    // An index of the closed engine: a text query needs the pool to embed it
    // (this was ERR_ABORTED), a query batch needs it to search.
    expect(await rejection(index.search('a text query'))).toMatchObject(kClosed);
    expect(await rejection(index.searchBatch(rows.slice(0, 300), { k: 5 }))).toMatchObject(kClosed);
    expect(await rejection(index.addBatch([{ id: 'text', text: 'more text' }]))).toMatchObject(kClosed);
    // Read-only diagnostics still answer, and closing again is a no-op.
    expect(engine.metrics().items).toBeGreaterThanOrEqual(0);
    await engine.close();

    await index.close();
    expect(await rejection(index.searchBatch(rows.slice(0, 300), { k: 5 }))).toMatchObject(kClosed);
  });

  // Posted batches: close() aborts every queued batch. (A pulled plan's run
  // tasks are already running on the workers, and Piscina lets running
  // tasks finish, so such a call completes instead.)
  test('a call in flight when the engine closes rejects with ERR_CLOSED', async () => {
    const engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm', batchTokens: 64, sortWindow: 1_000_000 });
    const texts = Array.from({ length: 20_000 }, (_, i) => `a sentence about rivers and mountains number ${i}`);
    const pending = rejection(engine.embed(texts));
    // No worker reply can be handled before close() marks the pool closed:
    // both run before the event loop turns, so the call cannot finish first.
    await engine.close();
    expect(await pending).toMatchObject(kClosed);
  });
});
