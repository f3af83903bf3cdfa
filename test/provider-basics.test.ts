/**
 * Remote provider basics against a real loopback OpenAI-compatible server:
 * vectors in input order, per-item outcomes, the concurrency bound, the
 * dims probe, protocol errors, option validation and the API key kept out
 * of every output.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { Engine, type EngineCreateOptions } from '../src/engine.js';
import { VecforgeError } from '../src/errors.js';
import { OpenAIServer, serverVector } from './helpers-openai-server.js';
import { kTestCacheDir } from './helpers.js';

const servers: OpenAIServer[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const s of servers.splice(0)) await s.close();
});

async function start(options: ConstructorParameters<typeof Object>[0] = {}): Promise<OpenAIServer> {
  const server = await OpenAIServer.start(options as never);
  servers.push(server);
  return server;
}

async function engine(server: OpenAIServer, provider: EngineCreateOptions['provider'] = {}, env: NodeJS.ProcessEnv = {}): Promise<Engine> {
  const e = await Engine.create({ model: 'openai:test-embed', workers: 1, cacheDir: kTestCacheDir, provider: { baseUrl: server.baseUrl, dims: 8, ...provider } }, { env });
  engines.push(e);
  return e;
}

function expectServerRows(vectors: Float32Array, dims: number, texts: readonly string[], okAt: (i: number) => boolean): void {
  expect(vectors.length).toBe(texts.length * dims);
  texts.forEach((text, i) => {
    const want = okAt(i) ? serverVector(text, dims) : new Float32Array(dims);
    const got = vectors.subarray(i * dims, (i + 1) * dims);
    for (let d = 0; d < dims; d++) expect(got[d]).toBeCloseTo(want[d] as number, 6);
  });
}

const words = (n: number, tag = 'w'): string[] => Array.from({ length: n }, (_, i) => `${tag} ${i} ${'x'.repeat(i % 17)}`);

describe('provider: results', () => {
  test.each([
    ['base64', false],
    ['float', true],
  ])('vectors equal the server vectors in input order (%s encoding), invalid items fail alone', async (_name, forceFloat) => {
    const server = await start({ forceFloat });
    const e = await engine(server, { maxBatchItems: 4 });
    const texts: unknown[] = [...words(10), '', 42, ...words(5, 'v')];
    const { vectors, dims, items } = await e.embed(texts);
    expect(dims).toBe(8);
    expect(items).toHaveLength(texts.length);
    expect(items[10]).toMatchObject({ state: 'failed', code: 'EMPTY' });
    expect(items[11]).toMatchObject({ state: 'failed', code: 'NOT_A_STRING' });
    expect(items.filter((o) => o.state === 'ok')).toHaveLength(15);
    expectServerRows(vectors, dims, texts.map((t) => (typeof t === 'string' ? t : '')), (i) => i !== 10 && i !== 11);
    // Every request asked for base64 and the given dims, and carried at most 4 texts.
    expect(server.requests.length).toBe(4);
    for (const r of server.requests) expect(r.body).toMatchObject({ model: 'test-embed', encoding_format: 'base64', dimensions: 8 });
    expect(Math.max(...server.requests.map((r) => r.texts.length))).toBeLessThanOrEqual(4);
    expect([...server.textsServed].sort()).toEqual(texts.filter((t): t is string => typeof t === 'string' && t !== '').sort());
  });

  test('dims come from one probe request when not given; the model id names host, model and dims', async () => {
    const server = await start({ dims: 12 });
    const e = await Engine.create({ model: 'openai:probe-model', workers: 1, cacheDir: kTestCacheDir, provider: { baseUrl: server.baseUrl } }, { env: {} });
    engines.push(e);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.body.dimensions).toBeUndefined();
    expect(e.info().dims).toBe(12);
    expect(e.info().modelId).toBe(`openai:${new URL(server.baseUrl).host}/probe-model@12`);
    const { vectors } = await e.embed(['alpha beta']);
    expectServerRows(vectors, 12, ['alpha beta'], () => true);
  });

  test('embedStream works through the provider, windows in input order', async () => {
    const server = await start();
    const e = await engine(server, { maxBatchItems: 3 });
    const texts = words(20);
    const seen: number[] = [];
    for await (const w of e.embedStream(texts, { windowSize: 7 })) {
      seen.push(w.offset);
      expectServerRows(w.vectors, 8, texts.slice(w.offset, w.offset + w.items.length), () => true);
    }
    expect(seen).toEqual([0, 7, 14]);
  });
});

describe('provider: concurrency', () => {
  test('requests in flight never exceed the bound, across concurrent calls', async () => {
    const server = await start({ latencyMs: 15 });
    const e = await engine(server, { concurrency: 3, maxBatchItems: 2 });
    const calls = Array.from({ length: 4 }, (_, k) => words(20, `c${k}`));
    const results = await Promise.all(calls.map((texts) => e.embed(texts)));
    expect(results).toHaveLength(4);
    for (const [k, r] of results.entries()) expectServerRows(r.vectors, 8, calls[k] as string[], () => true);
    expect(server.requests).toHaveLength(40);
    expect(server.maxInFlight).toBeLessThanOrEqual(3);
    expect(server.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(e.metrics().provider?.requests).toBe(40);
    expect(e.metrics().provider?.inFlight).toBe(0);
  });
});

describe('provider: protocol errors', () => {
  test.each([
    ['bad-index', /data\[\d\]\.index is \d+, not an input index in \[0, 2\]/],
    ['dup-index', /input 0 came back more than once/],
    ['bad-dims', /data\[\d\]\.embedding has 9 dims, expected 8/],
  ] as const)('%s is a protocol error naming the problem', async (kind, message) => {
    const server = await start();
    const e = await engine(server);
    server.faults.push({ kind });
    const error = await e.embed(['a', 'b', 'c']).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(VecforgeError);
    expect((error as VecforgeError).code).toBe('ERR_PROVIDER');
    expect((error as Error).message).toMatch(/protocol error/);
    expect((error as Error).message).toMatch(message);
    // Not retried: a protocol error would repeat.
    expect(server.requests).toHaveLength(1);
  });
});

describe('provider: options', () => {
  test.each([
    [{ concurrency: 0 }, RangeError, 'options.provider.concurrency must be an integer in [1, 64], got 0'],
    [{ maxBatchItems: 4096 }, RangeError, 'options.provider.maxBatchItems must be an integer in [1, 2048], got 4096'],
    [{ requestTimeoutMs: '5' }, TypeError, 'options.provider.requestTimeoutMs must be an integer in [1, 3600000], got "5"'],
    [{ baseUrl: 'ftp://x' }, RangeError, 'options.provider.baseUrl must be an http(s) URL, got "ftp://x"'],
    [{ colour: 1 }, TypeError, 'options.provider.colour is not a known option'],
    [{ apiKey: 7 }, TypeError, 'options.provider.apiKey must be a non-empty string'],
  ] as const)('%j is refused', async (provider, type, message) => {
    const p = Engine.create({ model: 'openai:m', workers: 1, cacheDir: kTestCacheDir, provider: provider as never }, { env: {} });
    await expect(p).rejects.toBeInstanceOf(type);
    await expect(p).rejects.toThrow(message);
  });

  test('provider options with a local model are refused', async () => {
    await expect(Engine.create({ workers: 1, cacheDir: kTestCacheDir, provider: { concurrency: 2 } }, { env: {} })).rejects.toThrow(
      new RangeError('options.provider is only for a provider model ("openai:NAME"), but options.model is "glove-100d"'),
    );
  });
});

describe('provider: the API key', () => {
  const key = 'sk-test-SECRET-0123456789abcdef';

  test.each([
    ['options', { apiKey: key }, {}],
    ['VECFORGE_API_KEY', {}, { VECFORGE_API_KEY: key, OPENAI_API_KEY: 'sk-other' }],
    ['OPENAI_API_KEY', {}, { OPENAI_API_KEY: key }],
  ] as const)('from %s, sent as Bearer, never in info, metrics, results or errors', async (_from, provider, env) => {
    const server = await start({ apiKey: key });
    const e = await engine(server, { ...provider, maxBatchItems: 2 }, { ...env });
    const result = await e.embed(['one', 'two', 'BAD! three']);
    expect(server.requests.length).toBeGreaterThan(0);
    for (const r of server.requests) expect(r.authorization).toBe(`Bearer ${key}`);
    const outputs = [JSON.stringify(e.info()), JSON.stringify(e.metrics()), JSON.stringify(result.items)];
    // A server that echoes the key in its refusal must not leak it either.
    const refused = await Engine.create({ model: 'openai:m', workers: 1, cacheDir: kTestCacheDir, provider: { baseUrl: server.baseUrl, dims: 8, apiKey: `${key}-wrong` } }, { env: {} }).then(
      async (other) => {
        engines.push(other);
        return other.embed(['x']).catch((err: unknown) => err);
      },
    );
    expect(refused).toBeInstanceOf(VecforgeError);
    expect((refused as Error).message).toMatch(/refused the API key \(HTTP 401\)/);
    outputs.push((refused as Error).message, String((refused as Error).stack), JSON.stringify(refused));
    expect(outputs.length).toBe(6);
    for (const text of outputs) expect(text).not.toContain(key);
  });
});
