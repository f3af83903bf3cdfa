/**
 * Timing through tinybench: every figure of a suite is a tinybench task
 * result, and ratios are taken between tasks of the same run.
 */
import { Bench } from 'tinybench';

/** One timed task. */
export interface Timing {
  readonly name: string;
  /** Mean latency of one iteration, ms. */
  readonly meanMs: number;
  /** Median latency of one iteration, ms. */
  readonly p50Ms: number;
  /** Fastest iteration, ms. */
  readonly minMs: number;
  /** Iterations measured. */
  readonly samples: number;
}

/**
 * Times tasks side by side in one tinybench run. Tasks run in turn, each
 * for `iterations` iterations after one warm-up iteration.
 * @param tasks - name → async function doing one iteration.
 * @param iterations - iterations per task.
 * @param warmup - run one untimed iteration first. @default true
 * @returns one timing per task, in the given order.
 */
export async function timeTasks(tasks: ReadonlyArray<readonly [string, () => unknown]>, iterations: number, warmup = true): Promise<Timing[]> {
  const bench = new Bench({ iterations, time: 0, warmup, warmupIterations: 1, warmupTime: 0, throws: true });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  return bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`benchmark task ${task.name} ended ${r.state}`);
    return { name: task.name, meanMs: r.latency.mean, p50Ms: r.latency.p50, minMs: r.latency.min, samples: r.latency.samples?.length ?? iterations };
  });
}

/**
 * The median of a list (the mean of the middle two for an even count).
 * @param xs - the values.
 * @returns the median; NaN for an empty list.
 */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}
