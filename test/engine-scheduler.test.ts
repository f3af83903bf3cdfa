import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AbortError, Engine } from '../src/index.js';
import { kTestCacheDir, row } from './helpers.js';

/** Real English sentences of varied length, built from a word list. */
function corpus(n: number): string[] {
  const words = 'river mountain bright quickly engine music garden window silver market ancient travel doctor winter bridge coffee science forest letter orange'.split(' ');
  return Array.from({ length: n }, (_, i) => {
    const len = 1 + ((i * 7919) % 40);
    return `${Array.from({ length: len }, (_, j) => words[(i * 31 + j * 17) % words.length]).join(' ')} item ${i}`;
  });
}

// A call of one sort window posts its batches to the pool; a longer one
// publishes them into a shared plan that every worker pulls from. Each test
// runs both ways (a 512-item window makes these calls multi-window).
describe.each([
  ['posted batches', 1_000_000],
  ['pulled plan', 512],
])('scheduler (%s)', (_mode, sortWindow) => {
  let engine1: Engine;
  let engine2: Engine;

  beforeAll(async () => {
    [engine1, engine2] = await Promise.all([
      Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm', batchTokens: 256, sortWindow }),
      Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm', batchTokens: 256, sortWindow }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([engine1.close(), engine2.close()]);
  });

  test('output order is preserved when input lengths are shuffled', async () => {
    const texts = corpus(2000);
    const perm = texts.map((_, i) => i).sort((a, b) => ((a * 2654435761) % 2000) - ((b * 2654435761) % 2000));
    const shuffled = perm.map((i) => texts[i] ?? '');
    const [a, b] = await Promise.all([engine2.embed(texts), engine2.embed(shuffled)]);
    perm.forEach((orig, j) => {
      expect(row(b.vectors, b.dims, j)).toEqual(row(a.vectors, a.dims, orig));
    });
    // And each row is the text's own vector, as embedding it alone gives.
    const single = await engine2.embed([texts[1234] ?? '']);
    const got = row(a.vectors, a.dims, 1234);
    const want = row(single.vectors, single.dims, 0);
    for (let d = 0; d < a.dims; d++) expect(got[d]).toBeCloseTo(want[d] ?? 0, 5);
  });

  test('vectors are identical from 1 and from 2 workers', async () => {
    const texts = corpus(3000);
    const [one, two] = await Promise.all([engine1.embed(texts), engine2.embed(texts)]);
    expect(two.items).toEqual(one.items);
    expect(Buffer.from(two.vectors.buffer, 0, two.vectors.byteLength).equals(Buffer.from(one.vectors.buffer, 0, one.vectors.byteLength))).toBe(true);
  });

  test('batches are cut by token budget and both workers take part', async () => {
    engine2.resetMetrics();
    const texts = corpus(4000);
    await engine2.embed(texts);
    const m = engine2.metrics();
    expect(m.items).toBe(4000);
    expect(m.failures).toBe(0);
    // batchTokens 256 and ~20 words a text: far more batches than texts/1000.
    expect(m.batches).toBeGreaterThan(100);
    expect(m.batchLatencyMs.p50).toBeGreaterThan(0);
    expect(m.batchLatencyMs.p99).toBeGreaterThanOrEqual(m.batchLatencyMs.p95);
    expect(m.itemsPerSecond).toBeGreaterThan(0);
    expect(m.utilization).toBeGreaterThan(0);
    expect(m.utilization).toBeLessThanOrEqual(1);
    expect(m.queueDepth).toBe(0);
    engine2.resetMetrics();
    expect(engine2.metrics()).toMatchObject({ items: 0, batches: 0, failures: 0, retries: 0 });
  });

  test('identical texts are embedded once and share the vector', async () => {
    const r = await engine2.embed(['the same text', 'other words', 'the same text']);
    expect(r.items.map((i) => i.state)).toEqual(['ok', 'ok', 'ok']);
    expect(row(r.vectors, r.dims, 2)).toEqual(row(r.vectors, r.dims, 0));
  });

  test('embedStream yields windows in input order with bounded read-ahead', async () => {
    const texts = corpus(1000);
    let pulled = 0;
    async function* source(): AsyncGenerator<string> {
      for (const t of texts) {
        pulled++;
        yield t;
      }
    }
    const direct = await engine2.embed(texts);
    const seen: number[] = [];
    let maxAhead = 0;
    for await (const batch of engine2.embedStream(source(), { windowSize: 100, prefetch: 2 })) {
      seen.push(batch.offset);
      maxAhead = Math.max(maxAhead, pulled - (batch.offset + batch.items.length));
      for (let i = 0; i < batch.items.length; i++) {
        expect(row(batch.vectors, batch.dims, i)).toEqual(row(direct.vectors, direct.dims, batch.offset + i));
      }
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i * 100));
    // Never more than `prefetch` windows read ahead of the one consumed.
    expect(maxAhead).toBeLessThanOrEqual(200);
  });

  test('abort cancels queued and running work and leaves the engine usable', async () => {
    const controller = new AbortController();
    // Long enough (batchTokens 256: thousands of batches) that the abort lands mid-call.
    const texts = corpus(60_000);
    // The abort is caused, not timed: the scheduler aborts the call itself
    // when it reads item 30,000. With a pulled plan, the windows before it
    // are published and their batches running by then; with posted batches
    // (one window), it lands before the window's batches are posted.
    const abortAt = 30_000;
    const reads = { abortAt: 0, last: 0 };
    const at = (i: number, onRead: () => void): void => {
      const text = texts[i];
      Object.defineProperty(texts, i, {
        get: () => {
          onRead();
          return text;
        },
      });
    };
    at(abortAt, () => {
      reads.abortAt++;
      controller.abort(new Error('user cancelled'));
    });
    at(texts.length - 1, () => reads.last++);
    const error = await engine2.embed(texts, { signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(reads.abortAt).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).code).toBe('ERR_ABORTED');
    expect(((error as AbortError).cause as Error).message).toBe('user cancelled');
    // A plan stops packing at the next window, so its last item is never
    // read; one window is validated whole before its batches are posted.
    expect(reads.last > 0).toBe(sortWindow >= texts.length);
    // Nothing of the call is left queued on the pool.
    expect(engine2.metrics().queueDepth).toBe(0);
    const after = await engine2.embed(['still works']);
    expect(after.items[0]?.state).toBe('ok');
  });

  test('an already-aborted signal rejects at once', async () => {
    const controller = new AbortController();
    controller.abort('stop');
    await expect(engine2.embed(['x'], { signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED', cause: 'stop' });
  });
});
