/**
 * soak suite: one engine, one index, a long mix of searches, upserts,
 * deletes and saves through the public API, with the process's RSS, V8
 * heap and open file descriptors sampled every few seconds. The verdict
 * figure is "RSS growth after warm-up": the median RSS of the last third
 * of the samples minus that of the first third (the first third is the
 * warm-up: caches, pools and arenas filling). The id space is bounded, so
 * a flat RSS means nothing leaks per operation.
 *
 * Not part of `all`: it runs for `soakSeconds` (10 minutes by default,
 * about 20 s with --quick).
 */
import { readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type VectorIndex } from 'vecforge';
import { createRng, type Rng } from '../internals.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

/** The soak's length and shape. */
export interface SoakPlan {
  readonly seconds: number;
  readonly sampleEverySeconds: number;
  readonly saveEverySeconds: number;
  /** Ids are drawn from `id0` … `id<idSpace - 1>`, so the index stays about this size. */
  readonly idSpace: number;
  readonly dims: number;
}

/** Full soak: 10 minutes. */
export const kSoakPlan: SoakPlan = Object.freeze({ seconds: 600, sampleEverySeconds: 5, saveEverySeconds: 10, idSpace: 20_000, dims: 64 });
/** Quick soak: about 20 s. */
export const kQuickSoakPlan: SoakPlan = Object.freeze({ seconds: 20, sampleEverySeconds: 1, saveEverySeconds: 3, idSpace: 5_000, dims: 64 });

/** One sample of the process. */
export interface SoakSample {
  readonly seconds: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly openFds: number;
  readonly searches: number;
  readonly upserts: number;
  readonly deletes: number;
  readonly saves: number;
}

/**
 * Median of a list of numbers.
 * @param values - the numbers.
 * @returns the median, NaN for none.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Growth after warm-up: median of the last third minus median of the first third.
 * @param values - samples in time order.
 * @returns the growth (NaN with fewer than 3 samples).
 */
