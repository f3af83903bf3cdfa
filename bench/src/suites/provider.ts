/**
 * provider suite: a remote OpenAI-compatible provider against the local
 * loopback server (bench/src/openai-server.ts, the one the tests use) with
 * a fixed latency per request, on real WordNet definitions:
 *
 * - throughput of one `engine.embed` call at concurrency 1 … 32;
 * - against the naive pattern of the systems vecforge replaces, one
 *   awaited HTTP request per text (timed on a subset: at 50 ms a request,
 *   10,000 texts would take over 8 minutes);
 * - with a seeded 10% of requests answered 429: every item comes back, and
 *   what the retries cost in time;
 * - 1,000 concurrent single-text `embedOne` calls (micro-batching): HTTP
 *   requests sent and throughput, next to one batched call of the texts;
 * - the same 1,000 calls and a lone call on the local glove-100d model
 *   with coalescing off (0 ms) and on (2 ms), the measurement behind the
 *   local default of `coalesceMs`.
 *
 * The server runs on a worker thread of this process (openai-server-worker),
 * not on the event loop of the client it serves. Not part of `all`: on demand, as
 * `npm run bench -- provider` (a few minutes; `--quick` under a minute).
 */
import { join } from 'node:path';
import { Engine, type EngineCreateOptions } from 'vecforge';
import { prepareDefinitions, readDefinitionTexts } from '../data/definitions.js';
import { timeTasks } from '../measure.js';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { serverVector, type OpenAIServerOptions } from '../openai-server.js';
import { benchWorkerFile } from '../paths.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

/** Concurrency values of the sweep. */
export const kConcurrencySweep = Object.freeze([1, 2, 4, 8, 16, 32]);

/** The plan of a run. */
interface ProviderPlan {
  readonly texts: number;
  readonly naiveTexts: number;
  readonly latencyMs: number;
  readonly dims: number;
  /** Texts per request in the concurrency sweep (below the default 256, so that a call is enough requests for 32 to be busy). */
  readonly sweepBatchItems: number;
  readonly singleCalls: number;
  readonly iterations: number;
}

const kFullPlan: ProviderPlan = Object.freeze({ texts: 10_000, naiveTexts: 200, latencyMs: 50, dims: 64, sweepBatchItems: 64, singleCalls: 1000, iterations: 3 });
const kQuickPlan: ProviderPlan = Object.freeze({ texts: 1000, naiveTexts: 20, latencyMs: 50, dims: 64, sweepBatchItems: 16, singleCalls: 200, iterations: 1 });

/** The loopback server on its worker thread. */
interface ServerHandle {
  readonly baseUrl: string;
  /** Requests the server has received so far. */
  requests(): Promise<number>;
  close(): Promise<void>;
}

