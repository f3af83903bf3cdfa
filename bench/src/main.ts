/**
 * The benchmark runner behind `npm run bench -- [suite ...] [--quick]
 * [--report DIR]`, the `vecforge-bench` bin and `vecforge bench` (a launcher
 * that runs this file): runs suites and writes report.md,
 * report.json (+ report.schema.json) and the SVG charts.
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Report, type WrittenReport } from './report/report.js';
import { runBatchSuite } from './suites/batch.js';
import { runEmbedSuite } from './suites/embed.js';
import { runEmbedCommandSuite } from './suites/embed-command.js';
import { runExchangeSuite } from './suites/exchange.js';
import { runIndexSuite } from './suites/index.js';
import { runModelSuite } from './suites/model.js';
import { runPcaSuite } from './suites/pca.js';
import { runPcaIndexSuite } from './suites/pca-index.js';
import { runProviderSuite } from './suites/provider.js';
import { runQualitySuite } from './suites/quality.js';
import { runReindexSuite } from './suites/reindex.js';
import { runServeSuite } from './suites/serve.js';
import { runSoakSuite } from './suites/soak.js';
import { runScaleOutSuite } from './suites/scale-out.js';
import type { SuiteContext, SuiteRunner } from './suites/suite.js';
import { repoRoot } from './paths.js';

/** Other names of suites: `--suite search` runs the index suite. */
export const kSuiteAliases: Readonly<Record<string, string>> = Object.freeze({
  // The search figures (ef sweep with recall@10 and queries/s, single-query
  // vs native, searchBatch) need the graph the index suite builds, so they
  // are measured there; `search` names that suite.
  search: 'index',
});

/** Suites by name, in the order `all` runs them; one line each. */
export const kSuites: Readonly<Record<string, SuiteRunner>> = Object.freeze({
  embed: runEmbedSuite,
  batch: runBatchSuite,
  exchange: runExchangeSuite,
  index: runIndexSuite,
  pca: runPcaSuite,
  'pca-index': runPcaIndexSuite,
  reindex: runReindexSuite,
});

/** Suites that run only when named (`all` leaves them out): the soak takes 10 minutes; provider, serve, model, embed-command, quality and scale-out several each. */
export const kOnDemandSuites: Readonly<Record<string, SuiteRunner>> = Object.freeze({
  soak: runSoakSuite,
  provider: runProviderSuite,
  serve: runServeSuite,
  model: runModelSuite,
  'embed-command': runEmbedCommandSuite,
  // Fetches GCIDE and FOLDOC from Debian and builds two indexes: minutes.
  quality: runQualitySuite,
  'scale-out': runScaleOutSuite,
});

/** Options of {@link runBench}. */
export interface RunBenchOptions {
  /** Suite names (each may be a comma-separated list); empty or `all` runs every suite. */
  readonly suites: readonly string[];
  /** Smaller data and fewer iterations. @default false */
  readonly quick?: boolean;
  /** Report directory. @default <package>/reports/latest */
  readonly reportDir?: string;
  /** The soak suite's length in seconds. @default 600, or 20 with quick */
  readonly soakSeconds?: number;
  /** Texts the model suite embeds. @default 4000, or 300 with quick */
  readonly modelTexts?: number;
  /** The quality suite's vector side: a model directory (or registry name) instead of glove-100d. */
  readonly qualityModel?: string;
}

/**
 * Runs suites and writes the report. A suite that throws is recorded as
 * failed (its figures so far are kept) and the others still run; the
 * report is written either way, then the failures are thrown.
 * @param options - suites, quick mode, report directory.
 * @returns the report paths.
 * @throws {RangeError} for an unknown suite, naming the known ones.
 * @throws {AggregateError} after writing the report, when any suite failed (one error per failed suite).
 */
