/**
 * Backpressure and security of `vecforge serve`, against real servers on
 * loopback: a flood on a small queue gets 429s with Retry-After and never
 * a 5xx; vecforge's own OpenAI provider, pointed at the server, rides out
 * those 429s and gets exactly the local engine's vectors; the API key;
 * CORS off unless asked.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { kTestCacheDir } from './helpers.js';
import { json, parsePrometheus, sampleRows, sampleValue, startFixture, type ServeFixture } from './serve-helpers.js';

const fixtures: ServeFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

async function start(options: Parameters<typeof startFixture>[0]): Promise<ServeFixture> {
  const f = await startFixture(options);
  fixtures.push(f);
  return f;
}

describe('backpressure', () => {
  test('a flood on a small queue: 200 or 429 with Retry-After, never a 5xx; the queue drains', async () => {
    const f = await start({ maxQueue: 16 });
    const texts = sampleRows(64).map((r) => r.text);
    const requests = Array.from({ length: 120 }, (_, i) =>
      i % 3 === 0
        ? json(`${f.url}/v1/indexes/notes/search`, 'POST', { queries: texts.slice(i % 56, (i % 56) + 4), k: 3 })
        : json(`${f.url}/v1/embeddings`, 'POST', { input: texts.slice(i % 56, (i % 56) + 8) }),
    );
    const answers = await Promise.all(requests);
    const statuses = answers.map((a) => a.status);
    expect(statuses).toHaveLength(120);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    for (const a of refused) {
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(a.body.error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
    }
    const metrics = parsePrometheus((await json(`${f.url}/metrics`)).body as string);
    expect(sampleValue(metrics, 'vecforge_rejected_total', { reason: 'queue_full' })).toBe(refused.length);
    expect(sampleValue(metrics, 'vecforge_queue_depth')).toBe(0);
  });

  test('a request larger than the whole queue is 413, not 429', async () => {
    const f = await start({ maxQueue: 16 });
    const r = await json(`${f.url}/v1/embeddings`, 'POST', { input: Array.from({ length: 17 }, () => 'some words') });
    expect(r.status).toBe(413);
    expect(r.body.error.message).toMatch(/input holds 17 items, more than the server admits at once \(--max-queue 16\)/);
  });

  test("vecforge's OpenAI provider against the server, through real 429s, gets the local engine's vectors", async () => {
    const f = await start({ maxQueue: 32 });
    const texts = sampleRows(400).map((r) => r.text);
    const local = await f.engine.embed(texts);
    const remote = await Engine.create({
      model: 'openai:glove-100d',
      workers: 1,
      cacheDir: kTestCacheDir,
      provider: { baseUrl: `${f.url}/v1`, dims: 100, maxBatchItems: 16, concurrency: 8, retryBaseMs: 1, maxRetries: 100, breakerFailures: 1000 },
    });
    try {
      const got = await remote.embed(texts);
      expect(got.items.filter((i) => i.state === 'ok')).toHaveLength(400);
      expect(got.vectors).toEqual(local.vectors);
      const rateLimited = remote.metrics().provider?.rateLimited;
      const metrics = parsePrometheus((await json(`${f.url}/metrics`)).body as string);
      const refused = sampleValue(metrics, 'vecforge_rejected_total', { reason: 'queue_full' });
      expect(refused).toBeGreaterThan(0);
      // Every 429 the server sent is one the provider saw and retried.
      expect(rateLimited).toBe(refused);
    } finally {
      await remote.close();
    }
  });
});

describe('security', () => {
  const key = 'sk-test-0123456789abcdef';

  test('with an API key, every route but /healthz and /readyz needs it; the key is never echoed', async () => {
    const f = await start({ apiKey: key });
    const auth = { authorization: `Bearer ${key}` };
    const none = await json(`${f.url}/v1/embeddings`, 'POST', { input: 'a dog' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await json(`${f.url}/v1/embeddings`, 'POST', { input: 'a dog' }, { authorization: `Bearer ${key}x` })).status).toBe(401);
    expect((await json(`${f.url}/v1/embeddings`, 'POST', { input: 'a dog' }, { authorization: key })).status).toBe(401);
    expect((await json(`${f.url}/v1/indexes`)).status).toBe(401);
    expect((await json(`${f.url}/metrics`)).status).toBe(401);
    expect((await json(`${f.url}/v1/indexes/notes/search`, 'POST', { query: 'dog' })).status).toBe(401);
    expect((await json(`${f.url}/healthz`)).status).toBe(200);
    expect((await json(`${f.url}/readyz`)).status).toBe(200);
    const ok = await json(`${f.url}/v1/embeddings`, 'POST', { input: 'a dog' }, auth);
    expect(ok.status).toBe(200);
    const metrics = await json(`${f.url}/metrics`, 'GET', undefined, auth);
    expect(metrics.status).toBe(200);
    expect(sampleValue(parsePrometheus(metrics.body as string), 'vecforge_rejected_total', { reason: 'unauthorized' })).toBe(6);
    for (const text of [JSON.stringify(none.body), metrics.body as string]) expect(text).not.toContain(key);
  });

  test('an API key too short is refused without echoing it', async () => {
    await expect(startFixture({ apiKey: 'short' })).rejects.toThrow(/options.apiKey must be a string of at least 8 characters without spaces$/);
  });

  test('CORS is off by default and allows exactly the one origin given', async () => {
    const off = await start({});
    const plain = await fetch(`${off.url}/healthz`, { headers: { origin: 'https://app.example.com' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${off.url}/v1/embeddings`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } })).status).toBe(404);
    const on = await start({ cors: 'https://app.example.com', apiKey: key });
    const pre = await fetch(`${on.url}/v1/embeddings`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await fetch(`${on.url}/healthz`, { headers: { origin: 'https://evil.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('the default host is loopback', async () => {
    const f = await start({ port: 0 });
    expect(f.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