async function startServer(options: OpenAIServerOptions): Promise<ServerHandle> {
  const worker = new Worker(benchWorkerFile('openai-server-worker'), { workerData: options });
  const [{ baseUrl }] = (await once(worker, 'message')) as [{ baseUrl: string }];
  return {
    baseUrl,
    async requests() {
      worker.postMessage('stats');
      const [stats] = (await once(worker, 'message')) as [{ requests: number }];
      return stats.requests;
    },
    async close() {
      worker.postMessage('close');
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}

function providerEngine(server: ServerHandle, plan: ProviderPlan, provider: EngineCreateOptions['provider'] = {}, coalesceMs?: number): Promise<Engine> {
  return Engine.create({ model: 'openai:bench', workers: 1, ...(coalesceMs !== undefined ? { coalesceMs } : {}), provider: { baseUrl: server.baseUrl, dims: plan.dims, ...provider } });
}

/**
 * The naive pattern: one awaited request per text, no batching, no concurrency.
 * @param baseUrl - the server.
 * @param texts - the texts.
 * @returns how many vectors came back.
 */
async function naiveEmbed(baseUrl: string, texts: readonly string[], dims: number): Promise<number> {
  let got = 0;
  for (const text of texts) {
    const response = await fetch(`${baseUrl}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'bench', input: [text], dimensions: dims }) });
    const body = (await response.json()) as { data: Array<{ embedding: number[] }> };
    got += body.data.length;
  }
  return got;
}

/**
 * Checks a call's vectors against the server's: every item ok, each row the server's vector of its text.
 * @returns the number of items lost or wrong.
 */
function wrongItems(texts: readonly string[], result: { vectors: Float32Array; dims: number; items: ReadonlyArray<{ state: string }> }): number {
  let wrong = 0;
  texts.forEach((t, i) => {
    if (result.items[i]?.state !== 'ok') {
      wrong++;
      return;
    }
    const v = serverVector(t, result.dims);
    for (let d = 0; d < result.dims; d++) {
      if (Math.abs((result.vectors[i * result.dims + d] ?? Number.NaN) - (v[d] ?? 0)) > 1e-6) {
        wrong++;
        return;
      }
    }
  });
  return wrong;
}

/**
 * Runs the provider suite.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode, data dir).
 */
export async function runProviderSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const plan = ctx.quick ? kQuickPlan : kFullPlan;
  const corpus = await prepareDefinitions({ cacheDir: join(ctx.dataDir, 'wordnet'), count: plan.texts });
  const texts = readDefinitionTexts(corpus.path, plan.texts);
  const dataset = `${texts.length} WordNet definitions (Debian wordnet-base)`;
  const server = await startServer({ latencyMs: plan.latencyMs, dims: plan.dims, record: false });
  try {
    await concurrencySweep(report, plan, server, texts, dataset);
    await rateLimited(report, plan, texts, dataset);
    await singleCalls(report, plan, server, texts, dataset);
  } finally {
    await server.close();
  }
  await localCoalescing(report, plan, texts, dataset);
}

async function concurrencySweep(report: Report, plan: ProviderPlan, server: ServerHandle, texts: readonly string[], dataset: string): Promise<void> {
  const engines: Array<readonly [number, Engine]> = [];
  const conditions = { dataset, latencyMs: plan.latencyMs, dims: plan.dims, maxBatchItems: plan.sweepBatchItems, iterations: plan.iterations };
  try {
    for (const c of kConcurrencySweep) engines.push([c, await providerEngine(server, plan, { concurrency: c, maxBatchItems: plan.sweepBatchItems })]);
    const label = (c: number): string => `engine.embed, concurrency ${c}`;
    const naiveTexts = texts.slice(0, plan.naiveTexts);
    const timings = await timeTasks(
      [...engines.map(([c, e]) => [label(c), () => e.embed(texts)] as const), [`naive: one awaited request per text (${naiveTexts.length} texts)`, () => naiveEmbed(server.baseUrl, naiveTexts, plan.dims)] as const],
      plan.iterations,
    );
    const naive = timings.at(-1);
    const naivePerSecond = naiveTexts.length / ((naive?.meanMs ?? Number.NaN) / 1000);
    const perSecond = (i: number): number => texts.length / ((timings[i]?.meanMs ?? Number.NaN) / 1000);
    const base = perSecond(0);
    const rows: Array<Array<string | number>> = [];
    for (const [i, [c, e]] of engines.entries()) {
      // One more, untimed call counts the requests a call sends.
      const before = e.metrics().provider?.requests ?? Number.NaN;
      await e.embed(texts);
      const perCall = (e.metrics().provider?.requests ?? Number.NaN) - before;
      report.figure({ suite: 'provider', name: `items/s: ${label(c)}`, value: perSecond(i), unit: 'items/s', conditions: { ...conditions, concurrency: c } });
      rows.push([c, perCall, perSecond(i), perSecond(i) / base, perSecond(i) / naivePerSecond]);
    }
    rows.push(['naive (1 text a request, awaited)', 1, naivePerSecond, naivePerSecond / base, 1]);
    report.table({
      suite: 'provider',
      title: `remote provider throughput vs concurrency, ${plan.latencyMs} ms per request, ${dataset}`,
      columns: ['concurrency', 'requests per call', 'items/s', '× concurrency 1', '× naive'],
      rows,
      note: `One engine.embed call of all ${texts.length} texts per iteration, ${plan.sweepBatchItems} texts a request, ${plan.dims}-dim vectors as base64, mean of ${plan.iterations} iteration(s) after a warm-up. The naive pattern (one awaited fetch per text) is timed on the first ${naiveTexts.length} texts only: at ${plan.latencyMs} ms a request all of them would take minutes. Server on a worker thread of the same process, loopback.`,
    });
    report.figure({ suite: 'provider', name: 'ratio: concurrency 8 / concurrency 1', value: perSecond(kConcurrencySweep.indexOf(8)) / base, unit: '×', conditions });
    report.figure({ suite: 'provider', name: 'ratio: concurrency 8 / naive one-request-per-text', value: perSecond(kConcurrencySweep.indexOf(8)) / naivePerSecond, unit: '×', conditions: { ...conditions, naiveTexts: naiveTexts.length } });
  } finally {
    await Promise.all(engines.map(([, e]) => e.close()));
  }
}

async function rateLimited(report: Report, plan: ProviderPlan, texts: readonly string[], dataset: string): Promise<void> {
  const clean = await startServer({ latencyMs: plan.latencyMs, dims: plan.dims, record: false });
  const faulty = await startServer({ latencyMs: plan.latencyMs, dims: plan.dims, record: false, randomFault: { fault: { kind: 'status', status: 429 }, rate: 0.1, seed: 20261203 } });
  const engines = [await providerEngine(clean, plan), await providerEngine(faulty, plan)] as const;
  try {
    // Alternating sides, medians: the 429s are random, so one run says little.
    const ms: [number[], number[]] = [[], []];
    let lost = 0;
    for (let i = 0; i < plan.iterations * 2 + 1; i++) {
      for (const side of [0, 1] as const) {
        const t0 = performance.now();
        const result = await engines[side].embed(texts);
        ms[side].push(performance.now() - t0);
        if (side === 1) lost += wrongItems(texts, result);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
    const m = engines[1].metrics().provider;
    const conditions = { dataset, latencyMs: plan.latencyMs, dims: plan.dims, concurrency: 8, maxBatchItems: 256, runs: ms[0].length };
    report.table({
      suite: 'provider',
      title: `10% of requests answered 429 (no Retry-After), ${dataset}`,
      columns: ['server', 'median ms per call', 'items lost or wrong', 'requests', '429s', 'retries'],
      rows: [
        ['clean', median(ms[0]), 0, engines[0].metrics().provider?.requests ?? Number.NaN, 0, 0],
        ['10% 429', median(ms[1]), lost, m?.requests ?? Number.NaN, m?.rateLimited ?? Number.NaN, m?.retries['rate-limited'] ?? Number.NaN],
      ],
      note: `Defaults (concurrency 8, 256 texts a request, backoff base 500 ms with full jitter). ${ms[0].length} calls a side, alternated; every item of every faulty call checked against the server's vector.`,
    });
    report.figure({ suite: 'provider', name: 'ratio: time with 10% 429s / clean', value: median(ms[1]) / median(ms[0]), unit: '×', conditions });
    report.figure({ suite: 'provider', name: 'items lost or wrong with 10% 429s', value: lost, unit: 'items', conditions });
  } finally {
    await Promise.all(engines.map((e) => e.close()));
    await Promise.all([clean.close(), faulty.close()]);
  }
}

async function singleCalls(report: Report, plan: ProviderPlan, server: ServerHandle, texts: readonly string[], dataset: string): Promise<void> {
  const calls = texts.slice(0, plan.singleCalls);
  const engine = await providerEngine(server, plan);
  try {
    const requestsOf = async (run: () => Promise<unknown>): Promise<{ ms: number; requests: number }> => {
      const before = await server.requests();
      const t0 = performance.now();
      await run();
      const ms = performance.now() - t0;
      return { ms, requests: (await server.requests()) - before };
    };
    const single: Array<{ ms: number; requests: number }> = [];
    const batched: Array<{ ms: number; requests: number }> = [];
    for (let i = 0; i < plan.iterations * 2 + 1; i++) {
      single.push(await requestsOf(() => Promise.all(calls.map((t) => engine.embedOne(t)))));
      batched.push(await requestsOf(() => engine.embed(calls)));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
    const singleMs = median(single.map((s) => s.ms));
    const batchedMs = median(batched.map((s) => s.ms));
    const singleRequests = median(single.map((s) => s.requests));
    const conditions = { dataset, latencyMs: plan.latencyMs, calls: calls.length, coalesceMs: 2, concurrency: 8, maxBatchItems: 256, runs: single.length };
    report.table({
      suite: 'provider',
      title: `${calls.length} concurrent single-text embedOne calls vs one batched call, ${plan.latencyMs} ms per request`,
      columns: ['pattern', 'HTTP requests', 'requests / calls', 'median ms', 'items/s'],
      rows: [
        [`${calls.length} × embedOne (coalesceMs 2)`, singleRequests, singleRequests / calls.length, singleMs, calls.length / (singleMs / 1000)],
        [`1 × embed(${calls.length} texts)`, median(batched.map((s) => s.requests)), median(batched.map((s) => s.requests)) / calls.length, batchedMs, calls.length / (batchedMs / 1000)],
      ],
      note: `Medians of ${single.length} alternated runs. Goal: at most 1/20 of the calls become requests.`,
    });
    report.figure({ suite: 'provider', name: 'ratio: HTTP requests / concurrent embedOne calls', value: singleRequests / calls.length, unit: '×', conditions });
    report.figure({ suite: 'provider', name: 'ratio: concurrent embedOne throughput / one batched call', value: batchedMs / singleMs, unit: '×', conditions });
  } finally {
    await engine.close();
  }
}

async function localCoalescing(report: Report, plan: ProviderPlan, texts: readonly string[], dataset: string): Promise<void> {
  const calls = texts.slice(0, plan.singleCalls);
  const engines = [await Engine.create({ backend: 'wasm', coalesceMs: 0 }), await Engine.create({ backend: 'wasm', coalesceMs: 2 })] as const;
  try {
    const lone = await timeTasks(
      engines.map((e, i) => [`lone embedOne, glove-100d, coalesceMs ${i === 0 ? 0 : 2}`, async () => await e.embedOne(texts[0] as string)] as const),
      ctxIterations(plan, 50),
    );
    const many = await timeTasks(
      engines.map((e, i) => [`${calls.length} concurrent embedOne, glove-100d, coalesceMs ${i === 0 ? 0 : 2}`, () => Promise.all(calls.map((t) => e.embedOne(t)))] as const),
      ctxIterations(plan, 5),
    );
    const workers = engines[0].info().workers;
    const batches = async (e: Engine): Promise<number> => {
      const before = e.metrics().batches;
      await Promise.all(calls.map((t) => e.embedOne(t)));
      return e.metrics().batches - before;
    };
    const batchCounts = [await batches(engines[0]), await batches(engines[1])];
    const rows = [0, 1].map((i) => [i === 0 ? 0 : 2, lone[i]?.p50Ms ?? Number.NaN, batchCounts[i] ?? Number.NaN, calls.length / ((many[i]?.meanMs ?? Number.NaN) / 1000)]);
    report.table({
      suite: 'provider',
      title: `coalescing on a local model: glove-100d (wasm, ${workers} workers), ${dataset}`,
      columns: ['coalesceMs', 'lone embedOne p50 ms', `pool batches for ${calls.length} concurrent calls`, `items/s, ${calls.length} concurrent embedOne`],
      rows,
      note: 'The lone call is timed alone (p50 over its iterations); the concurrent calls as one Promise.all, mean of its iterations after a warm-up.',
    });
    const conditions = { dataset, backend: 'wasm', workers, calls: calls.length };
    report.figure({ suite: 'provider', name: 'ratio: glove-100d lone embedOne latency, coalesceMs 2 / 0', value: (lone[1]?.p50Ms ?? Number.NaN) / (lone[0]?.p50Ms ?? Number.NaN), unit: '×', conditions });
    report.figure({
      suite: 'provider',
      name: 'ratio: glove-100d concurrent embedOne throughput, coalesceMs 2 / 0',
      value: (many[0]?.meanMs ?? Number.NaN) / (many[1]?.meanMs ?? Number.NaN),
      unit: '×',
      conditions,
    });
  } finally {
    await Promise.all(engines.map((e) => e.close()));
  }
}

function ctxIterations(plan: ProviderPlan, full: number): number {
  return plan === kQuickPlan ? Math.max(1, Math.round(full / 5)) : full;
}