export function growthAfterWarmUp(values: readonly number[]): number {
  if (values.length < 3) return Number.NaN;
  const third = Math.floor(values.length / 3);
  return median(values.slice(values.length - third)) - median(values.slice(0, third));
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function unitVector(rng: Rng, dims: number): Float32Array {
  const v = new Float32Array(dims);
  let s = 0;
  for (let d = 0; d < dims; d++) {
    const x = rng.nextGaussian();
    v[d] = x;
    s += x * x;
  }
  const inv = 1 / Math.sqrt(s);
  for (let d = 0; d < dims; d++) v[d] = (v[d] as number) * inv;
  return v;
}

/**
 * Runs the mixed workload for `plan.seconds` and samples the process.
 * @param index - an open index of `plan.dims` dims.
 * @param plan - length and shape.
 * @param log - progress lines.
 * @returns the samples, in time order.
 */
export async function soak(index: VectorIndex, plan: SoakPlan, log: (line: string) => void): Promise<SoakSample[]> {
  const rng = createRng(12);
  const pick = (): string => `id${rng.nextUint32() % plan.idSpace}`;
  const item = (id: string): { id: string; vector: Float32Array; metadata: Record<string, unknown> } => ({ id, vector: unitVector(rng, plan.dims), metadata: { n: rng.nextUint32() % 100 } });
  await index.upsert(Array.from({ length: plan.idSpace / 2 }, (_, i) => item(`id${i * 2}`)));
  const counts = { searches: 0, upserts: 0, deletes: 0, saves: 0 };
  const samples: SoakSample[] = [];
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const sample = (): void => {
    const m = process.memoryUsage();
    const s: SoakSample = { seconds: Number(elapsed().toFixed(1)), rssBytes: m.rss, heapUsedBytes: m.heapUsed, openFds: openFds(), ...counts };
    samples.push(s);
    log(`soak ${s.seconds}s: rss ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, heap ${(s.heapUsedBytes / 2 ** 20).toFixed(1)} MiB, fds ${s.openFds}, ${JSON.stringify(counts)}`);
  };
  sample();
  let nextSample = plan.sampleEverySeconds;
  let nextSave = plan.saveEverySeconds;
  for (let round = 0; elapsed() < plan.seconds; round++) {
    await index.search(unitVector(rng, plan.dims), { k: 10 });
    counts.searches++;
    if (round % 8 === 0) {
      await index.searchBatch(Array.from({ length: 16 }, () => unitVector(rng, plan.dims)), { k: 10 });
      counts.searches += 16;
    }
    if (round % 10 === 0) {
      await index.upsert(Array.from({ length: 32 }, () => item(pick())));
      counts.upserts += 32;
    }
    if (round % 10 === 5) {
      await index.delete(Array.from({ length: 16 }, pick));
      counts.deletes += 16;
    }
    if (elapsed() >= nextSave) {
      await index.save();
      counts.saves++;
      nextSave += plan.saveEverySeconds;
    }
    if (elapsed() >= nextSample) {
      sample();
      nextSample += plan.sampleEverySeconds;
    }
  }
  sample();
  return samples;
}

/**
 * Runs the soak and records its samples and verdict.
 * @param report - receives the table and figures.
 * @param ctx - quick mode, worker count, optional length.
 */
export async function runSoakSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const base = ctx.quick ? kQuickSoakPlan : kSoakPlan;
  const plan: SoakPlan = ctx.soakSeconds !== undefined ? { ...base, seconds: ctx.soakSeconds } : base;
  const workers = Math.max(1, Math.min(2, ctx.maxWorkers));
  const dir = mkdtempSync(join(tmpdir(), 'vecforge-soak-'));
  const engine = await Engine.create({ workers, backend: 'wasm' });
  let samples: SoakSample[];
  try {
    const index = await engine.createIndex({ dir: join(dir, 'index'), dims: plan.dims, capacity: plan.idSpace, m: 16, efConstruction: 100 });
    try {
      samples = await soak(index, plan, (line) => process.stdout.write(`${line}\n`));
    } finally {
      await index.close();
    }
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const mib = (b: number): number => Number((b / 2 ** 20).toFixed(1));
  const last = samples[samples.length - 1] as SoakSample;
  const conditions = { dataset: `synthetic ${plan.dims}-d unit vectors, ${plan.idSpace} ids`, seconds: plan.seconds, workers, samples: samples.length, sampleEverySeconds: plan.sampleEverySeconds };
  const rssGrowth = growthAfterWarmUp(samples.map((s) => s.rssBytes)) / 2 ** 20;
  const firstThird = median(samples.slice(0, Math.floor(samples.length / 3)).map((s) => s.rssBytes)) / 2 ** 20;
  report.figure({ suite: 'soak', name: 'soak: RSS growth after warm-up (last-third median − first-third median)', value: rssGrowth, unit: 'MiB', conditions });
  report.figure({ suite: 'soak', name: 'soak: RSS growth after warm-up, relative to the first-third median', value: rssGrowth / firstThird, unit: '×', conditions });
  report.figure({ suite: 'soak', name: 'soak: open file descriptor growth after warm-up', value: growthAfterWarmUp(samples.map((s) => s.openFds)), unit: 'fds', conditions });
  report.figure({ suite: 'soak', name: 'soak: V8 heap growth after warm-up', value: growthAfterWarmUp(samples.map((s) => s.heapUsedBytes)) / 2 ** 20, unit: 'MiB', conditions });
  report.figure({ suite: 'soak', name: 'soak: searches per second', value: last.searches / Math.max(1e-9, last.seconds), unit: 'queries/s', conditions });
  report.figure({ suite: 'soak', name: 'soak: operations', value: last.searches + last.upserts + last.deletes + last.saves, unit: 'ops', conditions });
  report.table({
    suite: 'soak',
    title: `soak: ${plan.seconds} s of mixed searches, upserts, deletes and saves on one engine (${workers} workers)`,
    columns: ['seconds', 'RSS MiB', 'heap MiB', 'open fds', 'searches', 'upserts', 'deletes', 'saves'],
    rows: samples.map((s) => [String(s.seconds), mib(s.rssBytes), mib(s.heapUsedBytes), s.openFds, s.searches, s.upserts, s.deletes, s.saves]),
    note: `Verdict: RSS growth after warm-up ${rssGrowth.toFixed(1)} MiB (median of the last third of the samples minus the median of the first third). Ids are drawn from a fixed space of ${plan.idSpace}, so the index stays about the same size; upserts replace, deletes free slots, saves publish a new version each time.`,
  });
}
