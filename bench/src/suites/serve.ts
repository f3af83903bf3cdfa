/**
 * serve suite (on demand: `npm run bench -- serve`): `vecforge serve` in a
 * child process under autocannon on loopback, next to the same work done
 * in-process through the library, one after the other on the same machine,
 * model, worker count and index.
 *
 * Workloads, each at 1, 8 and 64 concurrent clients for a fixed time:
 * - embeddings: one text per request (`POST /v1/embeddings`) vs `engine.embed([text])`;
 * - search, no cache: one query text, k 10 (`POST …/search`, `--cache-size 0`) vs `index.search(text)`;
 * - search, cache: the same with the result cache (`--cache-size 10000`) vs an index opened with `searchCache`.
 * Queries are real WordNet definitions drawn Zipf-distributed (s = 1.1) over
 * a pool, so popular queries repeat at a realistic rate. The library side
 * runs the same number of concurrent callers in one process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Engine, type VectorIndex } from 'vecforge';
import { prepareDefinitions, readDefinitionTexts } from '../data/definitions.js';
import { mulberry32 } from '../internals.js';
import { repoRoot } from '../paths.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

/** The suite's size and length. */
interface ServePlan {
  readonly docs: number;
  readonly queryPool: number;
  readonly seconds: number;
  readonly connections: readonly number[];
}

const kPlan: ServePlan = Object.freeze({ docs: 10_000, queryPool: 2000, seconds: 4, connections: [1, 8, 64] });
const kQuickPlan: ServePlan = Object.freeze({ docs: 2000, queryPool: 500, seconds: 1, connections: [1, 8, 64] });
/** Zipf exponent of the query draws. */
const kZipfS = 1.1;
const kCacheSize = 10_000;
const kK = 10;

/** One measured point. */
export interface LoadPoint {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Answers that were not 2xx (HTTP side only). */
  readonly failed: number;
}

/**
 * Zipf draws over ranks 0..n-1 (rank r weighs 1/(r+1)^s), seeded.
 * @param n - the pool size.
 * @param s - the exponent.
 * @param count - how many draws.
 * @param seed - the seed.
 * @returns the drawn ranks.
 */
export function zipfDraws(n: number, s: number, count: number, seed: number): Uint32Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) {
    total += 1 / (r + 1) ** s;
    cdf[r] = total;
  }
  const rand = mulberry32(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const u = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/**
 * Runs `op` from `clients` concurrent callers for `seconds`.
 * @returns calls per second and latency percentiles.
 */
async function inProcess(clients: number, seconds: number, op: (i: number) => Promise<unknown>): Promise<LoadPoint> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op(next++);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), failed: 0 };
}

/**
 * Runs autocannon against one route for `seconds`.
 * @returns 2xx answers per second and latency percentiles.
 */
async function overHttp(url: string, path: string, clients: number, seconds: number, bodyOf: (i: number) => string): Promise<LoadPoint> {
  let next = 0;
  const result = await autocannon({
    url,
    connections: clients,
    duration: seconds,
    requests: [{ method: 'POST', path, headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: bodyOf(next++) }) }],
  });
  const ok = result['2xx'];
  return { perSecond: ok / result.duration, p50Ms: result.latency.p50, p99Ms: result.latency.p99, failed: result.non2xx + result.errors };
}

/** Starts `vecforge serve` and resolves with its URL once it listens. */
function startServer(dir: string, workers: number, cacheSize: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'vecforge.js'), 'serve', `notes=${dir}`, '--port', '0', '--workers', String(workers), '--backend', 'wasm', '--cache-size', String(cacheSize), '--save-interval-ms', '0', '--max-queue', '100000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)\n/.exec(out);
      if (m !== null) resolve({ child, url: m[1] as string });
    });
    child.on('close', (code) => reject(new Error(`vecforge serve exited (${code}) before listening: ${err}`)));
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  await closed;
}

