/**
 * Remote provider faults against a real loopback server: retries on 429
 * (Retry-After honoured, from the server's own timestamps), 5xx, timeouts
 * and dropped connections with nothing lost or duplicated; a bad text
 * failing alone; 413 halving; a refused key; spent retries; abort.
 */
import { describe, expect, test, vi } from 'vitest';
import { AbortError } from '../src/engine.js';
import { VecforgeError } from '../src/errors.js';
import { parseResetDurationMs, parseRetryAfterMs } from '../src/models/providers/backoff.js';
import { type OpenAIServer, useProviderEngines, serverVector, type ServerFault } from './helpers-openai-server.js';

const setup = useProviderEngines();

const texts = (n: number, tag = 't'): string[] => Array.from({ length: n }, (_, i) => `${tag} ${i}`);

function expectRows(vectors: Float32Array, input: readonly string[], bad: ReadonlySet<number> = new Set()): void {
  expect(vectors.length).toBe(input.length * 8);
  input.forEach((text, i) => {
    const want = bad.has(i) ? new Float32Array(8) : serverVector(text, 8);
    for (let d = 0; d < 8; d++) expect(vectors[i * 8 + d]).toBeCloseTo(want[d] as number, 6);
  });
}

/** Each text answered with 200 exactly once: nothing lost, nothing duplicated. */
function expectServedOnce(server: OpenAIServer, input: readonly string[]): void {
  expect([...server.textsServed].sort()).toEqual([...input].sort());
}

describe('provider: retries', () => {
  test('a 429 with Retry-After in seconds is honoured (server timestamps)', async () => {
    const { server, e } = await setup();
    server.faults.push({ kind: 'status', status: 429, retryAfter: '1' });
    const { vectors } = await e.embed(['a b']);
    expectRows(vectors, ['a b']);
    expect(server.requests.map((r) => r.status)).toEqual([429, 200]);
    const [first, second] = server.requests;
    expect((second?.arrivedMs ?? 0) - (first?.endedMs ?? 0)).toBeGreaterThanOrEqual(990);
    const m = e.metrics().provider;
    expect(m?.rateLimited).toBe(1);
    expect(m?.retries['rate-limited']).toBe(1);
  });

  test('Retry-After as an HTTP date, and x-ratelimit-reset durations, are read', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfterMs('Wed, 21 Oct 2015 07:28:03 GMT', now)).toBe(3000);
    expect(parseRetryAfterMs('2.5', now)).toBe(2500);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseResetDurationMs('6m0s')).toBe(360_000);
    expect(parseResetDurationMs('20ms')).toBe(20);
    expect(parseResetDurationMs('1s')).toBe(1000);
  });

  const faults: ReadonlyArray<readonly [string, ServerFault, string]> = [
    ['500', { kind: 'status', status: 500 }, 'server-error'],
    ['502', { kind: 'status', status: 502 }, 'server-error'],
    ['503', { kind: 'status', status: 503 }, 'server-error'],
    ['504', { kind: 'status', status: 504 }, 'server-error'],
    ['429', { kind: 'status', status: 429 }, 'rate-limited'],
    ['a dropped connection', { kind: 'drop' }, 'connection'],
    ['a timeout', { kind: 'slow', ms: 1500 }, 'timeout'],
  ];
  test.each(faults)('%s is retried; no item lost or duplicated', async (_name, fault, cause) => {
    const { server, e } = await setup({}, { maxBatchItems: 3, concurrency: 2, requestTimeoutMs: 300 });
    server.faults.push(fault, fault, fault);
    const input = texts(12);
    const { vectors, items } = await e.embed(input);
    expect(items.filter((o) => o.state === 'ok')).toHaveLength(12);
    expectRows(vectors, input);
    expectServedOnce(server, input);
    expect(e.metrics().provider?.retries[cause as 'timeout']).toBe(3);
  });

  test('a request that keeps failing fails the call after maxRetries, naming the last answer', async () => {
    const { server, e } = await setup({}, { maxRetries: 2 });
    server.failAll = { kind: 'status', status: 503, message: 'overloaded' };
    const error = await e.embed(['x']).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(VecforgeError);
    expect((error as VecforgeError).code).toBe('ERR_PROVIDER');
    expect((error as Error).message).toBe('the provider request failed after 3 attempts: HTTP 503: overloaded');
    expect(server.requests).toHaveLength(3);
  });
});

describe('provider: bad items', () => {
  test('a 400 for one text splits the batch until it is alone; only it fails', async () => {
    const { server, e } = await setup({}, { maxBatchItems: 16 });
    const input = texts(16);
    input[5] = 'this one is BAD! text';
    const { vectors, items } = await e.embed(input);
    expect(items).toHaveLength(16);
    expect(items[5]).toMatchObject({ state: 'failed', code: 'PROVIDER_REJECTED' });
    expect(items[5]?.state === 'failed' ? items[5].reason : '').toMatch(/maximum context length/);
    expect(items.filter((o) => o.state === 'ok')).toHaveLength(15);
    expectRows(vectors, input, new Set([5]));
    expectServedOnce(server, input.filter((_, i) => i !== 5));
    // One batch of 16, then two halves per level down to the single text: 1 + 2 × 4.
    expect(server.requests).toHaveLength(9);
  });

  test('a 413 halves the batch and lowers the batch size for the rest of the call', async () => {
    const { server, e } = await setup({ maxBatch: 3 }, { maxBatchItems: 16, concurrency: 1 });
    const input = texts(40);
    const { vectors, items } = await e.embed(input);
    expect(items.filter((o) => o.state === 'ok')).toHaveLength(40);
    expectRows(vectors, input);
    expectServedOnce(server, input);
    const ok = server.requests.filter((r) => r.status === 200);
    expect(Math.max(...ok.map((r) => r.texts.length))).toBeLessThanOrEqual(3);
    // Once lowered, queued batches are cut small before they are sent: 6 of
    // the 26 requests are 413s (with one request at a time the order is fixed),
    // where halving each of the 3 batches on its own would take 9.
    expect(server.requests.filter((r) => r.status === 413)).toHaveLength(6);
    expect(server.requests).toHaveLength(26);
  });

  test('401 fails at once, saying the key was refused', async () => {
    const { server, e } = await setup({ apiKey: 'right' }, { apiKey: 'wrong-key-value' });
    const error = await e.embed(['x', 'y']).catch((err: unknown) => err);
    expect((error as VecforgeError).code).toBe('ERR_PROVIDER');
    expect((error as Error).message).toBe(`the provider at ${new URL(server.baseUrl).host} refused the API key (HTTP 401)`);
    expect(server.requests).toHaveLength(1);
  });
});

describe('provider: abort', () => {
  test('an abort cancels queued requests and aborts the one in flight; the engine stays usable', async () => {
    const { server, e } = await setup({}, { concurrency: 1, maxBatchItems: 1 });
    server.faults.push({ kind: 'hang' });
    const controller = new AbortController();
    const call = e.embed(texts(5), { signal: controller.signal });
    await server.arrived(1);
    controller.abort(new Error('user stop'));
    const error = await call.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AbortError);
    expect(((error as AbortError).cause as Error).message).toBe('user stop');
    await vi.waitFor(() => expect(server.aborted).toBe(1));
    expect(server.requests).toHaveLength(1);
    const { vectors } = await e.embed(['after']);
    expectRows(vectors, ['after']);
    expect(e.metrics().provider?.inFlight).toBe(0);
  });
});
