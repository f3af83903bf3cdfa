/**
 * Micro-batching: concurrent single-text calls become shared requests and
 * are split back to their callers, each with its own outcome and abort.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { AbortError, Engine } from '../src/engine.js';
import { OpenAIServer, serverVector } from './helpers-openai-server.js';
import { kTestCacheDir } from './helpers.js';

const servers: OpenAIServer[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(coalesceMs?: number): Promise<{ server: OpenAIServer; e: Engine }> {
  const server = await OpenAIServer.start();
  servers.push(server);
  const e = await Engine.create(
    { model: 'openai:m', workers: 1, cacheDir: kTestCacheDir, ...(coalesceMs !== undefined ? { coalesceMs } : {}), provider: { baseUrl: server.baseUrl, dims: 8, maxBatchItems: 256 } },
    { env: {} },
  );
  engines.push(e);
  return { server, e };
}

describe('micro-batching', () => {
  test('1,000 concurrent embedOne calls become a handful of requests, each caller gets its own vector', async () => {
    const { server, e } = await setup();
    const input = Array.from({ length: 1000 }, (_, i) => `single ${i}`);
    const results = await Promise.all(input.map((t) => e.embedOne(t)));
    expect(results).toHaveLength(1000);
    results.forEach((r, i) => {
      expect(r.item.state).toBe('ok');
      const want = serverVector(input[i] as string, 8);
      expect(r.vector).toHaveLength(8);
      for (let d = 0; d < 8; d++) expect(r.vector[d]).toBeCloseTo(want[d] as number, 6);
    });
    // Issued in one tick: one shared call of 1,000 texts, cut into requests of 256.
    expect(server.requests).toHaveLength(4);
    expect([...server.textsServed].sort()).toEqual([...input].sort());
  });

  test('outcomes stay with their caller; an aborted caller leaves the others alone', async () => {
    const { server, e } = await setup();
    const controller = new AbortController();
    const a = e.embedOne('caller a', { signal: controller.signal });
    const b = e.embed(['caller b', '']);
    const c = e.embedOne('caller c');
    controller.abort(new Error('a stops'));
    await expect(a).rejects.toBeInstanceOf(AbortError);
    const rb = await b;
    const rc = await c;
    expect(rb.items.map((o) => o.state)).toEqual(['ok', 'failed']);
    expect(rb.items[1]).toMatchObject({ code: 'EMPTY' });
    expect(rc.item.state).toBe('ok');
    expect(server.requests).toHaveLength(1);
    expect([...server.textsServed].sort()).toEqual(['caller b', 'caller c']);
  });

  test('coalesceMs 0 sends each call on its own', async () => {
    const { server, e } = await setup(0);
    await Promise.all(['x', 'y', 'z'].map((t) => e.embedOne(t)));
    expect(server.requests).toHaveLength(3);
  });

  test('coalesceMs is validated', async () => {
    await expect(Engine.create({ model: 'openai:m', coalesceMs: -1 }, { env: {} })).rejects.toThrow(new RangeError('options.coalesceMs must be an integer in [0, 1000], got -1'));
  });
});