/** The server's cache hit rate, from its /metrics. */
async function cacheHitRate(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string): number => Number(new RegExp(`^${name}\\{index="notes"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const hits = read('vecforge_cache_hits_total');
  const misses = read('vecforge_cache_misses_total');
  return hits + misses === 0 ? 0 : hits / (hits + misses);
}

/**
 * Runs the suite and records its figures and table.
 * @param report - receives them.
 * @param ctx - quick mode, data directory, worker count.
 */
export async function runServeSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const plan = ctx.quick ? kQuickPlan : kPlan;
  const workers = Math.max(1, Math.min(2, ctx.maxWorkers));
  const corpus = await prepareDefinitions({ cacheDir: ctx.dataDir, count: 10_000 });
  const texts = readDefinitionTexts(corpus.path, plan.docs);
  const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-serve-'));
  const dir = join(work, 'notes');
  const rows: Array<Array<string | number>> = [];
  const engine = await Engine.create({ workers, backend: 'wasm', coalesceMs: 2 });
  let pool: string[] = [];
  try {
    // Queries: definitions the model can embed (a few hold no known word), so every request is a 200.
    const candidates = texts.slice(0, plan.queryPool);
    const probe = await engine.embed(candidates);
    pool = candidates.filter((_, i) => probe.items[i]?.state === 'ok');
    const draws = zipfDraws(pool.length, kZipfS, 1 << 20, 20261203);
    const queryOf = (i: number): string => pool[draws[i % draws.length] as number] as string;
    const conditions = { dataset: `WordNet definitions, ${plan.docs} indexed, queries Zipf s=${kZipfS} over ${pool.length}`, workers, seconds: plan.seconds, k: kK, backend: 'wasm' };
    const built = await engine.createIndex({ dir });
    await built.upsert(texts.map((text, i) => ({ id: `d${i}`, text })));
    await built.save();
    await built.close();
    const plainIndex = await engine.openIndex(dir);
    const cachedIndex = await engine.openIndex(dir, { searchCache: { size: kCacheSize, ttlMs: 60_000 } });
    const workloads: Array<{ name: string; path: string; cacheSize: number; body: (i: number) => string; library: (i: number) => Promise<unknown>; index?: VectorIndex }> = [
      { name: 'embeddings', path: '/v1/embeddings', cacheSize: 0, body: (i) => JSON.stringify({ input: queryOf(i) }), library: (i) => engine.embed([queryOf(i)]) },
      { name: 'search, no cache', path: '/v1/indexes/notes/search', cacheSize: 0, body: (i) => JSON.stringify({ query: queryOf(i), k: kK }), library: (i) => plainIndex.search(queryOf(i), { k: kK }) },
      { name: 'search, cache', path: '/v1/indexes/notes/search', cacheSize: kCacheSize, body: (i) => JSON.stringify({ query: queryOf(i), k: kK }), library: (i) => cachedIndex.search(queryOf(i), { k: kK }) },
    ];
    try {
      for (const w of workloads) {
        const server = await startServer(dir, workers, w.cacheSize);
        try {
          // Warm-up of both sides (pools, JIT, connections); not measured.
          await overHttp(server.url, w.path, 8, 1, w.body);
          await inProcess(8, 1, w.library);
          for (const c of plan.connections) {
            const load = loadavg()[0] ?? 0;
            const http = await overHttp(server.url, w.path, c, plan.seconds, w.body);
            const lib = await inProcess(c, plan.seconds, w.library);
            const hitRate = w.cacheSize > 0 ? await cacheHitRate(server.url) : null;
            const cond = { ...conditions, workload: w.name, clients: c, loadAvg1m: Number(load.toFixed(2)) };
            report.figure({ suite: 'serve', name: `serve: ${w.name}, ${c} clients, HTTP requests per second`, value: http.perSecond, unit: 'req/s', conditions: cond });
            report.figure({ suite: 'serve', name: `serve: ${w.name}, ${c} clients, library calls per second`, value: lib.perSecond, unit: 'calls/s', conditions: cond });
            report.figure({ suite: 'serve', name: `serve: ${w.name}, ${c} clients, HTTP / library throughput`, value: http.perSecond / lib.perSecond, unit: '×', conditions: cond });
            report.figure({ suite: 'serve', name: `serve: ${w.name}, ${c} clients, HTTP p99 latency`, value: http.p99Ms, unit: 'ms', conditions: cond });
            rows.push([
              w.name,
              c,
              Math.round(http.perSecond),
              http.p50Ms.toFixed(2),
              http.p99Ms.toFixed(2),
              http.failed,
              Math.round(lib.perSecond),
              lib.p50Ms.toFixed(2),
              lib.p99Ms.toFixed(2),
              (http.perSecond / lib.perSecond).toFixed(2),
              hitRate === null ? '' : hitRate.toFixed(2),
              load.toFixed(2),
            ]);
            process.stdout.write(`serve: ${w.name}, ${c} clients: HTTP ${Math.round(http.perSecond)}/s p50 ${http.p50Ms} ms p99 ${http.p99Ms} ms; library ${Math.round(lib.perSecond)}/s p50 ${lib.p50Ms.toFixed(2)} ms p99 ${lib.p99Ms.toFixed(2)} ms\n`);
          }
        } finally {
          await stopServer(server.child);
        }
      }
    } finally {
      await plainIndex.close();
      await cachedIndex.close();
    }
  } finally {
    await engine.close();
    rmSync(work, { recursive: true, force: true });
  }
  report.table({
    suite: 'serve',
    title: `HTTP (vecforge serve, autocannon on loopback) vs the same work in-process through the library (${workers} workers, wasm)`,
    columns: ['workload', 'clients', 'HTTP req/s', 'HTTP p50 ms', 'HTTP p99 ms', 'HTTP non-2xx', 'library calls/s', 'library p50 ms', 'library p99 ms', 'HTTP / library', 'cache hit rate', 'load 1m'],
    rows,
    note: `Each point runs ${plan.seconds} s per side, the HTTP side first; the server is a separate \`vecforge serve\` process (micro-batching 2 ms), autocannon runs in the bench process. Queries: ${pool.length} real WordNet definitions drawn Zipf-distributed (s = ${kZipfS}); the index holds ${plan.docs} definitions (glove-100d, cosine, M 16). The cache rows use --cache-size ${kCacheSize} on the server and searchCache { size: ${kCacheSize} } in the library; the hit rate is the server's, cumulative over the workload.`,
  });
}