export async function runBench(options: RunBenchOptions): Promise<WrittenReport> {
  // `--suite index,pca` names several suites at once.
  const named = options.suites
    .flatMap((s) => s.split(','))
    .filter((s) => s !== '')
    .map((s) => kSuiteAliases[s] ?? s);
  const selected = named.length === 0 || named.includes('all') ? Object.keys(kSuites) : [...new Set(named)];
  for (const name of selected) {
    if (kSuites[name] === undefined && kOnDemandSuites[name] === undefined) {
      throw new RangeError(`unknown suite "${name}"; known: ${[...Object.keys(kSuites), ...Object.keys(kSuiteAliases)].join(', ')}, all; on demand: ${Object.keys(kOnDemandSuites).join(', ')}`);
    }
  }
  if (options.soakSeconds !== undefined && (!Number.isInteger(options.soakSeconds) || options.soakSeconds < 1)) {
    throw new RangeError(`--soak-seconds must be a positive integer, got ${String(options.soakSeconds)}`);
  }
  if (options.modelTexts !== undefined && (!Number.isInteger(options.modelTexts) || options.modelTexts < 1 || options.modelTexts > 165_000)) {
    throw new RangeError(`--model-texts must be an integer in [1, 165000], got ${String(options.modelTexts)}`);
  }
  if (options.qualityModel !== undefined && (options.qualityModel === '' || !existsSync(options.qualityModel) || !statSync(options.qualityModel).isDirectory())) {
    throw new RangeError(`--quality-model must be a model directory, got ${JSON.stringify(options.qualityModel)}`);
  }
  const root = repoRoot();
  const ctx: SuiteContext = {
    quick: options.quick ?? false,
    dataDir: process.env.VECFORGE_BENCH_DATA ?? join(root, '.cache', 'bench-data'),
    maxWorkers: availableParallelism(),
    ...(options.soakSeconds !== undefined ? { soakSeconds: options.soakSeconds } : {}),
    ...(options.modelTexts !== undefined ? { modelTexts: options.modelTexts } : {}),
    ...(options.qualityModel !== undefined ? { qualityModel: options.qualityModel } : {}),
  };
  const report = new Report({ quick: ctx.quick });
  const failures: Error[] = [];
  for (const name of selected) {
    process.stdout.write(`\n# suite ${name}${ctx.quick ? ' (quick)' : ''}\n`);
    const started = performance.now();
    try {
      const result = await (kSuites[name] ?? kOnDemandSuites[name])?.(report, ctx);
      const durationMs = performance.now() - started;
      report.suite(result?.skipped !== undefined ? { name, state: 'skipped', durationMs, reason: result.skipped } : { name, state: 'ok', durationMs });
      if (result?.skipped !== undefined) process.stdout.write(`skipped: ${result.skipped}\n`);
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      report.suite({ name, state: 'failed', durationMs: performance.now() - started, reason });
      failures.push(new Error(`suite ${name} failed: ${reason}`, { cause: error }));
      process.stderr.write(`suite ${name} failed: ${error instanceof Error ? (error.stack ?? reason) : reason}\n`);
    }
  }
  const out = await report.write(options.reportDir ?? join(root, 'reports', 'latest'));
  process.stdout.write(`\nreport: ${out.md}\n        ${out.json}\n${out.charts.map((c) => `        ${c}\n`).join('')}`);
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} suite(s) failed: ${failures.map((f) => f.message).join('; ')}`);
  return out;
}

/**
 * The command line of `npm run bench` and the `vecforge-bench` bin:
 * `[suite ...] [--suite NAMES] [--quick] [--report DIR] [--soak-seconds N] [--model-texts N] [--quality-model DIR]`.
 * @param argv - the arguments after the script name.
 * @returns the exit status: 0 done, 1 a suite failed, 2 a bad command line or an unknown suite.
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { quick: { type: 'boolean', default: false }, report: { type: 'string' }, suite: { type: 'string' }, 'soak-seconds': { type: 'string' }, 'model-texts': { type: 'string' }, 'quality-model': { type: 'string' } },
    });
    await runBench({
      suites: [...positionals, ...(values.suite !== undefined ? [values.suite] : [])],
      quick: values.quick,
      ...(values.report !== undefined ? { reportDir: values.report } : {}),
      ...(values['soak-seconds'] !== undefined ? { soakSeconds: /^\d+$/.test(values['soak-seconds']) ? Number(values['soak-seconds']) : Number.NaN } : {}),
      ...(values['model-texts'] !== undefined ? { modelTexts: /^\d+$/.test(values['model-texts']) ? Number(values['model-texts']) : Number.NaN } : {}),
      ...(values['quality-model'] !== undefined ? { qualityModel: values['quality-model'] } : {}),
    });
    return 0;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    // parseArgs throws a TypeError with an ERR_PARSE_ARGS_* code for a bad flag.
    return error instanceof RangeError || (error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) ? 2 : 1;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
