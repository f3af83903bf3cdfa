/**
 * `vecforge bench`: a thin launcher. The benchmarks are their own private
 * package (`@vecforge/bench`, bench/ in the vecforge repository), not part
 * of the library; this command runs that package's runner in a child
 * process when it is installed beside vecforge (a repository checkout after
 * `npm ci`), and otherwise says how to run it. It imports no bench code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { kExitFatal, kExitUsage } from './exit-codes.js';

/** Flags of `vecforge bench`, the same as `npm run bench`'s. */
export interface BenchFlags {
  readonly suite: string;
  readonly quick: boolean;
  readonly report?: string;
}

const kHowToRun =
  'vecforge bench: the benchmarks are a separate package (@vecforge/bench) that is not installed here.\n' +
  'In a vecforge repository checkout run `npm ci`, then `npm run bench -- [--suite NAMES] [--quick] [--report DIR]`.\n';

/**
 * The bench runner's compiled entry file, when the bench package is installed and built.
 * @returns its path, or undefined.
 */
export function benchEntry(): string | undefined {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('@vecforge/bench/package.json');
  } catch {
    return undefined;
  }
  const entry = join(dirname(pkg), 'dist', 'main.js');
  return existsSync(entry) ? entry : undefined;
}

/**
 * Runs the bench package's runner with the same flags, in a child process.
 * @param flags - the parsed flags.
 * @returns the exit code: the runner's, or 2 when the bench package is not installed.
 */
export function runBenchCommand(flags: BenchFlags): number {
  const entry = benchEntry();
  if (entry === undefined) {
    process.stderr.write(kHowToRun);
    return kExitUsage;
  }
  const args = [entry, '--suite', flags.suite, ...(flags.quick ? ['--quick'] : []), ...(flags.report !== undefined ? ['--report', flags.report] : [])];
  const child = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (child.error !== undefined) {
    process.stderr.write(`vecforge bench: ${child.error.message}\n`);
    return kExitFatal;
  }
  return child.status ?? kExitFatal;
}
