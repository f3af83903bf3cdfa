/**
 * scale-out suite (on demand: `npm run bench -- scale-out`): a sharded
 * build of real documents (WordNet definitions) on BullMQ over a real
 * redis-server, by 1 worker process against 2 worker processes (1 pool
 * worker each), 4 shards, the sides alternated, each side's worker
 * processes building twice (first build: fresh processes; then the steady
 * state of long-running ones, the headline); the share of the build
 * the queue adds (no worker running a job while the coordinator waits);
 * then search q/s and recall@10 of the sharded index next to a single
 * index of the same documents, on the same engine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, buildIndex, type VectorIndex } from 'vecforge';
import { prepareDefinitions } from '../data/definitions.js';
import { repoRoot } from '../paths.js';
import { speedRatio, type Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

const kRedisServer = '/usr/bin/redis-server';
const kShards = 4;

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      server.close(() => done(port));
    });
  });
}

/** Starts a child and resolves once a stderr/stdout line contains `ready`. */
function startUntil(cmd: string, args: readonly string[], ready: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  return new Promise((done, fail) => {
    let seen = false;
    const onData = (c: Buffer): void => {
      for (const l of c.toString().split('\n')) if (l !== '') lines.push(l);
      if (!seen && lines.some((l) => l.includes(ready))) {
        seen = true;
        done({ child, lines });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      if (!seen) fail(new Error(`${cmd} exited (${String(code)}) before ready: ${lines.slice(-5).join(' | ')}`));
    });
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill(signal);
  });
}

/** One queued sharded build: its wall time and the coordinator's own figures. */
interface QueuedBuild {
  readonly seconds: number;
  readonly splitMs: number;
  readonly jobsMs: number;
  readonly busyMs: number;
  readonly load: number;
}

/** One coordinator run (`vecforge build --shards --queue`), timed from its start to its exit. */
async function timedBuild(bin: string, input: string, out: string, url: string): Promise<QueuedBuild> {
  const load = loadavg()[0] ?? 0;
  const started = performance.now();
  const c = await startUntil(process.execPath, [bin, 'build', '--input', input, '--out', out, '--shards', String(kShards), '--queue', url, '--no-embedding-cache', '--progress', 'log', '--json'], '"queue-times"');
  const code = await new Promise<number | null>((r) => (c.child.exitCode !== null ? r(c.child.exitCode) : c.child.once('exit', (x) => r(x))));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 && code !== 3) throw new Error(`the sharded build exited with ${String(code)}: ${c.lines.slice(-5).join(' | ')}`);
  const summary = JSON.parse(c.lines.find((l) => l.startsWith('{"state"')) ?? '{}') as { splitMs?: number; jobsMs?: number };
  const times = JSON.parse(c.lines.find((l) => l.includes('"queue-times"')) ?? '{}') as { busyMs?: number };
  return { seconds, splitMs: summary.splitMs ?? 0, jobsMs: summary.jobsMs ?? 0, busyMs: times.busyMs ?? 0, load };
}

/**
 * Starts `workerCount` worker processes and runs two builds of the same
 * input through them: the first job set of fresh processes (cold: their
 * JIT and WebAssembly tier-up, heap growth), then the same again (warm: a
 * long-running worker's steady state).
 */
async function queuedBuilds(input: string, out: string, url: string, workerCount: number): Promise<{ cold: QueuedBuild; warm: QueuedBuild }> {
  const bin = join(repoRoot(), 'bin', 'vecforge.js');
  const workers = await Promise.all(Array.from({ length: workerCount }, () => startUntil(process.execPath, [bin, 'worker', '--queue', url, '--workers', '1', '--backend', 'wasm'], '"event":"ready"')));
  try {
    const cold = await timedBuild(bin, input, `${out}-cold`, url);
    rmSync(`${out}-cold`, { recursive: true, force: true });
    return { cold, warm: await timedBuild(bin, input, out, url) };
  } finally {
    await Promise.all(workers.map((w) => stop(w.child)));
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Exact top 10 by inner product of unit vectors (cosine). */
function exactTop10(base: Float32Array, ids: readonly string[], dims: number, q: Float32Array): Set<string> {
  const n = ids.length;
  const best: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    let dot = 0;
    const o = i * dims;
    for (let d = 0; d < dims; d++) dot += (base[o + d] as number) * (q[d] as number);
    if (best.length < 10) {
      best.push([dot, i]);
      best.sort((a, b) => a[0] - b[0]);
    } else if (dot > (best[0] as [number, number])[0]) {
      best[0] = [dot, i];
      best.sort((a, b) => a[0] - b[0]);
    }
  }
  return new Set(best.map(([, i]) => ids[i] as string));
}

async function searchFigures(index: VectorIndex, queries: Float32Array, nq: number, truth: readonly Set<string>[], reps: number): Promise<{ qps: number; recall: number }> {
  let hitsFound = 0;
  const first = await index.searchBatch(queries, { k: 10 });
  for (const [q, hits] of first.entries()) hitsFound += hits.filter((h) => truth[q]?.has(h.id)).length;
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await index.searchBatch(queries, { k: 10 });
    times.push(performance.now() - t);
  }
  return { qps: nq / (median(times) / 1000), recall: hitsFound / (10 * nq) };
}

