/**
 * Remote provider: the circuit breaker opening and closing, client-side
 * rate limits, and the embedding cache in front of every request (a second
 * build sends none).
 */
import { describe, expect, test, vi } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import { buildIndex } from '../src/jobs/api.js';
import { TokenBucket } from '../src/models/providers/token-bucket.js';
import { useProviderEngines } from './helpers-openai-server.js';
import { tempDir } from './helpers.js';

const setup = useProviderEngines();

describe('provider: circuit breaker', () => {
  test('opens after breakerFailures failed requests, fails fast while open, closes after one good probe', async () => {
    const { server, e } = await setup({}, { breakerFailures: 3, breakerCooldownMs: 200, maxRetries: 10, concurrency: 1 });
    server.failAll = { kind: 'status', status: 500 };
    const first = await e.embed(['a']).catch((err: unknown) => err);
    expect(first).toBeInstanceOf(VecforgeError);
    expect((first as VecforgeError).code).toBe('ERR_PROVIDER_UNAVAILABLE');
    expect((first as Error).message).toMatch(/circuit breaker is open/);
    expect(server.requests).toHaveLength(3);
    expect(e.metrics().provider?.breaker).toEqual({ state: 'open', opened: 1 });
    // While open: no request at all.
    await expect(e.embed(['b'])).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect(server.requests).toHaveLength(3);
    server.failAll = null;
    // The cooldown is the breaker's own clock: wait until it lets a probe through.
    await vi.waitFor(() => expect(e.metrics().provider?.breaker.state).toBe('half-open'), { timeout: 5000, interval: 20 });
    const { items } = await e.embed(['c']);
    expect(items[0]?.state).toBe('ok');
    expect(server.requests).toHaveLength(4);
    expect(e.metrics().provider?.breaker).toEqual({ state: 'closed', opened: 1 });
  });

  test('a failed probe opens it again', async () => {
    const { server, e } = await setup({}, { breakerFailures: 2, breakerCooldownMs: 100, maxRetries: 0 });
    server.failAll = { kind: 'status', status: 503 };
    await expect(e.embed(['a'])).rejects.toMatchObject({ code: 'ERR_PROVIDER' });
    await expect(e.embed(['a'])).rejects.toMatchObject({ code: 'ERR_PROVIDER' });
    expect(e.metrics().provider?.breaker.state).toBe('open');
    await vi.waitFor(() => expect(e.metrics().provider?.breaker.state).toBe('half-open'), { timeout: 5000, interval: 20 });
    await expect(e.embed(['a'])).rejects.toMatchObject({ code: 'ERR_PROVIDER' });
    expect(server.requests).toHaveLength(3);
    expect(e.metrics().provider?.breaker).toEqual({ state: 'open', opened: 2 });
  });
});

describe('provider: rate limits', () => {
  test('a token bucket lets a full minute through, then waits for the refill', async () => {
    const bucket = new TokenBucket(6000);
    await bucket.take(6000);
    const before = performance.now();
    await bucket.take(50);
    // 50 tokens at 100 per second cannot come back sooner than 500 ms.
    expect(performance.now() - before).toBeGreaterThanOrEqual(450);
  });

  test('requestsPerMinute holds requests back on the client', async () => {
    const { server, e } = await setup({}, { requestsPerMinute: 600, maxBatchItems: 1, concurrency: 8 });
    // The first 600 requests are the bucket's burst; 2 more need 200 ms of refill.
    const input = Array.from({ length: 602 }, (_, i) => `r ${i}`);
    const { items } = await e.embed(input);
    expect(items.filter((o) => o.state === 'ok')).toHaveLength(602);
    const arrivals = server.requests.map((r) => r.arrivedMs).sort((a, b) => a - b);
    expect(arrivals).toHaveLength(602);
    expect((arrivals[601] ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(150);
  });
});

describe('provider: embedding cache', () => {
  test('a second build of the same texts is served from the cache with zero requests', async () => {
    const { server, e } = await setup({}, { maxBatchItems: 8 });
    const cache = `${tempDir()}/embeddings.lmdb`;
    const records = Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, text: `document number ${i}` }));
    const first = await buildIndex({ source: records, out: `${tempDir()}/a`, engine: e, embeddingCache: cache });
    expect(first.counts.embedded).toBe(30);
    const sent = server.requests.length;
    expect(sent).toBeGreaterThan(0);
    const dirB = `${tempDir()}/b`;
    const second = await buildIndex({ source: records, out: dirB, engine: e, embeddingCache: cache });
    expect(second.counts.cacheHits).toBe(30);
    expect(server.requests).toHaveLength(sent);
    // The provider's own counters say how many texts the cache kept from it, in the job summary too.
    expect(e.metrics().provider?.cacheHits).toBe(30);
    expect(second.provider?.cacheHits).toBe(30);
    expect(second.provider?.requests).toBe(sent);
    // The index searches through the provider: the query's vector is the document's.
    const index = await e.openIndex(dirB);
    const hits = await index.search('document number 7', { k: 1 });
    expect(hits.map((h) => h.id)).toEqual(['d7']);
    expect(server.requests).toHaveLength(sent + 1);
    await index.close();
  });
});
