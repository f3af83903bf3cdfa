/**
 * `npm run bench -- [suite ...] [--quick] [--report DIR]`: runs benchmark
 * suites and writes report.md and report.json.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Report } from './report.js';
import { runEmbedSuite } from './suites/embed.js';
import { runIndexSuite } from './suites/index.js';
import type { SuiteContext } from './suites/suite.js';
import { packageRoot } from '../cli/paths.js';

const kSuites = Object.freeze({ embed: runEmbedSuite, index: runIndexSuite } as Record<string, (report: Report, ctx: SuiteContext) => Promise<void>>);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { quick: { type: 'boolean', default: false }, report: { type: 'string' }, suite: { type: 'string' } },
});
const names = [...positionals, ...(values.suite !== undefined ? [values.suite] : [])];
const selected = names.length === 0 || names.includes('all') ? Object.keys(kSuites) : names;
for (const name of selected) {
  if (kSuites[name] === undefined) {
    process.stderr.write(`unknown suite "${name}"; known: ${Object.keys(kSuites).join(', ')}, all\n`);
    process.exit(2);
  }
}
const root = packageRoot();
const ctx: SuiteContext = {
  quick: values.quick,
  dataDir: process.env.VECFORGE_BENCH_DATA ?? join(root, '.cache', 'bench-data'),
  maxWorkers: availableParallelism(),
};
const report = new Report();
for (const name of selected) {
  process.stdout.write(`\n# suite ${name}${ctx.quick ? ' (quick)' : ''}\n`);
  await kSuites[name]?.(report, ctx);
}
const out = report.write(values.report ?? join(root, 'reports', 'latest'));
process.stdout.write(`\nreport: ${out.md}\n        ${out.json}\n`);