/**
 * Runs the scale-out figures.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode, data dir).
 */
export async function runScaleOutSuite(report: Report, ctx: SuiteContext): Promise<void> {
  if (!existsSync(kRedisServer)) throw new Error(`${kRedisServer} is missing: the scale-out suite runs BullMQ on a real redis-server (apt-get install redis-server)`);
  const count = ctx.quick ? 5_000 : Number(process.env.VECFORGE_BENCH_SCALE_OUT_DOCS ?? 100_000);
  const corpus = await prepareDefinitions({ cacheDir: ctx.dataDir, count });
  const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-scale-out-'));
  const port = await freePort();
  const redis = await startUntil(kRedisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work], 'Ready to accept connections');
  const url = `redis://127.0.0.1:${port}`;
  const dataset = `${corpus.count} WordNet definitions (Debian wordnet-base), JSONL`;
  // Five rounds (A B, B A, A B, …): five builds a side, whose median is one of them. Three
  // rounds gave 1.85, 1.85 and 1.75 in three runs of one afternoon: the machine drifts.
  const rounds = ctx.quick ? 1 : 5;
  try {
    // Alternating sides: 1 worker, 2 workers, then 2, 1, then 1, 2, …
    const one: QueuedBuild[] = [];
    const two: QueuedBuild[] = [];
    const oneCold: QueuedBuild[] = [];
    const twoCold: QueuedBuild[] = [];
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      for (const k of r % 2 === 0 ? [1, 2] : [2, 1]) {
        const out = join(work, `sharded-${n++}`);
        const { cold, warm } = await queuedBuilds(corpus.path, out, url, k);
        (k === 1 ? one : two).push(warm);
        (k === 1 ? oneCold : twoCold).push(cold);
        if (!(k === 2 && two.length === 1)) rmSync(out, { recursive: true, force: true });
      }
    }
    const conditions = { dataset, backend: 'wasm', shards: kShards, poolWorkersPerProcess: 1, m: 16, efConstruction: 200, rounds, statistic: 'median', workers: 'warm: the second build through the same worker processes' };
    const f1 = report.figure({ suite: 'scale-out', name: 'seconds: sharded build, 1 worker process', value: median(one.map((b) => b.seconds)), unit: 's', conditions: { ...conditions, workerProcesses: 1 } });
    const f2 = report.figure({ suite: 'scale-out', name: 'seconds: sharded build, 2 worker processes', value: median(two.map((b) => b.seconds)), unit: 's', conditions: { ...conditions, workerProcesses: 2 } });
    const ratio = speedRatio(f2, f1);
    report.figure({ suite: 'scale-out', name: 'ratio: build speed, 2 worker processes / 1', value: ratio, unit: '×', conditions });
    const coldConditions = { ...conditions, workers: 'cold: the first build of freshly started worker processes' };
    const c1 = report.figure({ suite: 'scale-out', name: 'seconds: sharded build, 1 fresh worker process', value: median(oneCold.map((b) => b.seconds)), unit: 's', conditions: { ...coldConditions, workerProcesses: 1 } });
    const c2 = report.figure({ suite: 'scale-out', name: 'seconds: sharded build, 2 fresh worker processes', value: median(twoCold.map((b) => b.seconds)), unit: 's', conditions: { ...coldConditions, workerProcesses: 2 } });
    report.figure({ suite: 'scale-out', name: 'ratio: build speed, 2 fresh worker processes / 1 (first build)', value: speedRatio(c2, c1), unit: '×', conditions: coldConditions });
    const overhead = (b: QueuedBuild): number => (100 * Math.max(0, b.jobsMs - b.busyMs)) / (1000 * b.seconds);
    const all = [...one, ...two];
    report.figure({ suite: 'scale-out', name: 'share of build time: queue (no worker running a job while the coordinator waits)', value: median(all.map(overhead)), unit: '%', conditions });
    report.figure({ suite: 'scale-out', name: 'share of build time: reading and splitting the input (coordinator)', value: median(all.map((b) => (100 * b.splitMs) / (1000 * b.seconds))), unit: '%', conditions });
    report.table({
      suite: 'scale-out',
      title: `sharded build of ${dataset} on BullMQ, ${kShards} shards: 1 vs 2 worker processes`,
      columns: ['run', 'worker processes', 'seconds', 'first build s', 'split s', 'jobs s', 'queue idle %', 'load (1 min) at start'],
      rows: [
        ...[...one.map((b, i) => [b, oneCold[i]] as const), ...two.map((b, i) => [b, twoCold[i]] as const)].map(([b, c], i) => [i < one.length ? '1 worker' : '2 workers', i < one.length ? 1 : 2, b.seconds, c?.seconds ?? Number.NaN, b.splitMs / 1000, b.jobsMs / 1000, overhead(b), b.load] as const),
      ],
      note: `Workers (vecforge worker --workers 1, wasm) start and load the model; then the coordinator (vecforge build --shards ${kShards} --queue) runs twice through them, each run timed from its start to its exit (reading and splitting the input, queueing, the shard builds, publishing the set): "first build" is fresh processes' first job set (their JIT and WebAssembly tier-up run on background threads, which one process gets a spare core for and two do not), "seconds" the second build, the steady state of long-running workers, which the other columns and the headline ratio describe. Sides alternated over ${rounds} round(s); medians. "Queue idle" is the part of the jobs phase in which no worker ran a shard job (dispatch, polling, stalls), from BullMQ's processedOn/finishedOn. The machine is shared: the load average is given per run.`,
    });

    // Search: the sharded index of a 2-worker run against a single index of the same documents.
    const single = join(work, 'single');
    const engine = await Engine.create({ workers: Math.max(1, ctx.maxWorkers), backend: 'wasm' });
    try {
      await buildIndex({ source: corpus.path, out: single, engine, embeddingCache: false });
      const a = await engine.openIndex(single);
      const b = await engine.openIndex(join(work, 'sharded-1'));
      try {
        // Documents with no vector (no word the model knows; indexed lexically only) are not in the exact set.
        const ids = a.ids().filter((id) => a.getVector(id) !== undefined);
        const dims = a.dims;
        const base = new Float32Array(ids.length * dims);
        for (const [i, id] of ids.entries()) base.set(a.getVector(id) as Float32Array, i * dims);
        const lines = readFileSync(corpus.path, 'utf8').split('\n').filter((l) => l !== '');
        const nq = ctx.quick ? 50 : 200;
        const step = Math.max(1, Math.floor(lines.length / nq));
        const texts = Array.from({ length: nq }, (_, i) => (JSON.parse(lines[i * step] as string) as { text: string }).text);
        const embedded = await engine.embed(texts);
        const queries = embedded.vectors;
        const truth = Array.from({ length: nq }, (_, q) => exactTop10(base, ids, dims, queries.subarray(q * dims, (q + 1) * dims)));
        const reps = ctx.quick ? 3 : 7;
        // Alternated: single, sharded, single, sharded.
        const sa = await searchFigures(a, queries, nq, truth, reps);
        const sb = await searchFigures(b, queries, nq, truth, reps);
        const sa2 = await searchFigures(a, queries, nq, truth, reps);
        const sb2 = await searchFigures(b, queries, nq, truth, reps);
        const sconditions = { dataset, backend: 'wasm', k: 10, ef: 64, queries: nq, poolWorkers: Math.max(1, ctx.maxWorkers), shards: kShards };
        const q1 = report.figure({ suite: 'scale-out', name: 'q/s: search, single index', value: Math.max(sa.qps, sa2.qps), unit: 'q/s', conditions: sconditions });
        const q2 = report.figure({ suite: 'scale-out', name: `q/s: search, ${kShards} shards merged`, value: Math.max(sb.qps, sb2.qps), unit: 'q/s', conditions: sconditions });
        report.figure({ suite: 'scale-out', name: 'ratio: search q/s, sharded / single', value: speedRatio(q2, q1), unit: '×', conditions: sconditions });
        report.figure({ suite: 'scale-out', name: 'recall@10: single index', value: sa.recall, unit: 'ratio', conditions: sconditions });
        report.figure({ suite: 'scale-out', name: `recall@10: ${kShards} shards merged`, value: sb.recall, unit: 'ratio', conditions: sconditions });
        report.table({
          suite: 'scale-out',
          title: `search over ${ids.length} documents: ${kShards} shards merged vs one index`,
          columns: ['index', 'q/s (best of 2 alternated medians)', 'recall@10'],
          rows: [
            ['single index', Math.max(sa.qps, sa2.qps), sa.recall],
            [`${kShards} shards, fan-out and merge`, Math.max(sb.qps, sb2.qps), sb.recall],
          ],
          note: `${nq} query vectors (glove-100d of definitions spread over the corpus), k=10, the index's default ef (64), searchBatch on one engine of ${Math.max(1, ctx.maxWorkers)} pool workers; recall against the exact top 10 by cosine over the stored vectors.`,
        });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    } finally {
      await engine.close();
    }
  } finally {
    await stop(redis.child, 'SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}
