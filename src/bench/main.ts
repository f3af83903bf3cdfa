/**
 * The benchmark runner behind `npm run bench -- [suite ...] [--quick]
 * [--report DIR]` and `vecforge bench`: runs suites and writes report.md
 * and report.json.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Report } from './report.js';
import { runEmbedSuite } from './suites/embed.js';
import { runIndexSuite } from './suites/index.js';
import type { SuiteContext } from './suites/suite.js';
import { packageRoot } from '../cli/paths.js';

/** Suites by name. */
export const kSuites: Readonly<Record<string, (report: Report, ctx: SuiteContext) => Promise<void>>> = Object.freeze({
  embed: runEmbedSuite,
  index: runIndexSuite,
});

/** Options of {@link runBench}. */
export interface RunBenchOptions {
  /** Suite names; empty or `all` runs every suite. */
  readonly suites: readonly string[];
  /** Smaller data and fewer iterations. @default false */
  readonly quick?: boolean;
  /** Report directory. @default <package>/reports/latest */
  readonly reportDir?: string;
}

/**
 * Runs suites and writes the report.
 * @param options - suites, quick mode, report directory.
 * @returns the report paths.
 * @throws {RangeError} for an unknown suite, naming the known ones.
 */
export async function runBench(options: RunBenchOptions): Promise<{ md: string; json: string }> {
  const selected = options.suites.length === 0 || options.suites.includes('all') ? Object.keys(kSuites) : options.suites;
  for (const name of selected) {
    if (kSuites[name] === undefined) throw new RangeError(`unknown suite "${name}"; known: ${Object.keys(kSuites).join(', ')}, all`);
  }
  const root = packageRoot();
  const ctx: SuiteContext = {
    quick: options.quick ?? false,
    dataDir: process.env.VECFORGE_BENCH_DATA ?? join(root, '.cache', 'bench-data'),
    maxWorkers: availableParallelism(),
  };
  const report = new Report();
  for (const name of selected) {
    process.stdout.write(`\n# suite ${name}${ctx.quick ? ' (quick)' : ''}\n`);
    await kSuites[name]?.(report, ctx);
  }
  const out = report.write(options.reportDir ?? join(root, 'reports', 'latest'));
  process.stdout.write(`\nreport: ${out.md}\n        ${out.json}\n`);
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { quick: { type: 'boolean', default: false }, report: { type: 'string' }, suite: { type: 'string' } },
  });
  try {
    await runBench({
      suites: [...positionals, ...(values.suite !== undefined ? [values.suite] : [])],
      quick: values.quick,
      ...(values.report !== undefined ? { reportDir: values.report } : {}),
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof RangeError ? 2 : 1;
  }
}
